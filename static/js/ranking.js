// A ranked poll's ballot: the page works with its numbered selects alone; this adds "up" and "down"
// buttons (and, with a mouse, dragging) that move a choice in the list, and then numbers every
// choice by its place, so that the list as shown is the ranking sent. The focus stays on the pressed button, and a status line says
// the new place for screen readers. Words come from data attributes rendered in the page's language.
(function () {
  "use strict";
  document.querySelectorAll("[data-ranking]").forEach(function (fieldset) {
    var list = fieldset.querySelector(".rank-list");
    var status = fieldset.querySelector("[data-rank-status]");
    var moved = fieldset.getAttribute("data-moved") || "";

    function items() {
      return Array.prototype.slice.call(list.querySelectorAll(".rank-item"));
    }

    // Show the choices in the order their numbers give (unranked ones after, as listed).
    function sortBySelects() {
      var ranked = items().map(function (item, index) {
        var value = Number(item.querySelector("select").value);
        return { item: item, key: value > 0 ? value : 1000 + index };
      });
      ranked.sort(function (a, b) { return a.key - b.key; });
      ranked.forEach(function (entry) { list.appendChild(entry.item); });
    }

    function numberByPlace() {
      items().forEach(function (item, index) {
        item.querySelector("select").value = String(index + 1);
      });
    }

    list.addEventListener("click", function (event) {
      var button = event.target.closest("[data-move]");
      if (!button) {
        return;
      }
      var item = button.closest(".rank-item");
      var step = Number(button.getAttribute("data-move"));
      var sibling = step < 0 ? item.previousElementSibling : item.nextElementSibling;
      if (sibling) {
        list.insertBefore(item, step < 0 ? sibling : sibling.nextElementSibling);
      }
      numberByPlace();
      button.focus();
      if (status) {
        var label = item.querySelector(".rank-label").textContent;
        var place = items().indexOf(item) + 1;
        status.textContent = moved.replace("{choice}", label).replace("{place}", String(place));
      }
    });

    // With a mouse, a choice can also be dragged to its place; the buttons stay for keyboards and
    // touch screens (which have no drag and drop of this kind).
    var dragged = null;
    items().forEach(function (item) {
      item.setAttribute("draggable", "true");
    });
    list.addEventListener("dragstart", function (event) {
      dragged = event.target.closest(".rank-item");
      if (dragged && event.dataTransfer) {
        event.dataTransfer.effectAllowed = "move";
        event.dataTransfer.setData("text/plain", dragged.getAttribute("data-choice-id"));
      }
    });
    list.addEventListener("dragover", function (event) {
      if (dragged) {
        event.preventDefault();
      }
    });
    list.addEventListener("drop", function (event) {
      var target = event.target.closest(".rank-item");
      event.preventDefault();
      if (dragged && target && target !== dragged) {
        var after = items().indexOf(target) > items().indexOf(dragged);
        list.insertBefore(dragged, after ? target.nextElementSibling : target);
        numberByPlace();
      }
      dragged = null;
    });

    sortBySelects();
  });
})();

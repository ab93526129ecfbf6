// Small enhancements; every page works without them. No inline scripts: the CSP allows only 'self'.
(function () {
  "use strict";

  // Times: the server writes them in the zone of the cookie "tz" (else its default). Tell it the
  // browser's zone for the next pages, and show this page's times in it already.
  var zone = window.Intl && Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (zone && /^[A-Za-z0-9_+\-\/]{1,64}$/.test(zone)) {
    if (document.cookie.split("; ").indexOf("tz=" + zone) === -1) {
      document.cookie = "tz=" + zone + "; path=/; max-age=31536000; SameSite=Lax" +
        (location.protocol === "https:" ? "; Secure" : "");
    }
    var pad = function (number) { return (number < 10 ? "0" : "") + number; };
    document.querySelectorAll("time[data-zone][data-format]").forEach(function (node) {
      var moment = new Date(node.getAttribute("datetime"));
      if (node.getAttribute("data-zone") === zone || isNaN(moment.getTime())) {
        return;
      }
      var text = moment.getFullYear() + "-" + pad(moment.getMonth() + 1) + "-" + pad(moment.getDate()) +
        " " + pad(moment.getHours()) + ":" + pad(moment.getMinutes());
      node.textContent = node.getAttribute("data-format").replace("{time}", text).replace("{zone}", zone);
      node.setAttribute("data-zone", zone);
    });
  }

  // After a refused form the focus starts on what went wrong, so a screen reader reads it first.
  var summary = document.querySelector("[data-error-summary]");
  if (summary) {
    summary.focus();
  }

  // Controls that need JavaScript (copy, add a choice, dismiss) stay hidden without it.
  document.querySelectorAll("[data-js-only]").forEach(function (node) {
    node.hidden = false;
  });

  // Copy the share link; the field stays selectable for browsers without the clipboard API.
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    var field = document.querySelector(button.getAttribute("data-copy"));
    var label = button.querySelector(".copy-text");
    if (!field || !label) {
      return;
    }
    var original = label.textContent;
    button.addEventListener("click", function () {
      field.select();
      var done = function () {
        label.textContent = button.getAttribute("data-copied");
        window.setTimeout(function () { label.textContent = original; }, 2000);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(done, function () {});
      } else if (document.execCommand && document.execCommand("copy")) {
        done();
      }
    });
  });

  // Dismiss a message.
  document.querySelectorAll("[data-dismiss]").forEach(function (button) {
    button.addEventListener("click", function () {
      button.parentNode.remove();
    });
  });

  // Ask before closing or deleting: the question is rendered, translated, into data-confirm.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) {
        event.preventDefault();
      }
    });
  });

  // A poll that allows several choices: once as many are ticked as it allows, the other boxes are
  // greyed out and a note says why (the server refuses more anyway).
  document.querySelectorAll("fieldset[data-max-choices]").forEach(function (fieldset) {
    var most = Number(fieldset.getAttribute("data-max-choices"));
    var boxes = fieldset.querySelectorAll('input[type="checkbox"]');
    var note = fieldset.querySelector("[data-limit-reached]");
    var update = function () {
      var ticked = fieldset.querySelectorAll('input[type="checkbox"]:checked').length;
      boxes.forEach(function (box) {
        box.disabled = ticked >= most && !box.checked;
      });
      if (note) {
        note.textContent = ticked >= most ? note.getAttribute("data-limit-reached") : "";
      }
    };
    fieldset.addEventListener("change", update);
    update();
  });

  // "More choices" submits the form for more boxes without JavaScript; here it appends one box at
  // once, up to the 20 a poll may have.
  var MAX_CHOICES = 20;
  document.querySelectorAll("[data-add-choice]").forEach(function (button) {
    var fieldset = button.closest("fieldset");
    var list = fieldset && fieldset.querySelector(".choice-inputs");
    if (!list) {
      return;
    }
    var labelText = fieldset.getAttribute("data-choice-label") || "{n}";
    button.addEventListener("click", function (event) {
      event.preventDefault();
      var number = list.children.length + 1;
      var item = list.lastElementChild.cloneNode(true);
      var label = item.querySelector("label");
      var input = item.querySelector("input");
      label.setAttribute("for", "choice" + number);
      label.textContent = labelText.replace("{n}", String(number));
      input.id = "choice" + number;
      input.value = "";
      input.removeAttribute("autofocus");
      list.appendChild(item);
      input.focus();
      button.hidden = list.children.length >= MAX_CHOICES;
    });
  });
})();

// Keeps a results page current: the server pushes the results over a WebSocket
// after every vote. Without JavaScript the page refreshes itself instead (noscript).
(function () {
  "use strict";
  var list = document.querySelector(".results[data-question-id]");
  if (!list) {
    return;
  }
  var questionId = list.getAttribute("data-question-id");
  var RESULTS_HIDDEN = 4403;
  var retryDelay = 1000;

  function unit(count) {
    return count === 1 ? "vote" : "votes";
  }

  function setText(parent, selector, text) {
    var node = parent.querySelector(selector);
    if (node) {
      node.textContent = text;
    }
  }

  function apply(results) {
    setText(document, ".results-total", String(results.total));
    setText(document, ".results-total-unit", unit(results.total));
    results.choices.forEach(function (choice) {
      var item = list.querySelector('.result[data-choice-id="' + choice.id + '"]');
      if (!item) {
        return;
      }
      setText(item, ".result-votes", String(choice.votes));
      setText(item, ".result-unit", unit(choice.votes));
      setText(item, ".result-percent", choice.percent.toFixed(1));
      var bar = item.querySelector(".result-bar");
      if (bar) {
        bar.value = choice.percent;
        bar.textContent = choice.percent.toFixed(1) + "%";
      }
    });
  }

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    var socket = new WebSocket(scheme + "//" + window.location.host + "/questions/" + questionId + "/live");
    socket.onmessage = function (event) {
      retryDelay = 1000;
      apply(JSON.parse(event.data));
    };
    socket.onclose = function (event) {
      if (event.code === RESULTS_HIDDEN || event.code === 1000) {
        return;
      }
      window.setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 30000);
    };
  }

  connect();
})();

// Keeps an open poll's results page current: the server pushes the results over a WebSocket after
// every vote, and the bars glide to their new length. Without JavaScript the page refreshes itself
// (noscript). A closed poll's page does not load this script: its results are final.
// Words come from data attributes the template rendered in the page's language.
// A page whose results wait for the presenter's reveal listens too, and comes again once they are out.
(function () {
  "use strict";
  var list = document.querySelector(".results[data-question-id]");
  var waiting = document.querySelector("[data-awaiting-reveal]");
  if (!list && !waiting) {
    return;
  }
  var questionId = (list || waiting).getAttribute(list ? "data-question-id" : "data-awaiting-reveal");
  var units = list ? { one: list.getAttribute("data-unit-one"), other: list.getAttribute("data-unit-other") } : {};
  var liveStatus = document.querySelector(".live-status");
  var NOT_VISIBLE = 4403;
  var retryDelay = 1000;
  var shownLive = false; // whether this page has shown results the server sent
  var leaving = false; // a navigation began (e.g. this page's own logout): let it finish
  var reduceMotion = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  function unit(count) {
    return count === 1 ? units.one : units.other;
  }

  function setText(parent, selector, text) {
    var node = parent.querySelector(selector);
    if (node && node.textContent !== text) {
      node.textContent = text;
      return true;
    }
    return false;
  }

  function showStatus(live) {
    if (!liveStatus) {
      return;
    }
    liveStatus.classList.toggle("is-offline", !live);
    setText(liveStatus, ".live-text", liveStatus.getAttribute(live ? "data-live" : "data-offline"));
  }

  // Ease a <progress> bar from its value to the new one over ~400 ms.
  function glide(bar, target) {
    var start = Number(bar.value) || 0;
    if (reduceMotion || Math.abs(target - start) < 0.05) {
      bar.value = target;
      return;
    }
    var began = null;
    function step(now) {
      if (began === null) {
        began = now;
      }
      var t = Math.min(1, (now - began) / 400);
      var eased = 1 - Math.pow(1 - t, 3);
      bar.value = start + (target - start) * eased;
      if (t < 1) {
        window.requestAnimationFrame(step);
      }
    }
    window.requestAnimationFrame(step);
  }

  // Ranked and score results (rounds, matrix, stars) are drawn by the server: after a change the
  // page is read again and its results part swapped in, so that there is one drawing of them.
  var refreshing = false;
  var refreshAgain = false;
  function refresh() {
    if (refreshing) {
      refreshAgain = true;
      return;
    }
    refreshing = true;
    window.fetch(window.location.href, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        var fresh = html && new DOMParser().parseFromString(html, "text/html").querySelector(".method-results");
        if (fresh) {
          list.innerHTML = fresh.innerHTML;
        }
      })
      .catch(function () {})
      .then(function () {
        refreshing = false;
        if (refreshAgain) {
          refreshAgain = false;
          refresh();
        }
      });
  }

  var totalNode = document.querySelector(".results-total");
  var renderedTotal = totalNode ? totalNode.textContent : "";

  function apply(results) {
    var changed = shownLive || String(results.total) !== renderedTotal;
    setText(document, ".results-total", String(results.total));
    setText(document, ".results-total-unit", unit(results.total));
    if (list.hasAttribute("data-refresh")) {
      if (changed) {
        refresh(); // the first message usually confirms what the page shows
      }
      return;
    }
    results.choices.forEach(function (choice) {
      var item = list.querySelector('.result[data-choice-id="' + choice.id + '"]');
      if (!item) {
        return;
      }
      var changed = setText(item, ".result-votes", String(choice.votes));
      setText(item, ".result-unit", unit(choice.votes));
      setText(item, ".result-percent", choice.percent.toFixed(1));
      item.classList.toggle("is-changed", changed);
      var bar = item.querySelector(".result-bar");
      if (bar) {
        bar.textContent = choice.percent.toFixed(1) + "%";
        glide(bar, choice.percent);
      }
    });
  }

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    var socket = new WebSocket(scheme + "//" + window.location.host + "/questions/" + questionId + "/live");
    socket.onopen = function () {
      showStatus(true);
    };
    socket.onmessage = function (event) {
      retryDelay = 1000;
      var results = JSON.parse(event.data);
      if (results.results_hidden) {
        return; // still waiting for the reveal
      }
      if (waiting) {
        // Revealed: the page comes again with the results, spread over a second so that a hall
        // of phones does not ask at the same instant.
        window.setTimeout(function () {
          window.location.reload();
        }, Math.random() * 1000);
        waiting = null;
        return;
      }
      apply(results);
      shownLive = true;
    };
    socket.onclose = function (event) {
      if (event.code === NOT_VISIBLE && shownLive && !leaving) {
        // What the page shows is no longer for this viewer (poll deleted, results hidden, signed
        // out): show what the server says now instead.
        window.location.reload();
        return;
      }
      if (event.code === NOT_VISIBLE || event.code === 1000) {
        if (liveStatus) {
          liveStatus.hidden = true;
        }
        return;
      }
      showStatus(false);
      window.setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 30000);
    };
  }

  window.addEventListener("beforeunload", function () {
    leaving = true;
  });

  // A poll that closes by itself: once it has, the page comes again to show its final results (spread
  // over a few seconds, so that a hall full of phones does not ask at once). The server renders no
  // live page for a closed poll, so this page stops listening then.
  var closesIn = Date.parse((list && list.getAttribute("data-closes-at")) || "") - Date.now();
  var LONGEST_TIMER = 2147483647; // setTimeout fires at once beyond this (~24 days)
  if (closesIn + 5000 < LONGEST_TIMER) {
    window.setTimeout(function () {
      window.location.reload();
    }, Math.max(0, closesIn) + 1000 + Math.random() * 4000);
  }

  connect();
})();

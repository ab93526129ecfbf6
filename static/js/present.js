// Presenter shortcuts: F full screen, R reveal the results, C close voting. The buttons work
// without this script (the forms post as they are); this only adds the keys and the full screen.
(function () {
  "use strict";
  var fullscreen = document.querySelector("[data-fullscreen]");

  function toggleFullscreen() {
    if (document.fullscreenElement) {
      document.exitFullscreen();
    } else if (document.documentElement.requestFullscreen) {
      document.documentElement.requestFullscreen();
    }
  }

  if (fullscreen) {
    fullscreen.addEventListener("click", toggleFullscreen);
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) {
      return;
    }
    var target = event.target;
    if (target && /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName)) {
      return;
    }
    var key = event.key.toLowerCase();
    if (key === "f") {
      event.preventDefault();
      toggleFullscreen();
      return;
    }
    var button = document.querySelector('button[data-key="' + key + '"]');
    if (button && button.form) {
      event.preventDefault();
      // requestSubmit fires the submit event, so closing still asks first (app.js, data-confirm).
      if (button.form.requestSubmit) {
        button.form.requestSubmit(button);
      } else {
        button.click();
      }
    }
  });
})();

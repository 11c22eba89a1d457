// Conveniences only: every page works without this script.
(function () {
  "use strict";
  // Times in the viewer's own time zone.
  document.querySelectorAll("time[datetime]").forEach(function (t) {
    var d = new Date(t.getAttribute("datetime"));
    if (!isNaN(d)) {
      t.title = t.textContent;
      t.textContent = d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
    }
  });
  // "Select all" boxes tick the boxes of their form.
  document.querySelectorAll(".js-select-all").forEach(function (all) {
    all.hidden = false;
    all.addEventListener("change", function () {
      all.form.querySelectorAll('input[type=checkbox][name=ids]').forEach(function (box) {
        box.checked = all.checked;
      });
    });
  });
  // Buttons that ask first.
  document.querySelectorAll("[data-confirm]").forEach(function (b) {
    b.addEventListener("click", function (e) {
      if (!window.confirm(b.getAttribute("data-confirm"))) { e.preventDefault(); }
    });
  });
})();

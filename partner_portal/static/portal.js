/* Espace Partenaires portal: progressive enhancement only — every action works without it. */
(function () {
  "use strict";
  document.documentElement.classList.add("ep-js");

  document.addEventListener("click", function (event) {
    var opener = event.target.closest("[data-dialog]");
    if (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-dialog"));
      if (dialog && typeof dialog.showModal === "function") {
        event.preventDefault();
        dialog.showModal();
        var first = dialog.querySelector("textarea, button");
        if (first) { first.focus(); }
      }
      return;
    }
    var closer = event.target.closest("[data-close]");
    if (closer) {
      var parent = closer.closest("dialog");
      if (parent) { parent.close(); }
    }
  });

  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-autosubmit]")) {
      event.target.form.submit();
    }
  });

  function capitalize(value) {
    return value.toLowerCase().replace(/(^|[\s\-'’])(\p{L})/gu, function (m, sep, ch) { return sep + ch.toUpperCase(); });
  }

  document.addEventListener("input", function (event) {
    var el = event.target;
    if (el.dataset.case === "upper") { el.value = el.value.toUpperCase(); }
    if (el.dataset.case === "capitalize") { el.value = capitalize(el.value); }
    if (el.dataset.mask === "phone") {
      var digits = el.value.replace(/\D/g, "").slice(0, 10);
      el.value = (digits.match(/.{1,2}/g) || []).join(".");
    }
    if (el.dataset.counter) {
      var counter = document.getElementById(el.dataset.counter);
      if (counter) { counter.textContent = el.value.length + "/" + el.maxLength; }
    }
  });
})();

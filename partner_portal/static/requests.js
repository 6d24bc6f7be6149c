/* Request pages: drop zone, file list with preview and remove, live counters, show/hide of the
   R-REQ-6 blocks, the history's motive list following the offer. Progressive enhancement only:
   without it every form still works and the server checks everything again. */
(function () {
  "use strict";

  function humanSize(size) {
    if (size < 1024) { return size + " o"; }
    if (size < 1024 * 1024) { return Math.round(size / 1024) + " Ko"; }
    return (size / (1024 * 1024)).toFixed(1).replace(".", ",") + " Mo";
  }

  function extensionOf(name) {
    var dot = name.lastIndexOf(".");
    return dot < 0 ? "" : name.slice(dot).toLowerCase();
  }

  var PREVIEWABLE = [".pdf", ".png", ".jpg", ".jpeg"];

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (text) { node.textContent = text; }
    return node;
  }

  /* --- attachments (R-REQ-3) ---------------------------------------------------------------- */

  function enhanceAttachments(box) {
    var input = box.querySelector("input[type=file]");
    if (!input || typeof DataTransfer === "undefined") { return; }
    try { new DataTransfer(); } catch (e) { return; }
    var limit = parseInt(box.getAttribute("data-limit"), 10) || 0;
    var maxSize = parseInt(box.getAttribute("data-max-size"), 10) || 5242880;
    var accepted = (box.getAttribute("data-accept") || "").split(",").filter(Boolean);
    var zone = box.querySelector("[data-dropzone]");
    var list = box.querySelector("[data-file-list]");
    var counter = box.querySelector("[data-file-counter]");
    var empty = box.querySelector("[data-file-empty]");
    var errors = box.querySelector("[data-file-errors]");
    var pending = [];
    box.classList.add("ep-enhanced");

    function stagedCount() { return box.querySelectorAll("[data-staged]").length; }

    function say(messages) {
      errors.textContent = "";
      messages.forEach(function (message) { errors.appendChild(el("p", { "class": "ep-error" }, message)); });
    }

    function sync() {
      var transfer = new DataTransfer();
      pending.forEach(function (item) { transfer.items.add(item.file); });
      input.files = transfer.files;
      Array.prototype.forEach.call(list.querySelectorAll("[data-pending]"), function (li) { li.remove(); });
      pending.forEach(function (item, index) {
        var li = el("li", { "class": "ep-file", "data-pending": "" });
        li.appendChild(el("span", { "class": "ep-file-name" }, item.file.name));
        li.appendChild(el("span", { "class": "ep-file-size" }, humanSize(item.file.size)));
        var preview = el("a", { "href": item.url, "target": "_blank", "rel": "noopener", "class": "ep-file-action" }, "Aperçu");
        if (PREVIEWABLE.indexOf(extensionOf(item.file.name)) < 0) { preview.setAttribute("download", item.file.name); }
        preview.appendChild(el("span", { "class": "ep-sr" }, " " + item.file.name));
        li.appendChild(preview);
        var remove = el("button", { "type": "button", "class": "ep-file-action" }, "Supprimer");
        remove.appendChild(el("span", { "class": "ep-sr" }, " " + item.file.name));
        remove.addEventListener("click", function () {
          URL.revokeObjectURL(pending[index].url);
          pending.splice(index, 1);
          sync();
          say([]);
          input.focus();
        });
        li.appendChild(remove);
        list.appendChild(li);
      });
      var total = stagedCount() + pending.length;
      if (counter) { counter.textContent = total + "/" + limit; }
      if (empty) { empty.hidden = total > 0; }
      if (zone) { zone.classList.toggle("ep-full", total >= limit); }
    }

    function add(files) {
      var messages = [];
      Array.prototype.forEach.call(files, function (file) {
        var name = file.name;
        if (accepted.length && accepted.indexOf(extensionOf(name)) < 0) {
          messages.push("Le fichier « " + name + " » est refusé : seuls les formats pdf, word (.doc, .docx), excel (.xls, .xlsx, .csv), tiff, png, jpeg sont acceptés.");
        } else if (file.size === 0) {
          messages.push("Le fichier « " + name + " » est refusé : le fichier est vide.");
        } else if (file.size > maxSize) {
          messages.push("Le fichier « " + name + " » est refusé : la taille d'une pièce jointe est limitée à 5 Mo.");
        } else if (pending.some(function (p) { return p.file.name === name && p.file.size === file.size; })) {
          messages.push("Le fichier « " + name + " » est déjà dans la liste.");
        } else if (stagedCount() + pending.length >= limit) {
          messages.push("Le fichier « " + name + " » n'a pas été ajouté : " + limit + " pièce" + (limit > 1 ? "s jointes" : " jointe") + " maximum.");
        } else {
          pending.push({ file: file, url: URL.createObjectURL(file) });
        }
      });
      sync();
      say(messages);
    }

    input.addEventListener("change", function () {
      var chosen = Array.prototype.slice.call(input.files);
      add(chosen);
    });
    if (zone) {
      ["dragenter", "dragover"].forEach(function (type) {
        zone.addEventListener(type, function (event) { event.preventDefault(); zone.classList.add("ep-over"); });
      });
      ["dragleave", "drop"].forEach(function (type) {
        zone.addEventListener(type, function () { zone.classList.remove("ep-over"); });
      });
      zone.addEventListener("drop", function (event) {
        event.preventDefault();
        if (event.dataTransfer && event.dataTransfer.files) { add(event.dataTransfer.files); }
      });
    }
    sync();
  }

  /* --- R-REQ-6: the 'Saisine' blocks follow the motive, the 'Renoncement' ones the answers ----- */

  function enhanceSaisine(form) {
    var select = form.querySelector("[data-motive-select]");
    var block = form.querySelector("[data-saisine-block]");
    var follow = form.querySelector("[data-renunciation-block]");
    function update() {
      if (block && select) {
        var option = select.options[select.selectedIndex];
        block.hidden = !(option && option.hasAttribute("data-saisine"));
      }
      if (follow) {
        follow.hidden = !form.querySelector("[data-renunciation]:checked");
      }
    }
    form.addEventListener("change", update);
    update();
  }

  /* --- history: the motive list follows the chosen offer ------------------------------------- */

  function enhanceMotiveFilter(offer, motive) {
    var placeholder = motive.options[0].cloneNode(true);
    var groups = Array.prototype.map.call(motive.querySelectorAll("optgroup"), function (group) {
      return group.cloneNode(true);
    });
    function update() {
      var current = motive.value;
      motive.textContent = "";
      motive.appendChild(placeholder.cloneNode(true));
      groups.forEach(function (group) {
        if (!offer.value) {
          motive.appendChild(group.cloneNode(true));
        } else if (group.getAttribute("data-offer") === offer.value) {
          Array.prototype.forEach.call(group.querySelectorAll("option"), function (option) {
            motive.appendChild(option.cloneNode(true));
          });
        }
      });
      motive.value = current;
      if (motive.value !== current) { motive.value = ""; }
    }
    offer.addEventListener("change", update);
    update();
  }

  document.addEventListener("click", function (event) {
    var closer = event.target.closest("a[data-close]");
    if (closer && closer.closest("dialog")) { event.preventDefault(); }
  });

  Array.prototype.forEach.call(document.querySelectorAll("[data-attachments]"), enhanceAttachments);
  Array.prototype.forEach.call(document.querySelectorAll("[data-request-form]"), enhanceSaisine);
  var offer = document.querySelector("[data-offer-select]");
  var motive = document.querySelector("[data-motive-filter]");
  if (offer && motive) { enhanceMotiveFilter(offer, motive); }
})();

/* The back office's own script (admin/ep_base.html), loaded with the page's CSP nonce after
   Flask-Admin's jQuery, Bootstrap and select2, before the page's form and filter scripts.

   - select2, moment and the date pickers speak French;
   - Flask-Admin's list filters: after « Ajouter un filtre » the focus goes to the new filter's value
     field, and every filter control has an accessible name (its filter's name);
   - select2's "remove" crosses of a multiple choice get an accessible name;
   - a "javascript:" link (Flask-Admin's toggles) never navigates: the CSP would refuse it;
   - a row's delete button asks for confirmation;
   - a file field (Bootstrap's custom-file) shows the names of the files chosen. */
(function () {
  'use strict';

  document.addEventListener('change', function (event) {
    var input = event.target;
    if (!input.classList || !input.classList.contains('custom-file-input')) { return; }
    var label = input.parentNode.querySelector('.custom-file-label');
    if (!label) { return; }
    if (!label.dataset.empty) { label.dataset.empty = label.textContent; }
    var names = Array.prototype.map.call(input.files || [], function (file) { return file.name; });
    label.textContent = names.length ? names.join(', ') : label.dataset.empty;
  });

  if (window.jQuery && jQuery.fn.select2 && jQuery.fn.select2.defaults) {
    jQuery.extend(jQuery.fn.select2.defaults, {
      formatNoMatches: function () { return 'Aucun résultat'; },
      formatInputTooShort: function (input, min) {
        var n = min - input.length;
        return 'Saisissez encore ' + n + ' caractère' + (n > 1 ? 's' : '');
      },
      formatInputTooLong: function (input, max) {
        var n = input.length - max;
        return 'Supprimez ' + n + ' caractère' + (n > 1 ? 's' : '');
      },
      formatSelectionTooBig: function (limit) {
        return 'Vous ne pouvez choisir que ' + limit + ' élément' + (limit > 1 ? 's' : '');
      },
      formatLoadMore: function () { return 'Chargement…'; },
      formatSearching: function () { return 'Recherche…'; }
    });
  }

  /* Dates: moment in French (month and day names, weeks from Monday), and the date pickers' labels,
     which daterangepicker.js hard-codes in English. That script is loaded after this one, by the
     pages with a date: its plugin is wrapped as it is defined. */
  var MONTHS = ['janvier', 'février', 'mars', 'avril', 'mai', 'juin', 'juillet', 'août', 'septembre',
    'octobre', 'novembre', 'décembre'];
  var MONTHS_SHORT = ['janv.', 'févr.', 'mars', 'avr.', 'mai', 'juin', 'juil.', 'août', 'sept.', 'oct.',
    'nov.', 'déc.'];
  var DAYS_MIN = ['di', 'lu', 'ma', 'me', 'je', 've', 'sa'];
  if (window.moment && moment.defineLocale && !moment.locales().includes('fr')) {
    moment.defineLocale('fr', {
      months: MONTHS,
      monthsShort: MONTHS_SHORT,
      weekdays: ['dimanche', 'lundi', 'mardi', 'mercredi', 'jeudi', 'vendredi', 'samedi'],
      weekdaysShort: ['dim.', 'lun.', 'mar.', 'mer.', 'jeu.', 'ven.', 'sam.'],
      weekdaysMin: DAYS_MIN,
      week: { dow: 1, doy: 4 }
    });
  }
  if (window.moment) { moment.locale('fr'); }
  var PICKER_LOCALE = {
    applyLabel: 'Appliquer', cancelLabel: 'Annuler', fromLabel: 'Du', toLabel: 'Au', weekLabel: 'S',
    customRangeLabel: 'Autre période', daysOfWeek: DAYS_MIN, monthNames: MONTHS_SHORT, firstDay: 1
  };
  if (window.jQuery) {
    var picker;
    Object.defineProperty(jQuery.fn, 'daterangepicker', {
      configurable: true,
      get: function () { return picker; },
      set: function (plugin) {
        picker = function (options, callback) {
          var french = jQuery.extend(true, { locale: PICKER_LOCALE }, options || {});
          return plugin.call(this, french, callback);
        };
      }
    });
  }

  function filterName(row) {
    var link = row.querySelector('.remove-filter');
    return link ? link.textContent.replace(/\u00d7/g, '').trim() : '';
  }

  function labelFilterRow(row) {
    var name = filterName(row);
    if (!name) { return; }
    var remove = row.querySelector('.remove-filter');
    remove.setAttribute('aria-label', 'Retirer le filtre « ' + name + ' »');
    remove.setAttribute('role', 'button');
    row.querySelectorAll('td').forEach(function (cell) {
      var isOperation = !!cell.querySelector('select.filter-op');
      if (!isOperation && !cell.querySelector('.filter-val')) { return; }
      var label = (isOperation ? 'Condition' : 'Valeur') + ' du filtre « ' + name + ' »';
      /* the field itself, or select2's focusable stand-in (its box shows the chosen value) */
      cell.querySelectorAll('select, input:not([type=hidden]), .select2-focusser, .select2-input').forEach(function (field) {
        field.setAttribute('aria-label', label);
      });
    });
  }

  function labelSelect2Crosses(root) {
    root.querySelectorAll('.select2-search-choice').forEach(function (choice) {
      var cross = choice.querySelector('.select2-search-choice-close');
      if (cross && !cross.getAttribute('aria-label')) {
        cross.setAttribute('aria-label', 'Retirer « ' + choice.textContent.trim() + ' »');
        cross.setAttribute('role', 'button');
      }
    });
  }

  /* The value field of a filter row: its select2's focusable part when it has one. */
  function focusFilterValue(row) {
    var cell = row.querySelector('td:last-child');
    if (!cell) { return; }
    var target = cell.querySelector('.select2-focusser, .select2-input, input.filter-val:not([type=hidden]), select.filter-val');
    if (target) { target.focus(); }
  }

  function labelAll() {
    document.querySelectorAll('#filter_form .filters tr').forEach(labelFilterRow);
    labelSelect2Crosses(document);
  }

  document.addEventListener('DOMContentLoaded', function () {
    labelAll();
    new MutationObserver(labelAll).observe(document.body, { childList: true, subtree: true });
  });

  /* Flask-Admin's toggles are links to "javascript:void(0)": followed, that URL is a script the
     CSP refuses (and reports). They are buttons: their click never navigates. */
  document.addEventListener('click', function (event) {
    var link = event.target.closest && event.target.closest('a[href^="javascript:"]');
    if (link) { event.preventDefault(); }
  }, true);

  /* A row's delete button asks first (admin/model/row_actions.html; Flask-Admin's inline onclick
     would break the CSP). */
  document.addEventListener('submit', function (event) {
    var button = event.submitter || (event.target.querySelector && event.target.querySelector('[data-ep-confirm]'));
    var question = button && button.getAttribute && button.getAttribute('data-ep-confirm');
    if (question && !window.confirm(question)) { event.preventDefault(); }
  });

  /* Flask-Admin's own handler (bound on the menu item) adds the row first; this one, on the
     document, runs after it. */
  document.addEventListener('click', function (event) {
    var item = event.target.closest && event.target.closest('.field-filters a.filter');
    if (!item) { return; }
    event.preventDefault();
    window.setTimeout(function () {
      var rows = document.querySelectorAll('#filter_form .filters tr');
      if (rows.length) {
        labelFilterRow(rows[rows.length - 1]);
        focusFilterValue(rows[rows.length - 1]);
      }
    }, 0);
  });
})();

/* « Tableau de bord » (admin/dashboard.html): draws each <canvas data-chart="…"> with Chart.js
   (static/vendor/chart.js, loaded just before with the page's CSP nonce). The data attribute is
   built on the server from the table next to the canvas (services/dashboard/tables.py), so the
   chart and its table always agree. No inline script, no inline handler: the strict CSP holds. */
(function () {
  'use strict';
  if (!window.Chart) { return; }
  // Colours with enough contrast against white (WCAG 1.4.11), told apart by the legend too.
  var PALETTE = ['#1f5fa8', '#c2410c', '#15803d', '#7e22ce', '#b91c1c', '#0f766e', '#a16207', '#475569'];
  var number = new Intl.NumberFormat('fr-FR', { maximumFractionDigits: 1 });

  document.querySelectorAll('canvas[data-chart]').forEach(function (canvas) {
    var spec = JSON.parse(canvas.getAttribute('data-chart'));
    var stacked = spec.type === 'stacked';
    var type = stacked ? 'bar' : spec.type;
    spec.datasets.forEach(function (dataset, i) {
      dataset.backgroundColor = type === 'doughnut' ? PALETTE.slice(0, dataset.data.length) : PALETTE[i % PALETTE.length];
    });
    var options = {
      locale: 'fr-FR',
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      plugins: {
        legend: { position: 'bottom', display: type === 'doughnut' || spec.datasets.length > 1 },
        tooltip: { callbacks: { label: function (item) {
          return (item.dataset.label || '') + ' : ' + number.format(item.raw);
        } } }
      }
    };
    if (type !== 'doughnut') {
      options.scales = {
        x: { stacked: stacked },
        y: { stacked: stacked, beginAtZero: true, ticks: { precision: 0, callback: function (v) { return number.format(v); } } }
      };
    }
    new window.Chart(canvas, { type: type, data: { labels: spec.labels, datasets: spec.datasets }, options: options });
  });
}());

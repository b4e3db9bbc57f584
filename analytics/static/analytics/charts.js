/* Draws every <canvas data-chart="id"> from the JSON in <script id="id"> (analytics/charts.py).
   Chart.js itself is served locally from npm (/static/vendor/chart.js). */
(function () {
  "use strict";
  var PALETTE = ["#5b4bff", "#e0565b", "#f0a830", "#2fb380", "#3a9bdc", "#a259d9", "#8a8fa8", "#d96fa5", "#4dbfbf", "#b58d3d"];

  function colour(i, alpha) {
    var hex = PALETTE[i % PALETTE.length];
    if (alpha === undefined) return hex;
    var n = parseInt(hex.slice(1), 16);
    return "rgba(" + (n >> 16) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + alpha + ")";
  }

  // The page's language, not the browser's: on a German browser the axes read "12.000" beside the
  // page's 12,345. Ticks and tooltips format their numbers in it (Intl.NumberFormat groups
  // thousands with a comma in en and zh-Hans alike, as the tables do: csbot/formats).
  var LOCALE = document.documentElement.lang || undefined;

  function number(value) {
    return new Intl.NumberFormat(LOCALE, { maximumFractionDigits: 2 }).format(value);
  }

  // The first `size` characters and "…" when there are more: a cut with no mark read as the
  // whole question. By code point, so that a character outside the BMP is never split.
  function clip(text, size) {
    var chars = Array.from(String(text));
    return chars.length > size ? chars.slice(0, size).join("") + "…" : String(text);
  }

  // `text` cut, with "…", to what `width` pixels of `font` hold. On a phone a bar chart's label
  // axis takes at most about half the chart, and Chart.js cuts whatever is wider at the
  // canvas's edge, without a mark: "sh on android 12 after update".
  function fit(ctx, font, text, width) {
    ctx.save();
    ctx.font = font;
    var chars = Array.from(text);
    var cut = chars.length;
    while (cut > 1 && ctx.measureText(cut < chars.length ? chars.slice(0, cut).join("") + "…" : text).width > width) cut--;
    ctx.restore();
    return cut < chars.length ? chars.slice(0, cut).join("") + "…" : text;
  }

  function build(spec) {
    var opts = spec.options || {};
    var round = spec.type === "doughnut" || spec.type === "pie";
    var datasets = spec.datasets.map(function (ds, i) {
      var kind = ds.type || spec.type;
      var out = Object.assign({}, ds);
      if (round) {
        out.backgroundColor = ds.data.map(function (_v, j) { return colour(j); });
      } else {
        out.borderColor = colour(i);
        out.backgroundColor = kind === "line" ? colour(i, 0.15) : colour(i, 0.8);
        // A bucket with no value (a rate or an average of no chats) is a gap, not a straight
        // line drawn over the quiet hours as if they had been measured; counts are 0, not null.
        out.spanGaps = false;
        out.pointRadius = ds.data.length > 60 ? 0 : 2;
        if (ds.showLine === false) {
          // Points alone are the values themselves: large, solid and drawn over the bars, where a
          // line's pale fill left them hidden inside them.
          out.pointRadius = 6;
          out.pointBackgroundColor = colour(i);
          out.order = -1;
        }
        // Monotone: a curve through the points that never swings past them, where a plain
        // tension drew peaks and dips (a sentiment below its lowest hour) no hour had.
        out.cubicInterpolationMode = "monotone";
      }
      return out;
    });
    var options = {
      locale: LOCALE,
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      interaction: { mode: "index", intersect: false },
      plugins: { legend: { position: "bottom" } }
    };
    if (!round) {
      var valueAxis = opts.horizontal ? "x" : "y";
      options.indexAxis = opts.horizontal ? "y" : "x";
      options.scales = { x: { stacked: !!opts.stacked }, y: { stacked: !!opts.stacked } };
      options.scales[valueAxis].beginAtZero = true;
      // Chart.js splits a small range into tenths: "0.5 alerts", "0.1 ratings" mean nothing.
      if (opts.counts) options.scales[valueAxis].ticks = { precision: 0 };
      // A sentiment's whole scale: fitted to the data, an average of -0.05 to -0.2 filled
      // the chart and read as a collapse.
      if (opts.polarity) {
        options.scales[valueAxis].beginAtZero = false;
        options.scales[valueAxis].min = -1;
        options.scales[valueAxis].max = 1;
        // Steps of 0.5, so that 0, the neutral line, is a tick: in steps of 0.4 it was not.
        options.scales[valueAxis].ticks = { stepSize: 0.5 };
      }
      // A CSAT of 4.1 on an axis ending at 4.5 read as nearly the best; its scale ends at 5.
      if (opts.top !== undefined) options.scales[valueAxis].max = opts.top;
      if (opts.percent) {
        options.scales[valueAxis].suggestedMax = 100;
        options.scales[valueAxis].ticks = { callback: function (v) { return number(v) + "%"; } };
        // The tooltip said "Handoff rate: 38.5", without the unit its axis has.
        options.plugins.tooltip = {
          callbacks: {
            label: function (item) {
              var value = opts.horizontal ? item.parsed.x : item.parsed.y;
              return item.dataset.label + ": " + number(value) + "%";
            }
          }
        };
      }
      if (opts.y2) {
        options.scales.y2 = { position: "right", beginAtZero: true, grid: { drawOnChartArea: false }, title: { display: true, text: opts.y2 } };
        // Its title said "(%)" and its ticks 10, 20, 30, beside a sentiment axis of plain numbers.
        if (opts.y2percent) options.scales.y2.ticks = { callback: function (v) { return number(v) + "%"; } };
      }
      // The labels come in full and are cut on the axis only: the tooltip's title, the label
      // itself, shows the whole text.
      if (opts.clip) {
        var labelAxis = opts.horizontal ? "y" : "x";
        options.scales[labelAxis].ticks = {
          callback: function (value) {
            var label = clip(this.getLabelForValue(value), opts.clip);
            if (!opts.horizontal) return label;
            // Two fifths of the chart's width, the rest for the bars (and the axis's padding).
            return fit(this.ctx, Chart.helpers.toFont(this.options.ticks.font).string, label, this.chart.width * 0.4);
          }
        };
      }
    }
    return { type: spec.type, data: { labels: spec.labels, datasets: datasets }, options: options };
  }

  // Nothing to plot: no value at all, or only zeros where a zero is a count of nothing (a rate
  // or a sentiment of 0 is a value). Blank axes alone read as a broken chart.
  function isEmpty(spec) {
    var opts = spec.options || {};
    var zeroIsNothing = opts.counts || spec.type === "doughnut" || spec.type === "pie";
    return spec.datasets.every(function (ds) {
      return ds.data.every(function (v) { return v === null || (zeroIsNothing && v === 0); });
    });
  }

  function showEmpty(canvas, spec) {
    var box = canvas.parentNode;
    var note = box.querySelector(".an-chart-empty");
    if (note) note.remove();
    if (!isEmpty(spec) || !(spec.options || {}).empty) return;
    note = document.createElement("p");
    note.className = "an-chart-empty";
    note.textContent = spec.options.empty;
    box.appendChild(note);
  }

  function drawAll() {
    if (typeof Chart === "undefined") return;
    window.csbotCharts = window.csbotCharts || {};
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var source = document.getElementById(canvas.dataset.chart);
      if (!source) return;
      var existing = Chart.getChart(canvas);
      if (existing) existing.destroy();
      var spec = JSON.parse(source.textContent);
      window.csbotCharts[canvas.dataset.chart] = new Chart(canvas, build(spec));
      showEmpty(canvas, spec);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", drawAll);
  else drawAll();
})();

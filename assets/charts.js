// Charts: draws every [data-chart] element from the JSON spec in the <script type="application/json">
// whose id is in data-chart (templates/_charts.html). The page works without it: each chart sits
// next to a table with the same data, which is the accessible view. Built by `make assets` into
// static/build/charts.js (esbuild, tree-shaken ECharts); nothing here is fetched from other hosts.
//
// Specs (generic JSON produced by Python; "title" is shown by the macro as the figure caption):
//   {"type": "bar", "categories": [...], "series": [{"name": ..., "data": [...]}, ...],
//    "horizontal": true, "max": 5, "levelLabels": {"1": "五级/初级工", ...},
//    "levelShort": {"1": "五级", ...}}                      (all but categories/series optional)
//    Without levelLabels/max the value axis is a count scale; "percent": true makes it 0–100 %.
//   {"type": "heatmap", "x": [...], "y": [...], "data": [[xi, yi, value], ...],
//    "min": 0, "max": 1, "valueLabel": "...", "percent": true, "tone": "warning"}  (optional)
// To add a type, add one function to BUILDERS: (spec, ctx) -> ECharts option; it is called
// again on resize, with ctx = {width, theme, label}.
import { init, use } from "echarts/core";
import { BarChart, HeatmapChart } from "echarts/charts";
import {
  AriaComponent,
  GridComponent,
  LegendPlainComponent,
  TooltipComponent,
  VisualMapContinuousComponent,
} from "echarts/components";
import { SVGRenderer } from "echarts/renderers";

use([
  BarChart,
  HeatmapChart,
  GridComponent,
  TooltipComponent,
  LegendPlainComponent,
  VisualMapContinuousComponent,
  AriaComponent,
  SVGRenderer,
]);

var FALLBACK = {
  primary: "#0b3d91",
  primaryLight: "#5b86c5",
  amber: "#8a5a00",
  text: "#1a1f2b",
  muted: "#5b6473",
  line: "#d5dae3",
};
var COLON = /^zh/i.test(document.documentElement.lang) ? "：" : ": ";
var FONT = '"PingFang SC", "Noto Sans SC", "Noto Sans CJK SC", "Microsoft YaHei", system-ui, sans-serif';

function cssVar(style, name, fallback) {
  var value = style.getPropertyValue(name).trim();
  return value || fallback;
}

// Colours and font come from static/css/app.css (custom properties on :root), so the charts
// follow the site's palette; the fallbacks are the same values.
function theme(el) {
  var root = getComputedStyle(document.documentElement);
  return {
    primary: cssVar(root, "--primary", FALLBACK.primary),
    primaryLight: cssVar(root, "--chart-2", FALLBACK.primaryLight),
    amber: cssVar(root, "--chart-warning", cssVar(root, "--amber", FALLBACK.amber)),
    text: cssVar(root, "--text", FALLBACK.text),
    muted: cssVar(root, "--muted", FALLBACK.muted),
    line: cssVar(root, "--line", FALLBACK.line),
    font: getComputedStyle(el).fontFamily || FONT,
  };
}

// Tooltips are built as DOM nodes with textContent: no HTML from data, and no style attributes
// (which the CSP forbids); colours are set through the CSSOM, which it allows.
function tooltip(title, lines) {
  var box = document.createElement("div");
  var head = document.createElement("strong");
  head.textContent = title;
  box.appendChild(head);
  lines.forEach(function (line) {
    var row = document.createElement("div");
    if (line.color) {
      var key = document.createElement("span");
      key.className = "chart-key";
      key.style.backgroundColor = line.color;
      row.appendChild(key);
    }
    row.appendChild(document.createTextNode(line.text));
    box.appendChild(row);
  });
  return box;
}

// "#0b3d91" -> [11, 61, 145]; null for anything else (then label colours fall back to a threshold).
function rgb(hex) {
  var m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  return m ? [parseInt(m[1], 16), parseInt(m[2], 16), parseInt(m[3], 16)] : null;
}

// Relative luminance (WCAG) of the colour a fraction t of the way from white to `to`, which is
// how the visual map interpolates.
function luminance(to, t) {
  var sum = 0;
  var weights = [0.2126, 0.7152, 0.0722];
  for (var i = 0; i < 3; i++) {
    var c = (255 + (to[i] - 255) * t) / 255;
    sum += weights[i] * (c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4));
  }
  return sum;
}

function reducedMotion() {
  return !!(window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches);
}

// Options every chart shares: font, colours, touch-friendly tooltip kept inside the container.
function base(spec, ctx) {
  return {
    animation: !reducedMotion(),
    textStyle: { fontFamily: ctx.theme.font, color: ctx.theme.text },
    color: [ctx.theme.primary, ctx.theme.primaryLight, ctx.theme.amber, ctx.theme.muted],
    aria: { enabled: true, label: { description: ctx.label || spec.title || "" } },
    tooltip: {
      confine: true,
      textStyle: { fontFamily: ctx.theme.font, color: ctx.theme.text },
      borderColor: ctx.theme.line,
    },
  };
}

function extend(target, source) {
  for (var key in source) target[key] = source[key];
  return target;
}

// Horizontal (or vertical) bars of levels: the value axis runs 0..max with one tick per level,
// labelled with levelLabels (e.g. "五级/初级工") when given; the tooltip shows the label too.
function barOption(spec, ctx) {
  var horizontal = spec.horizontal !== false;
  var labels = spec.levelLabels || {};
  var max = spec.max != null ? spec.max : undefined;
  var levelName = function (v) {
    var name = labels[String(v)];
    return name ? name : String(v);
  };
  var slots = max != null ? max + 1 : 6;
  var narrow = ctx.width < 480;
  // Phones: the short level name (levelShort, else the part before "/": "五级/初级工" -> "五级").
  var tickName = function (v) {
    if (!narrow) return levelName(v);
    var short = (spec.levelShort || {})[String(v)];
    return short ? short : levelName(v).split("/")[0];
  };
  var categoryWidth = Math.round(Math.min(160, ctx.width * (narrow ? 0.28 : 0.22)));
  // Levels (levelLabels or max given): one tick per level. Counts and percentages: a scale.
  var levels = spec.levelLabels != null || (spec.max != null && !spec.percent);
  var valueText = function (v) {
    if (levels) return levelName(v);
    return spec.percent ? v + "%" : Number(v).toLocaleString(document.documentElement.lang || undefined);
  };
  var valueAxis = levels
    ? {
        type: "value",
        min: 0,
        max: max,
        interval: 1,
        minInterval: 1,
        splitLine: { lineStyle: { color: ctx.theme.line } },
        axisLabel: {
          color: ctx.theme.muted,
          formatter: tickName,
          // Level names wrap rather than overlap.
          width: Math.max(28, Math.floor(((horizontal ? ctx.width - categoryWidth : ctx.width) - 40) / slots)),
          overflow: "break",
          interval: 0,
          lineHeight: 14,
        },
      }
    : {
        type: "value",
        min: 0,
        max: spec.percent ? 100 : undefined,
        minInterval: 1,
        splitNumber: narrow ? 3 : 5,
        splitLine: { lineStyle: { color: ctx.theme.line } },
        axisLabel: { color: ctx.theme.muted, formatter: valueText, hideOverlap: true },
      };
  var categoryAxis = {
    type: "category",
    data: spec.categories,
    inverse: horizontal, // first category on top, like the table
    axisTick: { show: false },
    axisLine: { lineStyle: { color: ctx.theme.line } },
    axisLabel: {
      color: ctx.theme.text,
      interval: horizontal ? 0 : "auto",
      width: horizontal ? categoryWidth : Math.max(40, Math.floor((ctx.width - 60) / Math.max(1, spec.categories.length))),
      overflow: "break",
      lineHeight: 16,
    },
  };
  var legend = spec.series.length > 1;
  return extend(base(spec, ctx), {
    legend: { show: legend, top: 0, left: "center", textStyle: { color: ctx.theme.text }, itemGap: 16 },
    grid: { top: legend ? 36 : 12, left: 8, right: 16, bottom: 8 },
    xAxis: horizontal ? valueAxis : categoryAxis,
    yAxis: horizontal ? categoryAxis : valueAxis,
    tooltip: extend(base(spec, ctx).tooltip, {
      trigger: "axis",
      axisPointer: { type: "shadow" },
      formatter: function (items) {
        if (!items.length) return "";
        return tooltip(items[0].name, items.map(function (item) {
          return { color: item.color, text: item.seriesName + COLON + valueText(item.value) };
        }));
      },
    }),
    series: spec.series.map(function (s) {
      return {
        type: "bar",
        name: s.name,
        data: s.data,
        barMaxWidth: 18,
        barGap: "20%",
        emphasis: { focus: "series" },
      };
    }),
  });
}

// The width of a label in px at the axis font (12 px): CJK characters are square, Latin
// letters and digits about 0.6 em. An estimate, to give each axis the room of its longest label.
function textWidth(text) {
  var width = 0;
  var s = String(text == null ? "" : text);
  for (var i = 0; i < s.length; i++) width += s.charCodeAt(i) >= 0x2e80 ? 12 : 7;
  return width;
}

function longest(labels) {
  return labels.reduce(function (w, label) { return Math.max(w, textWidth(label)); }, 0);
}

// Room for the heat map's axis labels: the skills on top (turned 40° when there are many) and
// the groups on the left get the width of their longest label, up to a cap; a longer group
// name wraps onto a second line and a longer skill name is shortened (the table has it whole).
function heatmapRoom(spec, width) {
  var narrow = width < 480;
  var rotate = spec.x.length > (narrow ? 3 : 8) ? 40 : 0;
  var xLabel = Math.min(longest(spec.x) + 4, narrow ? 120 : 180);
  var yLabel = Math.min(longest(spec.y) + 4, Math.round(width * (narrow ? 0.38 : 0.3)));
  var top = rotate ? Math.ceil(xLabel * Math.sin((rotate * Math.PI) / 180)) + 20 : 28;
  return { rotate: rotate, xLabel: xLabel, yLabel: Math.max(48, yLabel), top: top };
}

// A grid of cells coloured from white to the primary (or amber with "tone": "warning"),
// each labelled with its value (as a percentage with "percent": true).
function heatmapOption(spec, ctx) {
  var min = spec.min != null ? spec.min : 0;
  var max = spec.max != null ? spec.max : 1;
  var percent = !!spec.percent;
  var strong = spec.tone === "warning" ? ctx.theme.amber : ctx.theme.primary;
  var format = function (v) {
    if (v == null || v === "" || isNaN(v)) return "–";
    return percent ? Math.round(v * 100) + "%" : String(Math.round(v * 100) / 100);
  };
  // Black or white label, whichever contrasts more with the cell (>= 4.5:1 either way).
  var strongRGB = rgb(strong);
  var labelColor = function (v) {
    var t = max > min ? Math.max(0, Math.min(1, (v - min) / (max - min))) : 0;
    var dark = strongRGB ? luminance(strongRGB, t) < 0.179 : t > 0.6;
    return dark ? "#ffffff" : "#000000";
  };
  // A narrow screen shows the skills that fit, cells at least 30 px wide: the first ones, which
  // are the most gapped (the table below has all of them).
  var fit = Math.max(3, Math.floor((ctx.width - heatmapRoom(spec, ctx.width).yLabel - 40) / 30));
  if (spec.x.length > fit) {
    spec = extend(extend({}, spec), {
      x: spec.x.slice(0, fit),
      data: spec.data.filter(function (d) { return d[0] < fit; }),
    });
  }
  var room = heatmapRoom(spec, ctx.width);
  var rotate = room.rotate;
  return extend(base(spec, ctx), {
    // Labels inside the chart's box (ECharts 6 "outerBounds", the old containLabel).
    grid: { top: 8, left: 8, right: 16, bottom: 56, outerBoundsMode: "same", outerBoundsContain: "axisLabel" },
    xAxis: {
      type: "category",
      data: spec.x,
      position: "top",
      splitArea: { show: false },
      axisTick: { show: false },
      axisLine: { show: false },
      axisLabel: {
        color: ctx.theme.text,
        interval: 0,
        rotate: rotate,
        width: rotate ? room.xLabel : Math.max(40, Math.floor((ctx.width - room.yLabel - 24) / Math.max(1, spec.x.length))),
        overflow: rotate ? "truncate" : "break",
        ellipsis: "…",
      },
    },
    yAxis: {
      type: "category",
      data: spec.y,
      inverse: true,
      axisTick: { show: false },
      axisLine: { show: false },
      axisLabel: {
        color: ctx.theme.text,
        interval: 0,
        width: room.yLabel,
        overflow: "break",
        lineHeight: 15,
      },
    },
    visualMap: {
      type: "continuous",
      min: min,
      max: max,
      calculable: false,
      orient: "horizontal",
      left: "center",
      bottom: 4,
      itemWidth: 12,
      itemHeight: Math.min(200, ctx.width * 0.5),
      text: [format(max), spec.valueLabel ? spec.valueLabel + " " + format(min) : format(min)],
      formatter: format,
      textStyle: { color: ctx.theme.muted },
      inRange: { color: ["#ffffff", strong] },
    },
    tooltip: extend(base(spec, ctx).tooltip, {
      trigger: "item",
      formatter: function (p) {
        var v = p.value;
        var what = spec.valueLabel ? spec.valueLabel + " " : "";
        return tooltip(spec.y[v[1]], [{ text: spec.x[v[0]] + COLON + what + format(v[2]) }]);
      },
    }),
    series: [
      {
        type: "heatmap",
        name: spec.valueLabel || "",
        data: spec.data.map(function (d) {
          return { value: d, label: { color: labelColor(d[2]) } };
        }),
        label: {
          show: true,
          formatter: function (p) { return format(p.value[2]); },
        },
        itemStyle: { borderColor: "#ffffff", borderWidth: 2 },
        emphasis: { itemStyle: { borderColor: ctx.theme.text, borderWidth: 1 } },
      },
    ],
  });
}

var BUILDERS = { bar: barOption, heatmap: heatmapOption };

// Rows of bars or cells need room: grow the container beyond its CSS height when there are many.
function minHeight(spec) {
  if (spec.type === "bar" && spec.horizontal !== false) return 60 + spec.categories.length * 16 * Math.max(2, spec.series.length);
  if (spec.type === "heatmap") return heatmapRoom(spec, 1024).top + 80 + spec.y.length * 36;
  return 0;
}

var charts = [];

function render(el) {
  if (el.dataset.chartReady) return;
  var source = document.getElementById(el.dataset.chart);
  var spec = source ? JSON.parse(source.textContent) : null;
  var build = spec && BUILDERS[spec.type];
  if (!build) return;
  el.dataset.chartReady = "1";
  var figure = el.closest(".chart") || el;
  figure.classList.add("chart-live"); // CSS shows the figure only once it can be drawn
  var chart = null;
  try {
    var need = minHeight(spec);
    if (need > el.clientHeight) el.style.minHeight = need + "px";
    var lang = (document.documentElement.lang || "").toLowerCase();
    chart = init(el, null, { renderer: "svg", locale: lang.indexOf("zh") === 0 ? "ZH" : "EN" });
    var entry = { el: el, chart: chart, spec: spec, build: build, label: el.getAttribute("aria-label") };
    draw(entry);
    charts.push(entry);
  } catch (e) {
    // A bad spec hides its own figure (the table stays) and leaves the other charts alone.
    if (chart) chart.dispose();
    figure.classList.remove("chart-live");
    if (window.console) console.error("chart " + el.dataset.chart + ":", e);
  }
}

function draw(entry) {
  var ctx = { width: entry.el.clientWidth || 320, theme: theme(entry.el), label: entry.label };
  entry.chart.setOption(entry.build(entry.spec, ctx));
}

function start() {
  var nodes = document.querySelectorAll("[data-chart]");
  for (var i = 0; i < nodes.length; i++) {
    try {
      render(nodes[i]);
    } catch (e) {
      if (window.console) console.error("chart " + nodes[i].dataset.chart + ":", e); // bad JSON
    }
  }
  if (!charts.length || start.listening) return;
  start.listening = true;
  var timer = null;
  window.addEventListener("resize", function () {
    clearTimeout(timer);
    timer = setTimeout(function () {
      charts.forEach(function (entry) {
        entry.chart.resize();
        draw(entry); // axis label widths depend on the width
      });
    }, 150);
  });
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();

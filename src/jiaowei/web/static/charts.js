// Charts drawn with the vendored Apache ECharts (/static/vendor/echarts/) from data the server put
// in the page: each <div class="chart" data-chart="{...}"> holds its JSON (see _charts.html). No
// inline script (the policy is script-src 'self'), nothing read from elsewhere. The table next to a
// chart stays the accessible form of its numbers; the chart carries role="img" and an aria-label.
(function () {
  "use strict";

  var INK = "#1f2933", MUTED = "#616e7c", ACCENT = "#1d5fa8", TARGET = "#b4341b", GRID = "#e4e7eb";
  var MANY = 30;  // more categories than this: show the first ones and a slider for the rest

  function font() {
    return window.getComputedStyle(document.body).fontFamily ||
      '"PingFang SC", "Noto Sans CJK SC", "Microsoft YaHei", sans-serif';
  }

  function labelOf(spec, seriesIndex, dataIndex) {
    var series = spec.series[seriesIndex];
    return series && series.labels ? series.labels[dataIndex] : "";
  }

  function tooltip(spec) {
    return {
      trigger: "axis",
      axisPointer: { type: "shadow" },
      formatter: function (items) {
        var lines = [echarts.format.encodeHTML(items[0].axisValueLabel)];
        items.forEach(function (item) {
          var shown = item.seriesIndex < spec.series.length ?
            labelOf(spec, item.seriesIndex, item.dataIndex) : spec.line.label;
          lines.push(item.marker + echarts.format.encodeHTML(item.seriesName + ": " + shown));
        });
        return lines.join("<br>");
      }
    };
  }

  function paletteSeries(s) {  // the pivot's charts: ECharts' own colours, one per series
    if (s.kind === "earlier") {  // year on year: the same cells a year earlier
      return { name: s.name, type: "line", data: s.data, connectNulls: true, symbolSize: 5,
               lineStyle: { type: "dashed", width: 2 } };
    }
    if (s.kind === "line") {
      return { name: s.name, type: "line", data: s.data, connectNulls: true, symbolSize: 6, lineStyle: { width: 2 } };
    }
    return { name: s.name, type: "bar", data: s.data, barMaxWidth: 36, stack: s.stack || null };
  }

  function series(spec, s) {
    if (spec.palette) { return paletteSeries(s); }
    if (s.kind === "target") {
      return { name: s.name, type: "scatter", data: s.data, symbol: "rect", symbolSize: [18, 3],
               itemStyle: { color: TARGET }, z: 3 };
    }
    if (s.kind === "line" || s.kind === "dashed") {
      return { name: s.name, type: "line", data: s.data, connectNulls: true, symbolSize: 7,
               itemStyle: { color: s.kind === "line" ? ACCENT : TARGET },
               lineStyle: { type: s.kind === "line" ? "solid" : "dashed", width: 2 } };
    }
    return { name: s.name, type: "bar", data: s.data, barMaxWidth: 36, itemStyle: { color: ACCENT } };
  }

  function targetLine(spec) {  // a series, not a markLine, so that the axis reaches the target
    return {
      name: spec.line.name, type: "line", symbol: "none", silent: true, z: 4,
      data: spec.categories.map(function () { return spec.line.value; }),
      lineStyle: { color: TARGET, type: "dashed", width: 2 }, itemStyle: { color: TARGET },
      endLabel: { show: true, formatter: spec.line.label, color: TARGET }
    };
  }

  function option(spec) {
    var many = spec.categories.length > MANY;
    var all = spec.series.map(function (s) { return series(spec, s); });
    if (spec.line) { all.push(targetLine(spec)); }
    return {
      animation: false,
      textStyle: { fontFamily: font(), color: INK },
      grid: { left: 8, right: spec.line ? 48 : 16, top: 48, bottom: many ? 64 : 16, containLabel: true },
      legend: { type: "scroll", top: 0, right: 0, left: spec.palette ? 0 : "auto", textStyle: { color: INK } },
      tooltip: tooltip(spec),
      xAxis: { type: "category", data: spec.categories,
               axisLabel: { color: MUTED, interval: 0, rotate: spec.categories.length > 6 ? 35 : 0,
                            width: 88, overflow: "truncate" } },
      yAxis: { type: "value", name: spec.axis || "", scale: spec.kind === "line", min: spec.min, max: spec.max,
               minInterval: spec.whole ? 1 : 0, axisLabel: { color: MUTED }, splitLine: { lineStyle: { color: GRID } } },
      dataZoom: many ? [{ type: "slider", start: 0, end: 100 * MANY / spec.categories.length, bottom: 8 },
                        { type: "inside" }] : [],
      series: all
    };
  }

  function pieOption(spec) {  // one slice per category, of the first series
    var s = spec.series[0], data = [];
    spec.categories.forEach(function (name, i) {
      if (s.data[i] !== null && s.data[i] !== undefined) {
        data.push({ name: name, value: s.data[i], shown: s.labels ? s.labels[i] : String(s.data[i]),
                    itemStyle: s.colors ? { color: s.colors[i] } : undefined });  // e.g. a colour per status
      }
    });
    return {
      animation: false,
      textStyle: { fontFamily: font(), color: INK },
      legend: { type: "scroll", bottom: 0, textStyle: { color: INK } },
      tooltip: { trigger: "item", formatter: function (p) {
        return echarts.format.encodeHTML(p.name + ": " + p.data.shown + " (" + p.percent + "%)");
      } },
      series: [{ name: s.name, type: "pie", radius: ["0%", "62%"], center: ["50%", "45%"], data: data,
                 label: { formatter: "{b}", color: INK } }]
    };
  }

  function heatmapOption(spec) {  // the risk matrix: x and y are categories, data [x, y, count]
    return {
      animation: false,
      textStyle: { fontFamily: font(), color: INK },
      grid: { left: 8, right: 16, top: 32, bottom: 64, containLabel: true },
      tooltip: { formatter: function (p) {
        return echarts.format.encodeHTML(spec.rows[p.data[1]] + " × " + spec.categories[p.data[0]] + ": " + p.data[2]);
      } },
      xAxis: { type: "category", data: spec.categories, name: spec.xName, nameLocation: "middle", nameGap: 28,
               axisLabel: { color: MUTED, interval: 0 }, splitArea: { show: true } },
      yAxis: { type: "category", data: spec.rows, name: spec.yName, axisLabel: { color: MUTED }, splitArea: { show: true } },
      visualMap: { min: 0, max: spec.max, calculable: false, orient: "horizontal", left: "center", bottom: 0,
                   inRange: { color: ["#f5f7fa", "#f2c14e", "#b4341b"] } },
      series: [{ name: spec.title, type: "heatmap", data: spec.data, label: { show: true, color: INK } }]
    };
  }

  function draw(element) {
    var spec;
    try { spec = JSON.parse(element.getAttribute("data-chart")); } catch (e) { return; }
    if (!spec || !spec.categories || !spec.categories.length) { return; }
    var lang = document.documentElement.lang === "en" ? "EN" : "ZH";
    element.style.width = "100%";
    element.style.height = "22rem";  // set here, so a page without script keeps no empty space
    var chart = echarts.init(element, null, { renderer: "canvas", locale: lang });
    chart.setOption(spec.kind === "pie" ? pieOption(spec) : spec.kind === "heatmap" ? heatmapOption(spec) : option(spec));
    if (spec.links) {  // a cell that lists what it counts (same-site paths the server wrote)
      chart.on("click", function (p) {
        var href = p.data && spec.links[p.data[1]] && spec.links[p.data[1]][p.data[0]];
        if (href && href.charAt(0) === "/" && href.charAt(1) !== "/") { window.location.href = href; }
      });
    }
    element.classList.add("chart--drawn");
    if (window.ResizeObserver) {
      new ResizeObserver(function () { chart.resize(); }).observe(element);
    } else {
      window.addEventListener("resize", function () { chart.resize(); });
    }
  }

  function start() {
    if (!window.echarts) { return; }  // the table carries the numbers without the chart
    Array.prototype.forEach.call(document.querySelectorAll("[data-chart]"), draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();

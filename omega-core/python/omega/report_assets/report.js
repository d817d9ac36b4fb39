(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("omega-data").textContent);
  var LW = window.LightweightCharts;
  var base = {
    autoSize: true,
    layout: {background: {type: "solid", color: "#ffffff"}, textColor: "#434651", fontSize: 11},
    grid: {vertLines: {color: "#f0f3fa"}, horzLines: {color: "#f0f3fa"}},
    timeScale: {timeVisible: true, secondsVisible: false, borderColor: "#e0e3eb", minBarSpacing: 0.001},
    rightPriceScale: {borderColor: "#e0e3eb"},
    localization: {timeFormatter: function (t) { return new Date(t * 1000).toISOString().slice(0, 16).replace("T", " "); }}
  };
  function chart(id) { return LW.createChart(document.getElementById(id), base); }
  function series(values) {
    var out = [];
    for (var i = 0; i < D.t.length; i++) { if (values[i] !== null) out.push({time: D.t[i], value: values[i]}); }
    return out;
  }
  var charts = [];
  var price = chart("chart-price");
  charts.push(price);
  var step = Math.pow(10, -(D.precision || 5));
  if (D.o) {
    var candles = price.addCandlestickSeries({priceFormat: {type: "price", precision: D.precision, minMove: step}});
    var rows = [];
    for (var i = 0; i < D.t.length; i++) rows.push({time: D.t[i], open: D.o[i], high: D.h[i], low: D.l[i], close: D.c[i]});
    candles.setData(rows);
    var kinds = [
      {position: "belowBar", color: "#26a69a", shape: "arrowUp"},
      {position: "aboveBar", color: "#ef5350", shape: "arrowDown"},
      {position: "inBar", color: "#2962ff", shape: "circle"},
      {position: "inBar", color: "#ff9800", shape: "circle"}
    ];
    var mark = function (labelled) {
      return function (m) {
        var k = kinds[m[1]];
        return {time: m[0], position: k.position, color: k.color, shape: k.shape, text: labelled ? m[2] : ""};
      };
    };
    var marks = D.markers.map(mark(true));
    var plain = D.markers.map(mark(false));
    var note = document.getElementById("marker-note");
    var first = function (t) {  // index of the first marker at or after time t
      var lo = 0, hi = marks.length;
      while (lo < hi) { var mid = (lo + hi) >> 1; if (marks[mid].time < t) lo = mid + 1; else hi = mid; }
      return lo;
    };
    var shown = -1;
    // Markers only where few enough are in view: a zoomed-out million-bar chart stays readable.
    var showMarkers = function (r) {
      if (r === null || D.t.length === 0) return;
      var a = D.t[Math.max(0, Math.min(D.t.length - 1, Math.floor(r.from)))];
      var b = D.t[Math.max(0, Math.min(D.t.length - 1, Math.ceil(r.to)))];
      var lo = first(a), hi = first(b + 1), n = hi - lo;
      var want = n <= D.marker_limit ? lo * 1e9 + hi : -1;
      if (want !== shown) {
        candles.setMarkers(want < 0 ? [] : (n <= D.label_limit ? marks : plain).slice(lo, hi));
        shown = want;
      }
      note.textContent = want < 0 ? n + " trade marks in view: zoom in to see them" : n + " trade marks in view";
    };
    price.timeScale().subscribeVisibleLogicalRangeChange(showMarkers);
  }
  var equity = chart("chart-equity");
  charts.push(equity);
  equity.addLineSeries({color: "#2962ff", lineWidth: 2, priceFormat: {type: "price", precision: 2, minMove: 0.01}})
    .setData(series(D.equity));
  var dd = chart("chart-drawdown");
  charts.push(dd);
  dd.addBaselineSeries({
    baseValue: {type: "price", price: 0}, lineWidth: 1,
    topLineColor: "#ef5350", topFillColor1: "rgba(239,83,80,0)", topFillColor2: "rgba(239,83,80,0)",
    bottomLineColor: "#ef5350", bottomFillColor1: "rgba(239,83,80,0.15)", bottomFillColor2: "rgba(239,83,80,0.45)",
    priceFormat: {type: "percent", precision: 2, minMove: 0.01}
  }).setData(series(D.drawdown));
  var syncing = false;
  charts.forEach(function (c) {
    c.timeScale().subscribeVisibleLogicalRangeChange(function (r) {
      if (syncing || r === null) return;
      syncing = true;
      charts.forEach(function (o) { if (o !== c) o.timeScale().setVisibleLogicalRange(r); });
      syncing = false;
    });
  });
  charts.forEach(function (c) { c.timeScale().fitContent(); });
  window.omegaReport = {charts: charts};  // for tests and for scripting the page from the console
})();

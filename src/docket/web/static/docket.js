// The dashboard's live parts, in plain JavaScript (no library): server-sent events
// keep counts and tables current, an SVG chart draws throughput, and forms that
// destroy something ask first.
(function () {
  "use strict";
  var body = document.body;
  var base = body.dataset.base || "";

  function applyLive(payload) {
    var counts = payload.counts || {};
    document.querySelectorAll("[data-count]").forEach(function (el) {
      var value = counts[el.dataset.count];
      if (value !== undefined) el.textContent = value;
    });
    var html = payload.html || {};
    Object.keys(html).forEach(function (id) {
      var el = document.getElementById(id);
      if (el) el.innerHTML = html[id];
    });
    document.dispatchEvent(new CustomEvent("docket:live", { detail: payload }));
  }

  function connect() {
    if (!window.EventSource || body.dataset.live === undefined) return;
    var status = document.getElementById("live-status");
    var source = new EventSource(base + "/api/events?" + (body.dataset.live || ""));
    source.onmessage = function (event) {
      if (status) status.classList.add("on");
      applyLive(JSON.parse(event.data));
    };
    source.onerror = function () { if (status) status.classList.remove("on"); };
    // A page left for another must not keep its stream (browsers allow only a
    // few connections per host); one shown again from the cache reconnects.
    window.addEventListener("pagehide", function () { source.close(); }, { once: true });
  }
  window.addEventListener("pageshow", function (event) { if (event.persisted) connect(); });

  function confirmForms() {
    document.addEventListener("submit", function (event) {
      var message = event.target.dataset && event.target.dataset.confirm;
      if (message && !window.confirm(message)) event.preventDefault();
    });
  }

  var SVG = "http://www.w3.org/2000/svg";
  function node(name, attributes) {
    var el = document.createElementNS(SVG, name);
    Object.keys(attributes).forEach(function (k) { el.setAttribute(k, attributes[k]); });
    return el;
  }

  // Per-minute points, summed into at most 120 buckets so a day stays readable.
  function buckets(minutes, outcome) {
    var size = Math.max(1, Math.ceil(minutes.length / 120));
    var out = [];
    for (var i = 0; i < minutes.length; i += size) {
      var total = 0;
      for (var j = i; j < Math.min(i + size, minutes.length); j++) total += minutes[j][outcome];
      out.push(total);
    }
    return out;
  }

  function draw(svg, minutes) {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var width = 800, height = 220, left = 40, bottom = 20, top = 10;
    var series = ["completed", "failed", "retried"].map(function (name) {
      return { name: name, points: buckets(minutes, name) };
    });
    var peak = 1;
    series.forEach(function (s) { s.points.forEach(function (v) { peak = Math.max(peak, v); }); });
    var count = series[0].points.length;
    var x = function (i) { return left + (count <= 1 ? 0 : i * (width - left - 10) / (count - 1)); };
    var y = function (v) { return top + (height - top - bottom) * (1 - v / peak); };
    [0, 0.5, 1].forEach(function (f) {
      var v = Math.round(peak * f);
      svg.appendChild(node("line", { x1: left, x2: width - 10, y1: y(v), y2: y(v), "class": "grid" }));
      var label = node("text", { x: 4, y: y(v) + 4 });
      label.textContent = v;
      svg.appendChild(label);
    });
    series.forEach(function (s) {
      var points = s.points.map(function (v, i) { return x(i).toFixed(1) + "," + y(v).toFixed(1); });
      svg.appendChild(node("polyline", { points: points.join(" "), "class": s.name, "data-series": s.name }));
    });
    var span = node("text", { x: width - 120, y: height - 4 });
    span.textContent = minutes.length >= 1440 ? "last 24 hours" : "last hour";
    svg.appendChild(span);
    svg.dataset.drawn = String(Date.now());
  }

  function chart() {
    var svg = document.getElementById("chart");
    if (!svg) return;
    var minutes = 60;
    function refresh() {
      fetch(base + "/api/throughput?minutes=" + minutes, { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (data) { draw(svg, data.minutes); });
    }
    document.querySelectorAll("[data-minutes]").forEach(function (button) {
      button.addEventListener("click", function () {
        minutes = Number(button.dataset.minutes);
        document.querySelectorAll("[data-minutes]").forEach(function (b) {
          b.classList.toggle("on", b === button);
        });
        refresh();
      });
    });
    refresh();
    setInterval(refresh, 10000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    confirmForms();
    chart();
    connect();
  });
})();

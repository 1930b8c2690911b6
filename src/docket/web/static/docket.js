// The dashboard's live parts, in plain JavaScript (no library): server-sent events
// keep counts and tables current, an SVG chart draws throughput, times read in the
// browser's zone, and forms that destroy something ask first.
//
// A live update never replaces what the user is using: it changes only the text
// and attributes that differ (rows matched by their data-key), and leaves alone
// any element holding the focus or under a pressed pointer, so a click, a typed
// value or an open traceback survives every update.
(function () {
  "use strict";
  var body = document.body;
  var base = body.dataset.base || "";
  var pressed = null; // the element under a pressed pointer, until its click
  var lastGood = null; // when the last live update arrived

  document.addEventListener("pointerdown", function (event) { pressed = event.target; }, true);
  function release() { setTimeout(function () { pressed = null; }, 0); }
  document.addEventListener("pointerup", release, true);
  document.addEventListener("pointercancel", release, true);

  // Held by the user: it holds the focus (a field being typed in, a button
  // being pressed by keyboard) or the pointer is pressed on it.
  function held(el) {
    var active = document.activeElement;
    if (active && active !== body && active !== document.documentElement && el.contains(active)) return true;
    return !!(pressed && el.contains(pressed));
  }

  // Attributes the user changes: an open <details>, a field's value.
  var KEEP = { TIME: ["title"], DETAILS: ["open"], INPUT: ["value", "checked"], SELECT: ["value"], TEXTAREA: ["value"] };

  function syncAttributes(old, fresh) {
    var keep = KEEP[old.nodeName] || [];
    Array.prototype.slice.call(old.attributes).forEach(function (a) {
      if (keep.indexOf(a.name) < 0 && !fresh.hasAttribute(a.name)) old.removeAttribute(a.name);
    });
    Array.prototype.slice.call(fresh.attributes).forEach(function (a) {
      if (keep.indexOf(a.name) < 0 && old.getAttribute(a.name) !== a.value) old.setAttribute(a.name, a.value);
    });
  }

  function keyOf(node) { return node.nodeType === 1 ? node.getAttribute("data-key") : null; }

  function morph(old, fresh) {
    if (old.nodeType !== fresh.nodeType || old.nodeName !== fresh.nodeName || keyOf(old) !== keyOf(fresh)) {
      if (!held(old)) old.parentNode.replaceChild(fresh, old);
      return;
    }
    if (old.nodeType !== 1) {
      if (old.nodeValue !== fresh.nodeValue) old.nodeValue = fresh.nodeValue;
      return;
    }
    syncAttributes(old, fresh);
    if (old.nodeName === "TIME") return; // its text is ours (showTimes)
    morphChildren(old, fresh);
  }

  function keyed(parent) {
    var kids = parent.children;
    if (!kids.length) return false;
    for (var i = 0; i < kids.length; i++) if (kids[i].getAttribute("data-key") === null) return false;
    return true;
  }

  function morphChildren(old, fresh) {
    if (keyed(old) && keyed(fresh)) { morphKeyed(old, fresh); return; }
    var a = Array.prototype.slice.call(old.childNodes), b = Array.prototype.slice.call(fresh.childNodes);
    if (a.length === b.length) {
      for (var i = 0; i < a.length; i++) morph(a[i], b[i]);
    } else if (!held(old)) {
      while (old.firstChild) old.removeChild(old.firstChild);
      b.forEach(function (n) { old.appendChild(n); });
    }
  }

  // Rows by key: changed ones patched in place, new ones inserted, gone ones
  // removed (one the user holds stays, marked gone, until let go).
  function morphKeyed(old, fresh) {
    var existing = {}, wanted = {}, done = [];
    Array.prototype.slice.call(old.children).forEach(function (c) { existing[c.getAttribute("data-key")] = c; });
    Array.prototype.slice.call(fresh.children).forEach(function (c) { wanted[c.getAttribute("data-key")] = true; });
    Object.keys(existing).forEach(function (k) {
      if (wanted[k]) return;
      var el = existing[k];
      if (held(el)) el.classList.add("gone"); else el.parentNode.removeChild(el);
      delete existing[k];
    });
    function live(el) {
      while (el && (done.indexOf(el) >= 0 || el.classList.contains("gone"))) el = el.nextElementSibling;
      return el;
    }
    var cursor = live(old.firstElementChild);
    Array.prototype.slice.call(fresh.children).forEach(function (n) {
      var o = existing[n.getAttribute("data-key")];
      if (!o) { old.insertBefore(n, cursor); return; }
      if (o === cursor) cursor = live(o.nextElementSibling);
      else if (!held(o)) old.insertBefore(o, cursor);
      done.push(o);
      morph(o, n);
    });
  }

  function patch(el, html) {
    var template = document.createElement("template");
    template.innerHTML = html;
    morphChildren(el, template.content);
  }

  // Times: relative ("4m 58s ago") in tables, local and relative where
  // data-style="full"; the title holds the local time and UTC ISO.
  function span(seconds) {
    seconds = Math.abs(seconds);
    if (seconds < 10) return seconds.toFixed(1) + "s";
    var whole = Math.floor(seconds);
    if (whole < 60) return whole + "s";
    var m = Math.floor(whole / 60), s = whole % 60;
    if (m < 60) return m + "m " + (s < 10 ? "0" : "") + s + "s";
    var h = Math.floor(m / 60); m = m % 60;
    if (h < 24) return h + "h " + (m < 10 ? "0" : "") + m + "m";
    var d = Math.floor(h / 24); h = h % 24;
    return d + "d " + (h < 10 ? "0" : "") + h + "h";
  }
  function relative(ms) {
    if (Math.abs(ms) < 1000) return "now";
    return ms > 0 ? "in " + span(ms / 1000) : span(ms / 1000) + " ago";
  }
  var LOCAL = { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short" };
  function showTimes(root) {
    var now = Date.now();
    (root || document).querySelectorAll("time[datetime]").forEach(function (el) {
      var iso = el.getAttribute("datetime"), at = Date.parse(iso);
      if (isNaN(at)) return;
      var local = new Date(at).toLocaleString(undefined, LOCAL);
      var rel = relative(at - now);
      var style = el.dataset.style;
      var text = style === "full" ? local + " (" + rel + ")"
        : style === "elapsed" ? span(Math.max(0, now - at) / 1000) : rel;
      if (el.textContent !== text) el.textContent = text;
      var title = local + " · " + iso;
      if (el.title !== title) el.title = title;
    });
  }

  // The outage banner: shown when the server says Redis is in trouble (or the
  // dashboard itself cannot be reached), hidden by the next good update.
  function outage(message) {
    var banner = document.getElementById("outage");
    var status = document.getElementById("live-status");
    if (status) { status.classList.remove("on"); status.classList.toggle("trouble", !!message); }
    if (!banner) return;
    if (!message) { banner.hidden = true; return; }
    var since = lastGood ? " Last update " + relative(lastGood - Date.now()) + "." : "";
    banner.querySelector(".what").textContent = message + since;
    banner.hidden = false;
  }

  function applyLive(payload) {
    lastGood = Date.now();
    outage(null);
    var counts = payload.counts || {};
    document.querySelectorAll("[data-count]").forEach(function (el) {
      var value = counts[el.dataset.count];
      if (value !== undefined && el.textContent !== String(value)) el.textContent = value;
    });
    var html = payload.html || {};
    Object.keys(html).forEach(function (id) {
      var el = document.getElementById(id);
      if (el) patch(el, html[id]);
    });
    showTimes();
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
    source.addEventListener("trouble", function (event) {
      var detail = "";
      try { detail = JSON.parse(event.data); } catch (e) { detail = String(event.data); }
      outage(detail || "Redis is not answering");
    });
    source.onerror = function () {
      if (status) status.classList.remove("on");
      if (source.readyState !== EventSource.OPEN) outage("The dashboard is not answering; retrying.");
    };
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

  // Per-minute points, summed into at most 120 buckets so a day stays readable;
  // each bucket keeps the time of its first minute.
  function buckets(minutes, outcome) {
    var size = Math.max(1, Math.ceil(minutes.length / 120));
    var out = [];
    for (var i = 0; i < minutes.length; i += size) {
      var total = 0;
      for (var j = i; j < Math.min(i + size, minutes.length); j++) total += minutes[j][outcome];
      out.push({ value: total, at: Date.parse(minutes[i].minute) });
    }
    return out;
  }

  function clock(at, withDay) {
    var options = withDay ? { weekday: "short", hour: "2-digit", minute: "2-digit" } : { hour: "2-digit", minute: "2-digit" };
    return new Date(at).toLocaleTimeString(undefined, options);
  }

  // Completed on the left axis, failed and retried drawn over it with their
  // own markers so a series under another still shows; a time axis below.
  function draw(svg, minutes) {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var width = 800, height = 220, left = 40, bottom = 34, top = 10, right = 10;
    var series = ["completed", "failed", "retried"].map(function (name) {
      return { name: name, points: buckets(minutes, name) };
    });
    var peak = 1;
    series.forEach(function (s) { s.points.forEach(function (p) { peak = Math.max(peak, p.value); }); });
    var count = series[0].points.length;
    var x = function (i) { return left + (count <= 1 ? 0 : i * (width - left - right) / (count - 1)); };
    var y = function (v) { return top + (height - top - bottom) * (1 - v / peak); };
    [0, 0.5, 1].forEach(function (f) {
      var v = Math.round(peak * f);
      svg.appendChild(node("line", { x1: left, x2: width - right, y1: y(v), y2: y(v), "class": "grid" }));
      var label = node("text", { x: 4, y: y(v) + 4 });
      label.textContent = v;
      svg.appendChild(label);
    });
    var ticks = 6, axis = node("g", { "class": "time-axis" });
    for (var t = 0; t <= ticks && count > 1; t++) {
      var i = Math.round(t * (count - 1) / ticks), p = series[0].points[i];
      if (!p || isNaN(p.at)) continue;
      axis.appendChild(node("line", { x1: x(i), x2: x(i), y1: height - bottom, y2: height - bottom + 4, "class": "tick" }));
      var label = node("text", { x: x(i), y: height - bottom + 16, "text-anchor": t === 0 ? "start" : t === ticks ? "end" : "middle" });
      label.textContent = clock(p.at, minutes.length > 720);
      axis.appendChild(label);
    }
    svg.appendChild(axis);
    series.forEach(function (s, index) {
      var points = s.points.map(function (p, i) { return x(i).toFixed(1) + "," + y(p.value).toFixed(1); });
      var line = node("polyline", { points: points.join(" "), "class": s.name, "data-series": s.name });
      if (index > 0) line.setAttribute("stroke-dasharray", index === 1 ? "6 3" : "2 3");
      svg.appendChild(line);
      s.points.forEach(function (p, i) {
        if (index > 0 && p.value > 0) svg.appendChild(node("circle", { cx: x(i), cy: y(p.value), r: 2.5, "class": s.name + " dot" }));
      });
    });
    var span = node("text", { x: width - right, y: height - 2, "text-anchor": "end" });
    span.textContent = (minutes.length >= 1440 ? "last 24 hours" : "last hour") + ", your time";
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
    showTimes();
    setInterval(showTimes, 1000);
    chart();
    connect();
  });
})();

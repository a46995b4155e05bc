// The interactive part of report.html (apps/report.cpp inlines this file): charts drawn as inline SVG from the
// JSON in <script id="report-data">, and the sample-grid viewer. No libraries and no network: the page must work
// from a file on a machine without internet.
//
// Charts: every series drawn twice, the raw values faint and an exponential moving average on top (TensorBoard's
// debiased EMA, weight set by the smoothing slider). The y axis covers every raw value, outliers included, with
// round ticks; "ignore outliers" scales to the 1st..99th percentile instead and marks what falls outside with
// triangles on the frame, so nothing is silently pinned to the edge. Probabilities keep [0, 1] unless a value
// leaves it. Long series are thinned per pixel column: the raw line to its extremes (spikes stay visible), the
// smoothed one to its mean (a trend rather than a band).
(function () {
  "use strict";
  const root = document.documentElement;
  const errors = [];
  window.addEventListener("error", (e) => {
    errors.push(String(e.message || e));
    root.dataset.errors = errors.join(" | ");
  });

  const data = JSON.parse(document.getElementById("report-data").textContent);
  const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"];
  const SVG_NS = "http://www.w3.org/2000/svg";
  const W = 560, H = 250, M = {left: 58, right: 16, top: 12, bottom: 34};
  const PW = W - M.left - M.right, PH = H - M.top - M.bottom;

  // ---- settings that survive the live page's reloads ----
  const saved = (() => {
    try {
      return JSON.parse(sessionStorage.getItem("gan-report:" + location.pathname) || "{}");
    } catch (e) {
      return {};
    }
  })();
  const state = {
    smoothing: typeof saved.smoothing === "number" ? saved.smoothing : 0.6,
    x: saved.x === "time" ? "time" : "step",
    robust: !!saved.robust,
    sample: typeof saved.sample === "number" ? saved.sample : -1,  // -1: the latest grid
  };
  function save() {
    try {
      sessionStorage.setItem("gan-report:" + location.pathname, JSON.stringify(state));
    } catch (e) {
      /* storage may be off for file:// pages; the settings just do not persist */
    }
  }

  // ---- numbers and ticks ----
  function niceStep(span, count) {
    const raw = span / Math.max(count, 1);
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const f = raw / mag;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * mag;
  }
  // Round ticks covering [lo, hi]; with `extend` the domain grows to the outer ticks.
  function ticks(lo, hi, count, extend) {
    if (!(hi > lo)) {
      const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
      lo -= pad;
      hi += pad;
    }
    const step = niceStep(hi - lo, count);
    const first = extend ? Math.floor(lo / step + 1e-9) * step : Math.ceil(lo / step - 1e-9) * step;
    const last = extend ? Math.ceil(hi / step - 1e-9) * step : Math.floor(hi / step + 1e-9) * step;
    const out = [];
    for (let v = first; v <= last + step * 1e-6; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
    return {lo: extend ? first : lo, hi: extend ? last : hi, step: step, values: out};
  }
  function fmtTick(v, step) {
    if (Math.abs(v) >= 10000 && step >= 1000) {
      const k = v / 1000;
      return (Number.isInteger(k) ? k.toFixed(0) : k.toFixed(1)) + "k";
    }
    // As many decimals as the tick step needs (0.25 -> 2, 0.5 -> 1, 200 -> 0).
    let d = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
    while (d < 8 && Math.abs(step * Math.pow(10, d) - Math.round(step * Math.pow(10, d))) > 1e-6) ++d;
    return v.toFixed(d);
  }
  function fmtValue(v) {
    if (v === null || v === undefined || !isFinite(v)) return "–";
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2);
    return v.toPrecision(4).replace(/\.?0+$/, "");
  }
  // As the console progress and the header write durations (apps/progress.h): 42s, 3m05s, 2h07m.
  function fmtDuration(s) {
    if (!isFinite(s)) return "–";
    s = Math.round(s);
    if (s < 60) return s + "s";
    if (s < 3600) return Math.floor(s / 60) + "m" + String(s % 60).padStart(2, "0") + "s";
    return Math.floor(s / 3600) + "h" + String(Math.floor((s % 3600) / 60)).padStart(2, "0") + "m";
  }
  // A time axis in the unit that suits its span: seconds, minutes or hours.
  function timeUnit(span) {
    return span < 180 ? {div: 1, name: "s"} : span < 3 * 3600 ? {div: 60, name: "min"} : {div: 3600, name: "h"};
  }

  // ---- series ----
  function smooth(ys, weight) {
    const out = new Array(ys.length);
    let last = 0, n = 0;
    for (let i = 0; i < ys.length; ++i) {
      const y = ys[i];
      if (y === null || !isFinite(y)) {
        out[i] = null;
        continue;
      }
      last = last * weight + (1 - weight) * y;
      ++n;
      out[i] = weight > 0 ? last / (1 - Math.pow(weight, n)) : y;  // debiased: the start is not pulled to 0
    }
    return out;
  }
  function quantile(sorted, q) {
    if (!sorted.length) return NaN;
    const pos = (sorted.length - 1) * q, i = Math.floor(pos), f = pos - i;
    return i + 1 < sorted.length ? sorted[i] * (1 - f) + sorted[i + 1] * f : sorted[i];
  }
  // Points to draw: all of them when few; else per pixel column the first, min, max and last, so a spike one
  // step wide still reaches its height.
  function thin(xs, ys, px) {
    const pts = [];
    for (let i = 0; i < xs.length; ++i) if (ys[i] !== null && isFinite(ys[i])) pts.push([xs[i], ys[i]]);
    if (pts.length <= 2 * PW) return pts;
    const out = [];
    let col = null, bucket = [];
    const flush = () => {
      if (!bucket.length) return;
      let lo = bucket[0], hi = bucket[0];
      for (const p of bucket) {
        if (p[1] < lo[1]) lo = p;
        if (p[1] > hi[1]) hi = p;
      }
      const keep = [bucket[0], lo, hi, bucket[bucket.length - 1]].sort((a, b) => a[0] - b[0]);
      for (const p of keep) if (out[out.length - 1] !== p) out.push(p);
    };
    for (const p of pts) {
      const c = Math.floor(px(p[0]));
      if (c !== col) {
        flush();
        bucket = [];
        col = c;
      }
      bucket.push(p);
    }
    flush();
    return out;
  }

  // The smoothed line's points: all when few; else the mean of each pixel column (a trend, not a band).
  function thinMean(xs, ys, px) {
    const out = [];
    let col = null, sx = 0, sy = 0, n = 0;
    const flush = () => {
      if (n) out.push([sx / n, sy / n]);
    };
    let count = 0;
    for (let i = 0; i < xs.length; ++i) if (ys[i] !== null && isFinite(ys[i])) ++count;
    if (count <= 2 * PW) return thin(xs, ys, px);
    for (let i = 0; i < xs.length; ++i) {
      if (ys[i] === null || !isFinite(ys[i])) continue;
      const c = Math.floor(px(xs[i]));
      if (c !== col) {
        flush();
        col = c;
        sx = sy = n = 0;
      }
      sx += xs[i];
      sy += ys[i];
      ++n;
    }
    flush();
    return out;
  }

  // ---- SVG helpers ----
  function el(name, attrs, parent) {
    const e = document.createElementNS(SVG_NS, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  function html(name, attrs, parent, text) {
    const e = document.createElement(name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  const r1 = (v) => Math.round(v * 10) / 10;

  // ---- one chart ----
  // spec: {id, title, note, table, keys, labels, range, from_zero, y_kind ("value" | "duration"), x_only_step,
  //        no_smoothing}
  function drawChart(spec, box) {
    box.textContent = "";
    const table = data.tables[spec.table];
    const xName = spec.x_only_step ? "step" : state.x;
    const xs = table[xName];
    const head = html("div", {class: "chart-head"}, box);
    html("h3", {}, head, spec.title);
    if (spec.note) html("span", {class: "note"}, head, spec.note);
    const legend = html("div", {class: "legend"}, box);
    const svg = el("svg", {viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": spec.title}, box);

    const series = spec.keys.map((key, i) => {
      const raw = table.cols[key];
      return {key, label: spec.labels[i], color: COLORS[i % COLORS.length], raw,
              smooth: smooth(raw, spec.no_smoothing ? 0 : state.smoothing)};
    });
    // x domain: the data's; y domain: every raw value (or the 1..99th percentile), extended to round ticks.
    let xlo = Infinity, xhi = -Infinity;
    for (let i = 0; i < xs.length; ++i)
      if (xs[i] !== null) {
        xlo = Math.min(xlo, xs[i]);
        xhi = Math.max(xhi, xs[i]);
      }
    xlo = Math.min(xlo, 0);  // training starts at step 0 and time 0: the axis shows where the curve begins
    const all = [];
    for (const s of series) for (const v of s.raw) if (v !== null && isFinite(v)) all.push(v);
    if (!all.length || !isFinite(xlo)) {
      html("p", {class: "empty"}, box, "No values yet.");
      svg.remove();
      return;
    }
    all.sort((a, b) => a - b);
    let ylo = all[0], yhi = all[all.length - 1];
    const robust = state.robust && all.length >= 20;
    if (robust) {
      ylo = quantile(all, 0.01);
      yhi = quantile(all, 0.99);
      const pad = 0.05 * (yhi - ylo || 1);
      ylo = ylo >= 0 && ylo - pad < 0 ? 0 : ylo - pad;  // the padding never takes a non-negative series below 0
      yhi += pad;
    }
    if (spec.range) {
      // A probability chart spans [0, 1] (wider only if a value leaves it); zoomed in, it stays inside it.
      ylo = robust ? Math.max(ylo, spec.range[0]) : Math.min(ylo, spec.range[0]);
      yhi = robust ? Math.min(yhi, spec.range[1]) : Math.max(yhi, spec.range[1]);
    }
    if (spec.from_zero && ylo > 0) ylo = 0;  // a rate: a dip reads against zero, not against the lowest value
    const tx = xName === "time" ? timeUnit(xhi - xlo) : null;
    const ty = spec.y_kind === "duration" ? timeUnit(yhi - ylo) : null;
    const xt = tx ? ticks(xlo / tx.div, xhi / tx.div, 6, false) : ticks(xlo, xhi, 6, false);
    const yt = ty ? ticks(ylo / ty.div, yhi / ty.div, 5, true) : ticks(ylo, yhi, 5, true);
    const xspan = xhi > xlo ? xhi - xlo : 1;
    const px = (x) => M.left + ((x - xlo) / xspan) * PW;
    const ydiv = ty ? ty.div : 1;
    const py = (y) => M.top + (1 - (y / ydiv - yt.lo) / (yt.hi - yt.lo)) * PH;

    // The axis ranges, for tests (tests/apps/test_report_browser.cpp reads them from the rendered page).
    svg.dataset.y = [yt.lo * ydiv, yt.hi * ydiv].join(",");
    svg.dataset.x = [xlo, xhi].join(",");

    const clipId = "clip-" + spec.id;
    const defs = el("defs", {}, svg);
    el("rect", {x: M.left, y: M.top, width: PW, height: PH}, el("clipPath", {id: clipId}, defs));
    const grid = el("g", {class: "grid"}, svg);
    for (const v of yt.values) {
      const y = r1(py(v * ydiv));
      el("line", {x1: M.left, x2: M.left + PW, y1: y, y2: y}, grid);
      el("text", {x: M.left - 6, y: y + 4, "text-anchor": "end", class: "tick"}, svg).textContent =
          fmtTick(v, yt.step);
    }
    for (const v of xt.values) {
      const x = r1(px(tx ? v * tx.div : v));
      el("line", {x1: x, x2: x, y1: M.top, y2: M.top + PH}, grid);
      el("text", {x: x, y: M.top + PH + 15, "text-anchor": "middle", class: "tick"}, svg).textContent =
          fmtTick(v, xt.step);
    }
    el("rect", {x: M.left, y: M.top, width: PW, height: PH, class: "frame"}, svg);
    el("text", {x: M.left + PW, y: H - 3, "text-anchor": "end", class: "axis-label"}, svg).textContent =
        xName === "time" ? "training time (" + tx.name + ")" : "step";
    if (ty)
      el("text", {x: 12, y: M.top + PH / 2, "text-anchor": "middle", class: "axis-label",
                  transform: `rotate(-90 12 ${M.top + PH / 2})`}, svg).textContent = ty.name;

    // Where the run was resumed: a dashed line (the step and time axes both show it).
    for (const r of data.resumes || []) {
      let x = null;
      if (xName === "step") x = r;
      else {
        const idx = table.step.findIndex((s) => s !== null && s > r);
        if (idx >= 0) x = xs[idx];
      }
      if (x === null || x < xlo || x > xhi) continue;
      el("line", {x1: r1(px(x)), x2: r1(px(x)), y1: M.top, y2: M.top + PH, class: "resume"}, svg);
      el("text", {x: r1(px(x)) + 3, y: M.top + 10, class: "resume-label"}, svg).textContent = "resumed";
    }

    const plot = el("g", {"clip-path": `url(#${clipId})`}, svg);
    const smoothing = state.smoothing > 0 && !spec.no_smoothing;
    const yMin = yt.lo * ydiv, yMax = yt.hi * ydiv;
    for (const s of series) {
      const pts = thin(xs, s.raw, px);
      const path = pts.map((p) => r1(px(p[0])) + "," + r1(py(p[1]))).join(" ");
      el("polyline", {points: path, fill: "none", stroke: s.color, "stroke-width": smoothing ? 1 : 1.6,
                      "stroke-opacity": smoothing ? 0.28 : 1, class: "raw"}, plot);
      if (pts.length === 1)
        el("circle", {cx: r1(px(pts[0][0])), cy: r1(py(pts[0][1])), r: 3, fill: s.color}, plot);
      if (smoothing) {
        const sp = thinMean(xs, s.smooth, px).map((p) => r1(px(p[0])) + "," + r1(py(p[1]))).join(" ");
        el("polyline", {points: sp, fill: "none", stroke: s.color, "stroke-width": 1.8, class: "smooth"}, plot);
      }
      // Outside the (robust) frame: a triangle on the edge, at most one per pixel column and side.
      if (robust) {
        const marked = new Set();
        for (const p of pts) {
          if (p[1] >= yMin && p[1] <= yMax) continue;
          const x = Math.round(px(p[0])), up = p[1] > yMax, key = (up ? "u" : "d") + Math.round(x / 4);
          if (marked.has(key)) continue;
          marked.add(key);
          const y = up ? M.top : M.top + PH;
          const pointsAttr = up ? `${x - 4},${y + 7} ${x + 4},${y + 7} ${x},${y}`
                                : `${x - 4},${y - 7} ${x + 4},${y - 7} ${x},${y}`;
          el("polygon", {points: pointsAttr, fill: s.color, class: "outlier"}, svg)
              .appendChild(el("title", {})).textContent = `${s.label} = ${fmtValue(p[1])} (outside the scale)`;
        }
      }
    }

    // Legend: name and the latest (smoothed) value.
    const latest = (arr) => {
      for (let i = arr.length - 1; i >= 0; --i) if (arr[i] !== null && isFinite(arr[i])) return arr[i];
      return null;
    };
    for (const s of series) {
      const item = html("span", {class: "legend-item"}, legend);
      html("span", {class: "swatch", style: `background:${s.color}`}, item);
      html("span", {}, item, s.label + " ");
      html("b", {}, item, fmtLegend(latest(smoothing ? s.smooth : s.raw), spec));
    }

    // Hover: the nearest logged point, its step and time, every series' raw and smoothed value.
    const cursor = el("line", {y1: M.top, y2: M.top + PH, class: "cursor", visibility: "hidden"}, svg);
    const dots = series.map((s) => el("circle", {r: 3.5, fill: s.color, visibility: "hidden"}, svg));
    const tip = html("div", {class: "tip", hidden: ""}, box);
    const hit = el("rect", {x: M.left, y: M.top, width: PW, height: PH, class: "hit"}, svg);
    const order = [];
    for (let i = 0; i < xs.length; ++i) if (xs[i] !== null) order.push(i);
    hit.addEventListener("mousemove", (ev) => {
      const rect = svg.getBoundingClientRect();
      const vx = ((ev.clientX - rect.left) / rect.width) * W;
      const want = xlo + ((vx - M.left) / PW) * xspan;
      let lo = 0, hi = order.length - 1;
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if (xs[order[mid]] < want) lo = mid;
        else hi = mid;
      }
      const i = Math.abs(xs[order[lo]] - want) <= Math.abs(xs[order[hi]] - want) ? order[lo] : order[hi];
      const x = r1(px(xs[i]));
      cursor.setAttribute("x1", x);
      cursor.setAttribute("x2", x);
      cursor.setAttribute("visibility", "visible");
      let rows = `<div class="tip-head">step ${table.step[i]}` +
                 (table.time && table.time[i] !== null ? ` · ${fmtDuration(table.time[i])}` : "") + "</div>";
      series.forEach((s, k) => {
        const v = s.raw[i], sm = s.smooth[i];
        if (v === null || !isFinite(v)) {
          dots[k].setAttribute("visibility", "hidden");
          return;
        }
        const shown = smoothing ? sm : v;
        dots[k].setAttribute("cx", x);
        dots[k].setAttribute("cy", r1(Math.min(Math.max(py(shown), M.top), M.top + PH)));
        dots[k].setAttribute("visibility", "visible");
        rows += `<div><span class="swatch" style="background:${s.color}"></span>${escapeHtml(s.label)} ` +
                `<b>${fmtLegend(v, spec)}</b>` +
                (smoothing ? ` <span class="dim">(smoothed ${fmtLegend(sm, spec)})</span>` : "") + "</div>";
      });
      tip.innerHTML = rows;
      tip.hidden = false;
      // Beside the cursor, on the side with room; positions relative to the card (SVG has no offsetTop).
      const card = box.getBoundingClientRect();
      const left = rect.left - card.left + (x / W) * rect.width;
      tip.style.left = (left > card.width / 2 ? left - tip.offsetWidth - 12 : left + 12) + "px";
      tip.style.top = (rect.top - card.top + (M.top / H) * rect.height + 4) + "px";
    });
    hit.addEventListener("mouseleave", () => {
      cursor.setAttribute("visibility", "hidden");
      for (const d of dots) d.setAttribute("visibility", "hidden");
      tip.hidden = true;
    });
  }
  function fmtLegend(v, spec) {
    if (v === null) return "–";
    return spec.y_kind === "duration" ? fmtDuration(v) : fmtValue(v);
  }
  function escapeHtml(s) {
    return String(s).replace(/[&<>"]/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]));
  }

  function drawCharts() {
    const holder = document.getElementById("charts");
    if (!holder) return;
    holder.textContent = "";
    if (!data.charts.length) {
      html("p", {class: "empty"}, holder, "No metrics logged yet.");
      return;
    }
    for (const spec of data.charts)
      drawChart(spec, html("div", {class: "card chart-card", id: "chart-" + spec.id}, holder));
  }

  // ---- controls ----
  function setupControls() {
    const smoothing = document.getElementById("smoothing");
    const smoothingValue = document.getElementById("smoothing-value");
    const xAxis = document.getElementById("x-axis");
    const robust = document.getElementById("robust");
    if (!smoothing) return;
    smoothing.value = state.smoothing;
    smoothingValue.textContent = Number(state.smoothing).toFixed(2);
    xAxis.value = state.x;
    robust.checked = state.robust;
    smoothing.addEventListener("input", () => {
      state.smoothing = Math.min(0.999, Math.max(0, Number(smoothing.value)));
      smoothingValue.textContent = state.smoothing.toFixed(2);
      save();
      drawCharts();
    });
    xAxis.addEventListener("change", () => {
      state.x = xAxis.value === "time" ? "time" : "step";
      save();
      drawCharts();
    });
    robust.addEventListener("change", () => {
      state.robust = robust.checked;
      save();
      drawCharts();
    });
  }

  // ---- sample grids ----
  // Each grid is shown at the largest whole-number zoom that fits the column (pixels stay square and sharp).
  function zoomFor(w, h, maxW, maxH) {
    return Math.max(1, Math.min(Math.floor(maxW / w), Math.floor(maxH / h))) || 1;
  }
  function setupSamples() {
    const box = document.getElementById("samples");
    if (!box) return;
    const grids = data.samples || [];
    if (!grids.length) {
      html("p", {class: "empty"}, box, "No sample grids yet.");
      return;
    }
    const viewer = html("div", {class: "viewer"}, box);
    const gen = html("figure", {class: "grid-figure"}, viewer);
    const img = html("img", {alt: "samples", class: "zoomable"}, gen);
    const cap = html("figcaption", {}, gen);
    if (data.real) {
      const real = html("figure", {class: "grid-figure"}, viewer);
      const realImg = html("img", {alt: "real data", class: "zoomable", src: data.real.src}, real);
      html("figcaption", {}, real, "real data (" + data.real.file + ")");
      const z = zoomFor(data.real.w, data.real.h, 520, 520);
      realImg.style.width = data.real.w * z + "px";
      realImg.addEventListener("click", () => openLightbox(data.real.src, "real data", data.real.file));
    }
    const controls = html("div", {class: "slider-row"}, box);
    const prev = html("button", {type: "button", title: "earlier grid"}, controls, "◀");
    const slider = html("input", {type: "range", min: 0, max: grids.length - 1, step: 1, id: "sample-slider",
                                  "aria-label": "sample grid step"}, controls);
    const next = html("button", {type: "button", title: "later grid"}, controls, "▶");
    const latest = html("button", {type: "button"}, controls, "latest");
    const label = html("span", {class: "slider-label"}, controls);
    // One tick mark under the slider per grid.
    const marks = html("datalist", {id: "sample-marks"}, controls);
    grids.forEach((_, i) => html("option", {value: i}, marks));
    slider.setAttribute("list", "sample-marks");

    let index = state.sample >= 0 && state.sample < grids.length ? state.sample : grids.length - 1;
    function show(i) {
      index = Math.max(0, Math.min(grids.length - 1, i));
      const g = grids[index];
      img.src = g.src;
      const z = zoomFor(g.w, g.h, 520, 520);
      img.style.width = g.w * z + "px";
      slider.value = index;
      const total = data.total_steps ? " of " + data.total_steps : "";
      label.textContent = `step ${g.step}${total} · grid ${index + 1}/${grids.length}`;
      cap.textContent = `generated, step ${g.step} (${g.file}${g.embedded ? "" : ", linked"}) · click to enlarge`;
      state.sample = index === grids.length - 1 ? -1 : index;
      save();
    }
    slider.addEventListener("input", () => show(Number(slider.value)));
    prev.addEventListener("click", () => show(index - 1));
    next.addEventListener("click", () => show(index + 1));
    latest.addEventListener("click", () => show(grids.length - 1));
    img.addEventListener("click", () => openLightbox(grids[index].src, "step " + grids[index].step, grids[index].file));
    show(index);
  }

  // Full size on click: an overlay at the largest whole-number zoom that fits the window, with a link to the file.
  function openLightbox(src, title, file) {
    const probe = new Image();
    probe.onload = () => {
      const overlay = html("div", {class: "lightbox", role: "dialog", "aria-label": title}, document.body);
      const z = zoomFor(probe.naturalWidth, probe.naturalHeight, window.innerWidth * 0.95, window.innerHeight * 0.85);
      const big = html("img", {src: src, alt: title}, overlay);
      big.style.width = probe.naturalWidth * z + "px";
      const bar = html("div", {class: "lightbox-bar"}, overlay);
      html("span", {}, bar, `${title} · ${probe.naturalWidth}×${probe.naturalHeight} px at ${z}× · `);
      html("a", {href: file, target: "_blank"}, bar, "open " + file);
      html("span", {}, bar, " · click or Esc to close");
      const close = (ev) => {
        if (ev.type === "keydown" && ev.key !== "Escape") return;
        if (ev.type === "click" && ev.target.tagName === "A") return;
        overlay.remove();
        document.removeEventListener("keydown", close);
      };
      overlay.addEventListener("click", close);
      document.addEventListener("keydown", close);
    };
    probe.src = src;
  }

  // report.html#selftest drives every control once, as a person would, and reports in data-selftest ("ok") or
  // data-errors: what the browser test (tests/apps/test_report_browser.cpp) checks beyond a clean load.
  function selfTest() {
    const fail = (what) => {
      errors.push("selftest: " + what);
      root.dataset.errors = errors.join(" | ");
    };
    const charts = document.querySelectorAll("svg.chart").length;
    const set = (id, value, type) => {
      const e = document.getElementById(id);
      if (!e) return fail("no #" + id);
      if (e.type === "checkbox") e.checked = value;
      else e.value = value;
      e.dispatchEvent(new Event(type));
    };
    set("smoothing", 0.95, "input");
    set("x-axis", "time", "change");
    set("robust", true, "change");
    // Zoomed to the bulk of the values, a probability axis still stays inside [0, 1].
    for (const spec of data.charts.filter((c) => c.range)) {
      const svg = document.querySelector("#chart-" + spec.id + " svg.chart");
      const [lo, hi] = svg ? svg.dataset.y.split(",").map(Number) : [NaN, NaN];
      if (!(lo >= spec.range[0] && hi <= spec.range[1])) fail(`${spec.id}: y axis ${lo}..${hi} leaves its range`);
    }
    set("robust", false, "change");
    set("x-axis", "step", "change");
    set("smoothing", 0, "input");
    if (document.querySelectorAll("svg.chart").length !== charts) fail("charts lost on redraw");
    const hit = document.querySelector("svg.chart .hit");
    if (hit) {
      const r = hit.getBoundingClientRect();
      hit.dispatchEvent(new MouseEvent("mousemove", {clientX: r.left + r.width / 2, clientY: r.top + 5}));
      const tip = hit.closest(".chart-card").querySelector(".tip");
      if (!tip || tip.hidden || !tip.textContent.includes("step")) fail("no hover read-out");
      hit.dispatchEvent(new MouseEvent("mouseleave"));
    }
    const slider = document.getElementById("sample-slider");
    const img = document.querySelector("#samples .zoomable");
    if (!slider || !img) {
      if (!errors.length) root.dataset.selftest = "ok";
      return;
    }
    // Every grid in turn, waiting for each to load: a linked one must load from beside the page (its
    // Content-Security-Policy allows that), an embedded one from its data: URI.
    const loaded = () => new Promise((resolve) => {
      if (img.complete && img.naturalWidth > 0) return resolve(true);
      img.addEventListener("load", () => resolve(true), {once: true});
      img.addEventListener("error", () => resolve(false), {once: true});
    });
    (async () => {
      for (let i = 0; i < data.samples.length; ++i) {
        set("sample-slider", i, "input");
        if (img.getAttribute("src") !== data.samples[i].src) fail("slider did not show grid " + i);
        if (!(await loaded())) fail("grid " + i + " (" + data.samples[i].file + ") did not load");
      }
      img.click();
      await new Promise((resolve) => setTimeout(resolve, 300));
      if (!document.querySelector(".lightbox img")) fail("click did not open the full-size view");
      const box = document.querySelector(".lightbox");
      if (box) box.click();
      if (document.querySelector(".lightbox")) fail("the full-size view did not close");
      if (!errors.length) root.dataset.selftest = "ok";
    })();
  }

  setupControls();
  drawCharts();
  setupSamples();
  root.dataset.rendered = "ok";
  root.dataset.charts = String(document.querySelectorAll("svg.chart").length);
  if (location.hash === "#selftest") selfTest();
})();

// icuregion page charts: each <figure class="chart"> names a trend
// (data-metric, data-by, data-from, data-step); this script asks
// /api/v1/trends for it and draws one SVG line per series. Plain DOM and
// SVG, no library: the page must work on a closed network.
"use strict";

(function () {
  const NS = "http://www.w3.org/2000/svg";
  const W = 640, H = 220, L = 48, R = 12, T = 12, B = 28;
  const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"];

  function el(name, attrs, text) {
    const e = document.createElementNS(NS, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function note(fig, text, state) {
    const p = document.createElement("p");
    p.className = "note";
    p.textContent = text;
    fig.appendChild(p);
    fig.dataset.state = state;
  }

  function draw(fig, trend) {
    const x0 = Date.parse(trend.from), x1 = Date.parse(trend.to);
    // data-per100k: figures per 100,000 people of each series' area, with
    // the policy target (data-target) as a dashed line.
    const per100k = fig.dataset.per100k === "1";
    const target = per100k && fig.dataset.target ? Number(fig.dataset.target) : 0;
    if (per100k) {
      for (const s of trend.series) {
        const pop = s.population || 0;
        s.points = pop > 0 ? s.points.map((p) => ({ t: p.t, v: p.v * 100000 / pop })) : [];
      }
    }
    let ymax = target;
    for (const s of trend.series) for (const p of s.points) ymax = Math.max(ymax, p.v);
    ymax = ymax > 0 ? ymax * 1.1 : 1;
    const sx = (t) => L + (W - L - R) * (Date.parse(t) - x0) / (x1 - x0);
    const sy = (v) => H - B - (H - T - B) * v / ymax;
    const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img", "aria-label": fig.querySelector("figcaption").textContent });
    svg.appendChild(el("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: "#888" }));
    svg.appendChild(el("line", { x1: L, y1: T, x2: L, y2: H - B, stroke: "#888" }));
    svg.appendChild(el("text", { x: L - 4, y: T + 8, "text-anchor": "end", "font-size": 10 }, String(Math.round(ymax * 10) / 10)));
    svg.appendChild(el("text", { x: L - 4, y: H - B, "text-anchor": "end", "font-size": 10 }, "0"));
    svg.appendChild(el("text", { x: L, y: H - 8, "font-size": 10 }, trend.from.slice(0, 16).replace("T", " ")));
    svg.appendChild(el("text", { x: W - R, y: H - 8, "text-anchor": "end", "font-size": 10 }, trend.to.slice(0, 16).replace("T", " ")));
    if (target > 0) {
      svg.appendChild(el("line", { class: "target", x1: L, y1: sy(target), x2: W - R, y2: sy(target), stroke: "#b00", "stroke-dasharray": "4 3" }));
      svg.appendChild(el("text", { x: W - R, y: sy(target) - 3, "text-anchor": "end", "font-size": 10, fill: "#b00" }, "target " + target));
    }
    const legend = document.createElement("ul");
    legend.className = "legend";
    trend.series.forEach((s, i) => {
      const color = COLORS[i % COLORS.length];
      const pts = s.points.map((p) => `${sx(p.t).toFixed(1)},${sy(p.v).toFixed(1)}`).join(" ");
      const line = el("polyline", { class: "series", points: pts, fill: "none", stroke: color, "stroke-width": 1.5, "data-key": s.key, "data-points": s.points.length });
      line.appendChild(el("title", {}, `${s.key} ${s.name || ""}`));
      svg.appendChild(line);
      const li = document.createElement("li");
      const sw = document.createElement("span");
      sw.className = "swatch";
      sw.style.background = color;
      li.appendChild(sw);
      li.appendChild(document.createTextNode(` ${s.key} ${s.name || ""}`));
      legend.appendChild(li);
    });
    fig.appendChild(svg);
    fig.appendChild(legend);
    if (trend.series.length === 0) note(fig, "No reports in this period.", "empty");
    else fig.dataset.state = "ready";
  }

  async function load(fig) {
    const q = new URLSearchParams();
    for (const k of ["metric", "by", "from", "to", "step", "district", "hospital"]) {
      if (fig.dataset[k]) q.set(k, fig.dataset[k]);
    }
    try {
      const res = await fetch("/api/v1/trends?" + q.toString(), { headers: { Accept: "application/json" } });
      const body = await res.json();
      if (!res.ok) {
        note(fig, "No chart: " + (body.error || res.status), "unavailable");
        return;
      }
      draw(fig, body);
    } catch (e) {
      note(fig, "No chart: " + e.message, "failed");
    }
  }

  document.querySelectorAll("figure.chart").forEach(load);
})();

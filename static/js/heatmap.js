// Plotly heatmaps with the numbers printed in the cells. Display only: no maths here.

const DIVERGING = [
  [0, "#2166ac"], [0.25, "#67a9cf"], [0.5, "#f7f7f7"], [0.75, "#ef8a62"], [1, "#b2182b"],
];
const SEQUENTIAL = [[0, "#ffffff"], [1, "#1f3b57"]];

const CELL = 40; // px per cell at most

// An array of any rank as a list of 2-D panels with labels: (H, W) -> one panel,
// (C, H, W) -> C panels, (F, C, h, w) -> F*C panels, (D,) -> one 1xD row, scalar -> 1x1.
function panels(name, value) {
  if (!Array.isArray(value)) return [{ label: name, z: [[value]], index: (r, c) => [] }];
  if (!Array.isArray(value[0])) {
    // A long vector (F of a deeper network, 64 values) wraps into rows of 16, so its cells
    // stay visible in a narrow card; the last row is padded with gaps.
    if (value.length <= 16) return [{ label: name, z: [value], index: (r, c) => [c] }];
    const rows = [];
    for (let i = 0; i < value.length; i += 16) {
      const row = value.slice(i, i + 16);
      while (row.length < 16) row.push(null);
      rows.push(row);
    }
    return [{ label: `${name} (rows of 16)`, z: rows, index: (r, c) => [r * 16 + c] }];
  }
  if (!Array.isArray(value[0][0])) return [{ label: name, z: value, index: (r, c) => [r, c] }];
  if (!Array.isArray(value[0][0][0]))
    return value.map((z, ch) => ({ label: value.length > 1 ? `${name}[${ch}]` : name, z, index: (r, c) => [ch, r, c] }));
  const out = [];
  value.forEach((f, fi) =>
    f.forEach((z, ci) =>
      out.push({ label: value.length * f.length > 1 ? `${name}[${fi},${ci}]` : name, z, index: (r, c) => [fi, ci, r, c] })));
  return out;
}

function maxAbs(z) {
  let m = 0;
  for (const row of z) for (const v of row) if (v !== null) m = Math.max(m, Math.abs(v));
  return m || 1;
}

function range(z) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const row of z) for (const v of row) if (v !== null) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  return [lo, hi];
}

export function fmt(v, digits = 3) {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(2);
  return v.toFixed(digits);
}

// Rectangles outlining cells: cells = [[row, col], ...].
function outlines(cells, color) {
  return cells.map(([r, c]) => ({
    type: "rect", xref: "x", yref: "y", x0: c - 0.5, x1: c + 0.5, y0: r - 0.5, y1: r + 0.5,
    line: { color, width: 2.5 }, fillcolor: "rgba(0,0,0,0)",
  }));
}

function draw(el, z, opts = {}) {
  const rows = z.length;
  const cols = z[0].length;
  const width = opts.width ?? 150;
  const cell = Math.max(8, Math.min(CELL, Math.floor((width - (rows >= 3 ? 38 : 6)) / cols)));
  const digits = cell >= 30 ? 3 : 2;
  const signed = opts.signed ?? range(z)[0] < 0;
  const trace = {
    type: "heatmap",
    z,
    colorscale: signed ? DIVERGING : SEQUENTIAL,
    xgap: 1,
    ygap: 1,
    showscale: opts.colorbar ?? rows >= 3,
    colorbar: { thickness: 6, len: 1, outlinewidth: 0, tickfont: { size: 8 }, x: 1.02, xpad: 2, nticks: 3 },
    // Numbers only where they fit ("-0.123" needs ~30 px at 10 px type, "-0.12" ~24 px at 8 px);
    // smaller cells still show the value on hover.
    texttemplate: cell >= 24 ? `%{z:.${digits}f}` : "",
    textfont: { size: cell >= 30 ? 10 : 8 },
    hovertemplate: `${opts.label ?? ""}[%{y},%{x}] = %{z}<extra></extra>`,
  };
  const all = opts.shared ?? [z]; // small multiples share one colour scale, so they compare
  if (signed) {
    const m = Math.max(...all.map(maxAbs));
    Object.assign(trace, { zmin: -m, zmax: m, zmid: 0 });
  } else {
    const lo = Math.min(...all.map((p) => range(p)[0]));
    const hi = Math.max(...all.map((p) => range(p)[1]));
    Object.assign(trace, { zmin: Math.min(0, lo), zmax: hi > 0 ? hi : 1 });
  }
  const shapes = [...outlines(opts.winners ?? [], "#f4a261"), ...outlines(opts.passes ?? [], "#2a9d8f")];
  const bar = trace.showscale ? 32 : 2;
  const layout = {
    width: cols * cell + bar + 2,
    height: rows * cell + 4,
    margin: { l: 2, r: bar, t: 2, b: 2 },
    xaxis: { visible: false, range: [-0.5, cols - 0.5], fixedrange: true },
    yaxis: { visible: false, autorange: "reversed", fixedrange: true },
    shapes,
    paper_bgcolor: "rgba(0,0,0,0)",
    plot_bgcolor: "rgba(0,0,0,0)",
  };
  const config = { displayModeBar: false, staticPlot: !opts.onClick, responsive: false };
  // eslint-disable-next-line no-undef
  const done = Plotly.react(el, [trace], layout, config);
  if (opts.onClick && !el.dataset.clickBound) {
    el.dataset.clickBound = "1";
    el.on("plotly_click", (ev) => {
      const p = ev.points && ev.points[0];
      if (p) el._onCell?.(p.y, p.x);
    });
  }
  el._onCell = opts.onClick;
  return done;
}

// Panels of one named array into a container, one plot div per panel, ids `${prefix}-${name}-${i}`.
export function drawArray(container, prefix, name, value, opts = {}) {
  const ps = panels(name, value);
  const shown = ps.slice(0, opts.maxPanels ?? 8);
  const ids = shown.map((_, i) => `${prefix}-${name}-${i}`);
  if (container.dataset.ids !== ids.join(",")) {
    container.replaceChildren(...shown.map((p, i) => {
      const wrap = document.createElement("div");
      wrap.className = "panel";
      if (shown.length > 1) {
        const cap = document.createElement("div");
        cap.className = "panel-label";
        cap.textContent = p.label;
        wrap.append(cap);
      }
      const div = document.createElement("div");
      div.id = ids[i];
      div.className = "plot";
      div.dataset.name = name;
      wrap.append(div);
      return wrap;
    }));
    if (ps.length > shown.length) {
      const more = document.createElement("div");
      more.className = "muted small";
      more.textContent = `+${ps.length - shown.length} more`;
      container.append(more);
    }
    container.dataset.ids = ids.join(",");
  }
  // Several channels/filters: small multiples, two to a row, on one shared colour scale
  // whose bar only the first carries, so a stage stays compact.
  const width = opts.width ?? Math.max(60, container.clientWidth || 150);
  const many = shown.length > 2;
  const each = many ? Math.floor(width / 2) - 6 : width;
  const shared = shown.length > 1 ? shown.map((p) => p.z) : undefined;
  return Promise.all(shown.map((p, i) => draw(document.getElementById(ids[i]), p.z, {
    ...opts,
    shared,
    colorbar: many && i > 0 ? false : opts.colorbar,
    width: many && i > 0 ? each + 34 : each,
    label: p.label,
    winners: opts.winnersFor?.(i),
    passes: opts.passesFor?.(i),
    onClick: opts.onCell ? (r, c) => opts.onCell(p.index(r, c), p.label) : undefined,
  })));
}

// Plotly heatmaps with the numbers in the cells, a colour key, and a visually hidden table of
// every exact value behind each one (its text alternative). Display only: no maths here.
//
// One colour rule for every array: blue below 0, white at 0, red above, on ±(the array's
// largest |value|); an array's channels, and a before/after pair, share one scale.
import { el } from "./dom.js";

const DIVERGING = [
  [0, "#2166ac"], [0.25, "#67a9cf"], [0.5, "#f7f7f7"], [0.75, "#ef8a62"], [1, "#b2182b"],
];
const CELL = 40; // px per cell at most
const MIN_TEXT_CELL = 24; // px: smaller cells carry their numbers only in the table and the tooltip
export const NOT_REPRESENTABLE = "not representable";

// Significant digits, never fixed decimals: a small non-zero value never reads "0.00".
export function fmt(v, digits = 3) {
  if (v === null || v === undefined) return "n/r";
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return "0";
  return String(Number(v.toPrecision(digits)));
}

// An array of any rank as a list of 2-D panels with labels: (H, W) -> one panel,
// (C, H, W) -> C panels, (F, C, h, w) -> F*C panels, (D,) -> one 1xD row, scalar -> 1x1.
export function panels(name, value) {
  if (!Array.isArray(value)) return [{ label: name, z: [[value]], index: () => [] }];
  if (!Array.isArray(value[0])) {
    // A long vector (F of a deeper network, 64 values) wraps into rows of 16.
    if (value.length <= 16) return [{ label: name, z: [value], index: (r, c) => [c] }];
    const rows = [];
    for (let i = 0; i < value.length; i += 16) rows.push(value.slice(i, i + 16));
    return [{ label: `${name} (rows of 16)`, z: rows, index: (r, c) => [r * 16 + c] }];
  }
  if (!Array.isArray(value[0][0])) return [{ label: name, z: value, index: (r, c) => [r, c] }];
  if (!Array.isArray(value[0][0][0]))
    return value.map((z, ch) => ({ label: value.length > 1 ? `${name}[${ch}]` : name, z, index: (r, c) => [ch, r, c] }));
  const out = [];
  value.forEach((f, fi) => f.forEach((z, ci) =>
    out.push({ label: value.length * f.length > 1 ? `${name}[${fi},${ci}]` : name, z, index: (r, c) => [fi, ci, r, c] })));
  return out;
}

export function maxAbs(value) {
  if (value === null || value === undefined) return 0;
  if (!Array.isArray(value)) return Math.abs(value);
  let m = 0;
  for (const v of value) m = Math.max(m, maxAbs(v));
  return m;
}

const shapeOf = (v) => (Array.isArray(v) ? [v.length, ...shapeOf(v[0])] : []);

// The shared exponent of an array's cell texts, when its values are all tiny or huge.
function exponentOf(m) {
  if (!(m > 0)) return 0;
  const e = Math.floor(Math.log10(m));
  return e < -2 || e > 3 ? e : 0;
}

// The winners of the windows a selected pool cell lost: dashed, in a colour of their own.
const LOST_TO = "#c2185b";

// Rectangles outlining cells: cells = [[row, col], ...].
function outlines(cells, color, dash = "solid", inset = 0) {
  return cells.map(([r, c]) => ({
    type: "rect", xref: "x", yref: "y", x0: c - 0.5 + inset, x1: c + 0.5 - inset, y0: r - 0.5 + inset, y1: r + 0.5 - inset,
    line: { color, width: 2.5, dash }, fillcolor: "rgba(0,0,0,0)",
  }));
}

// Windows [[r0, c0, r1, c1], ...] (inclusive cell bounds) as thin rectangles.
function windowRects(windows) {
  return windows.map(([r0, c0, r1, c1]) => ({
    type: "rect", xref: "x", yref: "y", x0: c0 - 0.45, x1: c1 + 0.45, y0: r0 - 0.45, y1: r1 + 0.45,
    line: { color: "#6a3d9a", width: 1.5, dash: "dot" }, fillcolor: "rgba(0,0,0,0)",
  }));
}

// A cell whose value the API could not send (JSON null): hatched, with "n/r" and a tooltip.
function hatch(z) {
  const out = [];
  z.forEach((row, r) => row.forEach((v, c) => {
    if (v !== null) return;
    for (const d of [-0.25, 0, 0.25]) out.push({
      type: "line", xref: "x", yref: "y", x0: c - 0.5 + Math.max(0, d), y0: r + 0.5 - Math.max(0, -d),
      x1: c + 0.5 + Math.min(0, d), y1: r - 0.5 - Math.min(0, -d), line: { color: "#555", width: 1 },
    });
  }));
  return out;
}

// Small dots in cells: a tied window's pick (orange) and its equals (grey).
function dots(cells, color) {
  return cells.map(([r, c]) => ({
    type: "circle", xref: "x", yref: "y", x0: c - 0.17, x1: c + 0.17, y0: r - 0.17, y1: r + 0.17,
    line: { color: "#333", width: 0.5 }, fillcolor: color,
  }));
}

function plotShapes(z, o) {
  return [
    ...windowRects(o.windows ?? []), ...outlines(o.passes ?? [], "#2a9d8f"), ...dots(o.ties ?? [], "#bbb"), ...dots(o.picked ?? [], "#e07b1f"),
    ...outlines(o.winners ?? [], "#e07b1f"), ...hatch(z), ...outlines(o.sources ?? [], "#7b1fa2", "solid", 0.1),
    ...outlines(o.lost ?? [], LOST_TO, "dash", 0.1),
    ...outlines(o.selected ? [o.selected] : [], "#111", "solid", -0.04), ...outlines(o.cursor ? [o.cursor] : [], "#000", "dash", 0.05),
  ];
}

// ----------------------------------------------------------------------------- selection marks
// The selected cell and the source cells of its explanation (explain.js), outlined wherever
// their arrays are drawn. The page sets them; every drawArray reads them.
// sources and lost (the winners of the windows a pool cell lost): array name -> Set of "i,j,..." keys
let marks = { selected: null, sources: new Map(), lost: new Map() };
let cellAction = null;

// What a click (tap, Enter) on a cell of a plot with no action of its own does: (name, index).
export function onAnyCell(fn) {
  cellAction = fn;
}

export function setMarks(next) {
  const touched = new Set([...marks.sources.keys(), ...marks.lost.keys(), marks.selected?.array]);
  const byArray = (cells) => {
    const out = new Map();
    for (const src of cells ?? []) {
      if (!out.has(src.array)) out.set(src.array, new Set());
      out.get(src.array).add(src.index.join(","));
    }
    return out;
  };
  marks = { selected: next?.selected ?? null, sources: byArray(next?.sources), lost: byArray(next?.lost) };
  for (const name of [...marks.sources.keys(), ...marks.lost.keys(), marks.selected?.array]) touched.add(name);
  const jobs = [];
  for (const c of document.querySelectorAll("[data-array]")) if (touched.has(c.dataset.array) && c._args) jobs.push(drawArray(c, ...c._args));
  return Promise.all(jobs);
}

// Where each index of the array sits: "i,j,..." -> [panel, row, col].
function whereOf(container) {
  if (container._whereFor === container._ps) return container._where;
  const where = new Map();
  container._ps.forEach((p, i) => p.z.forEach((row, r) => row.forEach((_, c) => where.set(p.index(r, c).join(","), [i, r, c]))));
  container._where = where;
  container._whereFor = container._ps;
  return where;
}

// The marks of panel i of a container: its source cells and the selected cell, as [row, col].
function marksOf(container, name, i) {
  const where = whereOf(container);
  const cellsOf = (keys) => {
    const cells = [];
    for (const key of keys ?? []) {
      const at = where.get(key);
      if (at && at[0] === i) cells.push([at[1], at[2]]);
    }
    return cells;
  };
  const sel = marks.selected?.array === name ? where.get(marks.selected.index.join(",")) : null;
  return { sources: cellsOf(marks.sources.get(name)), lost: cellsOf(marks.lost.get(name)),
    selected: sel && sel[0] === i ? [sel[1], sel[2]] : null };
}

// A row of classes (the softmax output) gets its class names under its columns.
function nameColumns(layout, o) {
  const upright = o.cell >= 44;
  const longest = Math.max(...o.columnNames.map((n) => n.length));
  const below = upright ? 14 : Math.min(80, 5 * longest + 6);
  Object.assign(layout.xaxis, {
    visible: true, tickvals: o.columnNames.map((_, i) => i), ticktext: o.columnNames, tickangle: upright ? 0 : -90,
    tickfont: { size: 8, color: "#45505c" }, showgrid: false, zeroline: false, ticks: "", showline: false,
  });
  layout.margin = { ...layout.margin, b: below };
  layout.height += below - 2;
}

function draw(div, z, o) {
  const rows = z.length;
  const cols = z[0].length;
  const factor = 10 ** -o.exponent;
  const digits = o.cell >= 34 ? 3 : 2;
  const text = z.map((row) => row.map((v) => (v === null ? "n/r" : o.cell >= MIN_TEXT_CELL ? fmt(v * factor, digits) : "")));
  const hover = z.map((row, r) => row.map((v, c) => `${o.label}[${r},${c}] = ${v === null ? NOT_REPRESENTABLE : String(v)}`));
  const trace = {
    type: "heatmap", z, text, hovertext: hover, hoverinfo: "text", texttemplate: "%{text}",
    textfont: { size: o.cell >= 34 ? 10 : 8 }, colorscale: DIVERGING, zmin: -o.scale, zmax: o.scale, zmid: 0,
    xgap: 1, ygap: 1, showscale: false,
  };
  const layout = {
    width: cols * o.cell + 4, height: rows * o.cell + 4, margin: { l: 2, r: 2, t: 2, b: 2 },
    xaxis: { visible: false, range: [-0.5, cols - 0.5], fixedrange: true },
    yaxis: { visible: false, range: [rows - 0.5, -0.5], fixedrange: true },
    shapes: plotShapes(z, o), dragmode: false,
    paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "#eee",
  };
  if (o.columnNames) nameColumns(layout, o);
  div._cell = o.cell;
  // eslint-disable-next-line no-undef
  return Plotly.react(div, [trace], layout, { displayModeBar: false, responsive: false, staticPlot: false });
}

// The cell under a pointer event, from the layout draw() gave the plot (2 px margins, square cells).
function cellAt(div, ev, z) {
  const box = div.getBoundingClientRect();
  const r = Math.floor((ev.clientY - box.top - 2) / div._cell);
  const c = Math.floor((ev.clientX - box.left - 2) / div._cell);
  return r >= 0 && c >= 0 && r < z.length && c < z[0].length ? [r, c] : null;
}

// Clicks, taps and drags (pointer events, so touch and pen too) and the keyboard (arrows move a
// cursor, Enter or Space applies) on an editable plot. `drag`: a pressed pointer keeps applying.
function bindCells(div, getPanel, dragging) {
  div.tabIndex = 0;
  let down = false;
  let last = "";
  const apply = (cell) => {
    const key = cell.join();
    if (key === last) return;
    last = key;
    div._cursor = cell;
    div._onCell?.(cell);
  };
  div.addEventListener("pointerdown", (ev) => {
    const cell = cellAt(div, ev, getPanel().z);
    if (!cell) return;
    down = dragging();
    last = "";
    if (down) div.setPointerCapture?.(ev.pointerId);
    apply(cell);
  });
  div.addEventListener("pointermove", (ev) => {
    if (!down) return;
    const cell = cellAt(div, ev, getPanel().z);
    if (cell) apply(cell);
  });
  for (const t of ["pointerup", "pointercancel"]) div.addEventListener(t, () => { down = false; });
  div.addEventListener("keydown", (ev) => onKey(div, ev, getPanel().z, () => { last = ""; apply(div._cursor ?? [0, 0]); }));
  div.addEventListener("focus", () => { div._cursor ??= [0, 0]; div._redraw?.(); });
  div.addEventListener("blur", () => div._redraw?.());
}

// Arrows move the plot's cursor; Enter or Space applies the cell under it.
function onKey(div, ev, z, applyCursor) {
  const [r, c] = div._cursor ?? [0, 0];
  const moves = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
  if (moves[ev.key]) {
    const [dr, dc] = moves[ev.key];
    div._cursor = [Math.min(z.length - 1, Math.max(0, r + dr)), Math.min(z[0].length - 1, Math.max(0, c + dc))];
    div._redraw?.();
  } else if (ev.key === "Enter" || ev.key === " ") {
    applyCursor();
  } else return;
  ev.preventDefault();
  ev.stopPropagation();
}

// Every exact value as a table (row and column headers, one body per panel), for screen
// readers and for reading the numbers when the cells are too small for text.
function valueTable(name, ps, shape, names) {
  const box = el("div", "sr-only values");
  const table = el("table");
  box.append(table);
  table.append(el("caption", "", `${name}, shape ${shape.join("×") || "scalar"}: exact values`));
  for (const p of ps) {
    const body = table.createTBody();
    const head = body.insertRow();
    const corner = el("th", "", p.label);
    corner.scope = "col";
    head.append(corner);
    p.z[0].forEach((_, c) => { const th = el("th", "", names?.[c] ? `column ${c} (${names[c]})` : `column ${c}`); th.scope = "col"; head.append(th); });
    p.z.forEach((row, r) => {
      const tr = body.insertRow();
      const th = el("th", "", `row ${r}`);
      th.scope = "row";
      tr.append(th);
      row.forEach((v, c) => {
        const td = el("td", "", v === null ? NOT_REPRESENTABLE : String(v));
        td.dataset.index = p.index(r, c).join(",");
        tr.append(td);
      });
    });
  }
  return box;
}

// The colour key of one array: its scale's ends and 0, and the shared exponent when there is one.
function colourKey(scale, exponent) {
  const key = el("div", "ckey");
  key.append(el("span", "", fmt(-scale, 2)), el("span", "ckey-bar"), el("span", "", fmt(scale, 2)));
  if (exponent) key.append(el("span", "ckey-exp", `cell numbers ×10^${exponent}`));
  return key;
}

function build(container, name, ps, shown, shape) {
  container.replaceChildren();
  const wraps = shown.map((p, i) => {
    const wrap = el("div", "panel");
    if (ps.length > 1) wrap.append(el("div", "panel-label", p.label));
    const div = el("div", "plot");
    div.id = `${container._prefix}-${name}-${i}`;
    div.dataset.name = name;
    div.setAttribute("role", "img");
    div.setAttribute("aria-label", `${p.label} heatmap, ${p.z.length}×${p.z[0].length}; exact values in the table "${name}"`);
    wrap.append(div);
    return wrap;
  });
  const grid = el("div", "panels");
  grid.append(...wraps);
  container.append(grid);
  if (ps.length > shown.length) {
    const more = el("button", "more small", `+${ps.length - shown.length} more`);
    more.type = "button";
    more.setAttribute("aria-label", `show all ${ps.length} panels of ${name}`);
    more.addEventListener("click", () => { container._all = true; drawArray(container, ...container._args); });
    container.append(more);
  }
  container._ps = ps;
  return shape;
}

// An emptied container names no array any more (nothing of it is on the page).
export function clearArray(container) {
  container.replaceChildren();
  for (const a of ["ids", "array"]) delete container.dataset[a];
  container.removeAttribute("role");
  container.removeAttribute("aria-label");
  container._value = undefined;
}

// The colour key and the table of exact values, rebuilt only when the array or its scale changed.
function keyAndTable(container, { name, value, ps, shape, scale, exponent, names }) {
  const key = `${scale},${exponent}`;
  if (container._value === value && container._keyFor === key) return;
  container.querySelector(".ckey")?.remove();
  container.querySelector(".sr-only.values")?.remove();
  container.append(colourKey(scale, exponent), valueTable(name, ps, shape, names));
  container._keyFor = key;
  container._value = value;
}

// One named array into a container: panels, colour key and table. Redraws only what changed
// (the store's values are new objects when they change, so identity tells).
export function drawArray(container, prefix, name, value, opts = {}) {
  container._prefix = prefix;
  container._args = [prefix, name, value, opts];
  container.dataset.array = name;
  container.setAttribute("role", "group");
  container.setAttribute("aria-label", `${name} heatmap`);
  const ps = panels(name, value);
  const shown = container._all ? ps : ps.slice(0, opts.maxPanels ?? 8);
  container.dataset.sources = String(marks.sources.get(name)?.size ?? 0);
  container.dataset.lost = String(marks.lost.get(name)?.size ?? 0);
  const shape = shapeOf(value);
  const ids = shown.map((_, i) => `${prefix}-${name}-${i}`).join(",");
  if (container.dataset.ids !== ids) {
    build(container, name, ps, shown, shape);
    container.dataset.ids = ids;
    container._value = undefined;
  }
  const scale = opts.scale || maxAbs(value) || 1;
  const exponent = exponentOf(maxAbs(value));
  keyAndTable(container, { name, value, ps, shape, scale, exponent, names: opts.columnNames });
  const width = opts.width ?? Math.max(60, container.clientWidth || 150);
  const perRow = shown.length > 2 ? 2 : shown.length;
  const cols = Math.max(...shown.map((p) => p.z[0].length));
  const cell = Math.max(6, Math.min(opts.maxCell ?? CELL, Math.floor((width - 8 * perRow) / (perRow * cols))));
  return Promise.all(shown.map((p, i) => {
    const div = document.getElementById(`${prefix}-${name}-${i}`);
    const o = {
      cell, scale, exponent, label: p.label, columnNames: opts.columnNames,
      winners: opts.winnersFor?.(i), ties: opts.tiesFor?.(i), picked: opts.pickedFor?.(i), passes: opts.passesFor?.(i), windows: opts.windowsFor?.(i),
    };
    Object.assign(o, marksOf(container, name, i));
    if (!div._bound) {
      bindCells(div, () => container._ps[i], () => Boolean(container._args[3].drag));
      div._bound = true;
    }
    // Its own action (painting X), or else the page's: explain the cell.
    div._onCell = (cell2) => {
      const index = container._ps[i].index(...cell2);
      const own = container._args[3].onCell;
      return own ? own(index, p.label) : cellAction?.(container.dataset.array, index);
    };
    div._redraw = () => draw(div, p.z, { ...o, cursor: document.activeElement === div ? div._cursor : null });
    const key = JSON.stringify(o);
    if (div._src === value && div._key === key) return null;
    div._src = value;
    div._key = key;
    return div._redraw();
  }));
}

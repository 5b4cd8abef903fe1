// The selected cell: a click (tap, Enter) on any heatmap cell selects it and opens the detail
// view (explain.js); the chain-rule panel follows it (chain.js); arrow keys move it and Escape
// closes the view. Painting X and editing a weight are their own modes (the Paint toggle, the
// detail view's Edit button). What is explained is the moment the strip shows.
import { renderChain } from "./chain.js";
import { $, el } from "./dom.js";
import { createExplainer } from "./explain.js";
import { onAnyCell, setMarks } from "./heatmap.js";

let explainer = null;
let selected = null; // {array, index}: what the detail view and the chain panel follow
let explained = null; // the moment (state) the open detail view was explained for
let chained = null; // [moment key, target] the chain panel shows
let current = () => null; // the store's state

// The example and parameters of the pass the strip shows (its basis), else the current ones.
export function momentOf(s) {
  return s.fwd ? { ...s, params: s.basis.params, input: s.basis.input, label: s.basis.label } : s;
}

// What a cell is explained in: a parameter as the parameters panel draws it (the current one),
// everything else as the strip shows it.
const momentFor = (s, array) => (array in s.params ? s : momentOf(s));

const shapeOf = (v) => (Array.isArray(v) ? [v.length, ...shapeOf(v[0])] : []);

// The arrays the page draws for a state, by the API's names (what may be selected).
function arraysOf(s) {
  const m = momentOf(s);
  const out = { X: m.input, ...m.params };
  if (s.fwd) Object.assign(out, s.fwd.activations);
  if (s.bwd) Object.assign(out, s.bwd.gradients);
  const upd = s.lastUpdate;
  if (upd) for (const [k, v] of Object.entries(upd.new)) out[`${k}_new`] = v;
  return out;
}

function valid(s, cell) {
  const v = cell && arraysOf(s)[cell.array];
  if (v === undefined) return false;
  const shape = shapeOf(v);
  return shape.length === cell.index.length && cell.index.every((i, k) => i >= 0 && i < shape[k]);
}

// With nothing selected, the chain panel follows the first weight's gradient (after Backward)
// or the first layer's output (after Forward).
function defaultCell(s) {
  const zeros = (v) => shapeOf(v).map(() => 0);
  if (s.bwd) {
    const first = Object.keys(s.params)[0];
    return { array: `d${first}`, index: zeros(s.bwd.gradients[`d${first}`]) };
  }
  const [name, value] = Object.entries(s.fwd.activations)[1];
  return { array: name, index: zeros(value) };
}

export async function select(array, index) {
  selected = { array, index };
  const s = current();
  explained = momentFor(s, array);
  const expl = await explainer.open(array, index);
  await chainPanel(s, explained);
  return expl;
}

function move(s, key) {
  const steps = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] }[key];
  const shape = shapeOf(arraysOf(s)[selected.array]);
  const index = selected.index.slice();
  const [dr, dc] = steps;
  const row = index.length - 2;
  if (row >= 0 && dr) index[row] = Math.min(shape[row] - 1, Math.max(0, index[row] + dr));
  if (index.length && dc) index[index.length - 1] = Math.min(shape.at(-1) - 1, Math.max(0, index.at(-1) + dc));
  return select(selected.array, index);
}

export function bindSelection({ getState, onEdit }) {
  current = getState;
  explainer = createExplainer({
    panel: $("explain"), getState: () => momentFor(getState(), selected?.array ?? ""), onEdit,
    highlight: (h) => setMarks(h ?? { selected: null, sources: [] }),
  });
  onAnyCell((array, index) => select(array, index));
  document.addEventListener("keydown", (e) => {
    if (!explainer.isOpen()) return;
    if (e.key === "Escape") { explainer.close(); e.preventDefault(); return; }
    const t = e.target;
    const own = t instanceof HTMLInputElement || t instanceof HTMLSelectElement || t instanceof HTMLTextAreaElement
      || t?.classList?.contains("plot") || e.ctrlKey || e.metaKey || e.altKey;
    if (!own && e.key.startsWith("Arrow")) { move(getState(), e.key); e.preventDefault(); }
  });
}

// After every change of state: the detail view and the chain panel show this moment or nothing.
export async function syncSelection(s) {
  const moment = momentOf(s);
  const viewed = selected ? momentFor(s, selected.array) : moment;
  if (selected && !valid(s, selected)) {
    selected = null;
    explainer.close();
  }
  if (explainer.isOpen() && explained !== null && !sameMoment(explained, viewed)) await explainer.refresh();
  if (explainer.isOpen()) explained = viewed;
  await chainPanel(s, moment);
}

const sameMoment = (a, b) => a.params === b.params && a.input === b.input && a.label === b.label
  && a.network === b.network && a.lr === b.lr && a.lastUpdate === b.lastUpdate;

async function chainPanel(s, moment) {
  const root = $("equations");
  if (!s.fwd) {
    chained = null;
    root.replaceChildren(el("p", "muted", "Press Forward to start; then click any cell to see how it was computed."));
    return;
  }
  const target = selected && (s.bwd || !selected.array.startsWith("d")) ? selected : defaultCell(s);
  const key = [moment.params, moment.input, moment.label, s.bwd, s.lr, target.array, target.index.join()];
  if (chained && chained.every((v, i) => v === key[i])) return;
  chained = key;
  root.dataset.pending = "1";
  try {
    await renderChain(root, moment, target, new Set(Object.keys(arraysOf(s))));
  } catch (err) {
    root.replaceChildren(el("p", "bad", err.detail ?? err.message));
  } finally {
    delete root.dataset.pending;
  }
}

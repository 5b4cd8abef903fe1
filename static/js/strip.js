// The network as a left-to-right strip of stages (X -> Z1 -> A1 -> P1 -> F -> Z2 -> A2 -> L),
// each with its activation heatmap and, in the backward phase, its gradient underneath;
// and the parameters W{k}, b{k} with their gradients. Titles and marks come from the layer
// registry (registry.js), so no layer type is named here.
import { el } from "./dom.js";
import { clearArray, drawArray, fmt } from "./heatmap.js";
import { formulaOf, hasMark, layerInfo, lossFormula } from "./registry.js";
import { classNames } from "./train.js";

export let summary = null; // /api/network response for the current network

export function setSummary(s) {
  summary = s;
}

// [{name, input, layer}] in forward order, X first.
export function stages() {
  const out = [{ name: "X", input: null, layer: null }];
  let prev = "X";
  for (const layer of summary.layers) {
    out.push({ name: layer.output, input: prev, layer });
    prev = layer.output;
  }
  return out;
}

// A stage's share of the strip's width: its heatmap's columns.
function weight(shape) {
  if (shape.length < 3) return Math.min(shape[0] ?? 1, 8) / 2 + 2;
  const cols = shape[2] * (shape[0] > 1 ? 2 : 1); // several channels sit two to a row
  return Math.min(cols, 16) + 1;
}

// A title that may wrap only between tokens (after "(", ",", or at a space), never inside "A1".
function title(text) {
  const h = el("h3", "formula");
  for (const part of text.split(/(?<=[(,]|\s)/)) {
    h.append(el("span", "tok", part), document.createElement("wbr"));
  }
  return h;
}

export function buildStrip(root) {
  const all = stages();
  const weights = all.map((s) => weight(s.layer ? s.layer.out_shape : summary.shapes.X));
  root.style.setProperty("--stage-cols", [...weights.map((w) => `minmax(0, ${w}fr)`), "minmax(max-content, 4fr)"].join(" "));
  root.replaceChildren(...all.map((s) => {
    const card = el("div", "stage");
    card.id = `stage-${s.name}`;
    card.dataset.stage = s.name;
    card.append(title(s.layer ? formulaOf(s.layer, s.input) : "X (input)"));
    const shape = s.layer ? s.layer.out_shape : summary.shapes.X;
    card.append(el("div", "shape", `(${shape.join("×")})`));
    card.append(about(s));
    const act = el("div", "act");
    act.id = `act-${s.name}`;
    card.append(act);
    const gwrap = el("div", "grad-wrap hidden");
    gwrap.id = `gradwrap-${s.name}`;
    const grad = el("div", "grad");
    grad.id = `grad-${s.name}`;
    gwrap.append(el("div", "grad-label", `d${s.name} = ∂L/∂${s.name}`), grad);
    card.append(gwrap);
    return card;
  }), lossCard(all.at(-1).name));
}

// What the stage does and why its gradient is what it is, for a learner (the registry's words),
// folded so the strip stays compact: a tap, click or Enter opens it.
function about(s) {
  const box = el("details", "about");
  box.dataset.testid = "about";
  box.append(el("summary", "", "what it does"));
  const text = s.layer ? layerInfo(s.layer.type).description
    : "The example the network sees. Its gradient dX is not needed to learn, but shows which pixels would change the loss most.";
  box.append(el("p", "", text || `${s.layer.type}: no description in the registry`));
  return box;
}

function lossCard(out) {
  const card = el("div", "stage loss-stage");
  card.id = "stage-L";
  card.append(title(lossFormula(summary.network.loss, out)));
  card.append(el("div", "shape", "(scalar)"));
  const v = el("div", "loss-value", "–");
  v.id = "loss-value";
  v.dataset.testid = "loss";
  card.append(v);
  const after = el("div", "shape", "");
  after.id = "loss-after";
  card.append(after);
  return card;
}

// Cells [[r, c]] of each channel of a (C, H, W) array where `test` holds.
function cellsWhere(arr, test) {
  return arr.map((plane) => {
    const cells = [];
    plane.forEach((row, r) => row.forEach((v, c) => { if (test(v)) cells.push([r, c]); }));
    return cells;
  });
}

const pair = (v) => (Array.isArray(v) ? v : [v, v]);

// A pooling layer's windows as [r0, c0, r1, c1] (inclusive), from its config and output shape.
function windowsOf(layer) {
  const [kh, kw] = pair(layer.kernel_size);
  const [sh, sw] = pair(layer.stride ?? layer.kernel_size);
  const [, oh, ow] = layer.out_shape;
  const out = [];
  for (let i = 0; i < oh; i++) for (let j = 0; j < ow; j++) out.push([i * sh, j * sw, i * sh + kh - 1, j * sw + kw - 1]);
  return out;
}

// Per channel, in windows whose max is shared: the cell the tie rule picked (the API's mask)
// and the cells tied with it. Display of the activations the API sent: only comparisons.
function tiesOf(input, layer, winners) {
  const wins = windowsOf(layer);
  return input.map((plane, ch) => {
    const won = new Set(winners[ch].map((c) => c.join()));
    const out = { picked: [], tied: [] };
    for (const [r0, c0, r1, c1] of wins) {
      let top = -Infinity;
      for (let r = r0; r <= r1; r++) for (let c = c0; c <= c1; c++) top = Math.max(top, plane[r]?.[c] ?? -Infinity);
      const tied = [];
      for (let r = r0; r <= r1; r++) for (let c = c0; c <= c1; c++) if (plane[r]?.[c] === top) tied.push([r, c]);
      if (tied.length < 2) continue;
      out.picked.push(...tied.filter((c) => won.has(c.join())));
      out.tied.push(...tied.filter((c) => !won.has(c.join())));
    }
    return out;
  });
}

// The cells of a vector's one panel (a row, or rows of 16 as heatmap.js lays long ones out) where `test` holds.
function vectorCells(values, test) {
  const wide = values.length > 16;
  return values.flatMap((v, k) => (test(v) ? [wide ? [Math.floor(k / 16), k % 16] : [0, k]] : []));
}

// Marks drawn on each array, keyed by its name: {winners, ties, windows, passes}[channel].
export function marksOf(res) {
  const marks = {};
  const at = (name) => (marks[name] ??= {});
  for (const s of stages()) {
    if (!s.layer) continue;
    const spatial = s.layer.in_shape.length === 3;
    if (spatial && hasMark(s.layer, "winners") && res.masks?.[s.name]) {
      // A clear winner is outlined; in a tied window the pick is a dot and its equals grey dots,
      // so a flat map is not swamped by outlines. The same on the gradient it is routed to.
      const all = cellsWhere(res.masks[s.name], (v) => v > 0.5);
      const ties = tiesOf(res.activations[s.input], s.layer, all);
      const winners = all.map((cells, ch) => {
        const picked = new Set(ties[ch].picked.map((c) => c.join()));
        return cells.filter((c) => !picked.has(c.join()));
      });
      const marks = { winners, picked: ties.map((t) => t.picked), ties: ties.map((t) => t.tied) };
      Object.assign(at(s.input), marks);
      Object.assign(at(`d${s.input}`), marks);
    }
    if (spatial && hasMark(s.layer, "windows")) {
      const w = windowsOf(s.layer);
      at(s.input).windows = s.layer.in_shape.map(() => w);
    }
    const local = res.local?.[`d${s.name}/d${s.input}`];
    if (hasMark(s.layer, "gate") && Array.isArray(local?.[0]?.[0])) at(`d${s.input}`).passes = cellsWhere(local, (v) => v === 1);
    else if (hasMark(s.layer, "gate") && Array.isArray(local)) at(`d${s.input}`).passes = [vectorCells(local, (v) => v === 1)];
  }
  return marks;
}

const markOpts = (m) => (m ? {
  winnersFor: m.winners && ((i) => m.winners[i]), tiesFor: m.ties && ((i) => m.ties[i]), pickedFor: m.picked && ((i) => m.picked[i]),
  windowsFor: m.windows && ((i) => m.windows[i]), passesFor: m.passes && ((i) => m.passes[i]),
} : {});

// The class names under an output layer's row (softmax), when the chosen dataset names them.
function outputNames(s) {
  if (!s.layer || !layerInfo(s.layer.type).output_layer) return undefined;
  const units = s.layer.out_shape[0];
  const names = classNames(units);
  return names?.length === units ? names : undefined;
}

export function drawForward(fwd) {
  const marks = marksOf(fwd);
  const jobs = stages().map((s) => drawArray(document.getElementById(`act-${s.name}`), "act", s.name, fwd.activations[s.name],
    { ...markOpts(marks[s.name]), maxCell: STRIP_CELL, columnNames: outputNames(s) }));
  document.getElementById("loss-value").textContent = fwd.loss === undefined || fwd.loss === null ? "–" : fmt(fwd.loss, 5);
  return Promise.all(jobs);
}

// No forward pass to show (after Undo/Reset, or the example changed): nothing stale stays.
export function clearForward() {
  for (const s of stages()) {
    const box = document.getElementById(`act-${s.name}`);
    if (box) clearArray(box);
  }
  document.getElementById("loss-value").textContent = "–";
}

export function hideGradients() {
  for (const s of stages()) document.getElementById(`gradwrap-${s.name}`)?.classList.add("hidden");
  for (const e of document.querySelectorAll(".pgrad-wrap")) e.classList.add("hidden");
}

// The order the chain rule computes them: from the loss back to X, parameters as reached.
function chainOrder() {
  const order = [];
  const all = stages();
  for (let i = all.length - 1; i >= 0; i--) {
    order.push({ kind: "act", name: all[i].name });
    for (const p of Object.keys(all[i].layer?.params ?? {})) order.push({ kind: "param", name: p });
  }
  return order;
}

// px per cell at most in the strip, so at 1440x900 the strip, its gradients and the equations fit on one screen.
const STRIP_CELL = 30;
const REVEAL_MS = 110; // between gradients, so the chain rule's order can be followed

export async function drawBackward(bwd, { animate = false } = {}) {
  const marks = marksOf(bwd);
  for (const step of chainOrder()) {
    const g = bwd.gradients[`d${step.name}`];
    if (g === undefined) continue;
    const kind = step.kind === "act" ? "grad" : "pgrad";
    document.getElementById(`${kind}wrap-${step.name}`)?.classList.remove("hidden"); // first, so its width is known
    const box = document.getElementById(`${kind}-${step.name}`);
    if (box) await drawArray(box, kind, `d${step.name}`, g, step.kind === "act" ? { ...markOpts(marks[`d${step.name}`]), maxCell: STRIP_CELL } : { width: 200 });
    if (animate) await new Promise((r) => setTimeout(r, REVEAL_MS));
  }
}

export function buildParams(root) {
  const cards = [];
  for (const layer of summary.layers) {
    for (const name of Object.keys(layer.params)) {
      const card = el("div", "param");
      card.id = `param-${name}`;
      card.append(el("h3", "formula", `${name} (${layer.params[name].join("×")})`));
      const v = el("div", "act");
      v.id = `pval-${name}`;
      card.append(v);
      const gwrap = el("div", "pgrad-wrap hidden");
      gwrap.id = `pgradwrap-${name}`;
      gwrap.append(el("div", "grad-label", `d${name} = ∂L/∂${name}`));
      const g = el("div", "grad");
      g.id = `pgrad-${name}`;
      gwrap.append(g);
      card.append(gwrap);
      cards.push(card);
    }
  }
  root.replaceChildren(...cards);
}

export function drawParams(params, onCell) {
  return Promise.all(Object.entries(params).map(([name, value]) =>
    drawArray(document.getElementById(`pval-${name}`), "pval", name, value, {
      width: 200, onCell: onCell ? (index) => onCell(name, index) : undefined,
    })));
}

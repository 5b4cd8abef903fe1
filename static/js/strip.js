// The network as a left-to-right strip of stages (X -> Z1 -> A1 -> P1 -> F -> Z2 -> A2 -> L),
// each with its activation heatmap and, in the backward phase, its gradient underneath;
// and the parameters W{k}, b{k} with their gradients.
import { el } from "./dom.js";
import { drawArray, fmt } from "./heatmap.js";

const FORMULA = {
  conv2d: (l, inp) => `${l.output} = Conv(${inp}, ${Object.keys(l.params)[0]}) + ${Object.keys(l.params)[1]}`,
  relu: (l, inp) => `${l.output} = ReLU(${inp})`,
  maxpool2d: (l, inp) => `${l.output} = MaxPool(${inp})`,
  flatten: (l, inp) => `${l.output} = Flatten(${inp})`,
  dense: (l, inp) => `${l.output} = ${inp}${Object.keys(l.params)[0]} + ${Object.keys(l.params)[1]}`,
  sigmoid: (l, inp) => `${l.output} = σ(${inp})`,
  softmax: (l, inp) => `${l.output} = softmax(${inp})`,
};

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

// A stage's share of the strip's width: its heatmap's columns, plus room for the colour bar.
function weight(shape) {
  if (shape.length < 3) return Math.min(shape[0] ?? 1, 8) / 2 + 3; // vectors: one thin row
  const cols = shape[2] * (shape[0] > 2 ? 2 : 1); // several channels sit two to a row
  return Math.min(cols, 16) + 2.5;
}

export function buildStrip(root) {
  const all = stages();
  const weights = all.map((s) => weight(s.layer ? s.layer.out_shape : summary.shapes.X));
  // The loss card last, never narrower than its number: with many stages a 0-minimum cut "2.1746" to "2.17".
  root.style.gridTemplateColumns = [...weights.map((w) => `minmax(0, ${w}fr)`), "minmax(max-content, 5fr)"].join(" ");
  root.replaceChildren(...all.map((s) => {
    const card = el("div", "stage");
    card.id = `stage-${s.name}`;
    card.dataset.stage = s.name;
    const title = s.layer ? FORMULA[s.layer.type](s.layer, s.input) : "X (input)";
    card.append(el("h3", "formula", title));
    const shape = s.layer ? s.layer.out_shape : summary.shapes.X;
    card.append(el("div", "shape muted", `(${shape.join("×")})`));
    const act = el("div", "act");
    act.id = `act-${s.name}`;
    card.append(act);
    const gl = el("div", "grad-label", `d${s.name} = ∂L/∂${s.name}`);
    const grad = el("div", "grad");
    grad.id = `grad-${s.name}`;
    const gwrap = el("div", "grad-wrap hidden");
    gwrap.id = `gradwrap-${s.name}`;
    gwrap.append(gl, grad);
    card.append(gwrap);
    return card;
  }), lossCard());
}

function lossCard() {
  const card = el("div", "stage loss-stage");
  card.id = "stage-L";
  card.append(el("h3", "formula", summary.network.loss === "bce" ? "L = BCE(A, Y)" : "L = CE(A, Y)"));
  card.append(el("div", "shape muted", "(scalar)"));
  const v = el("div", "loss-value", "–");
  v.id = "loss-value";
  v.dataset.testid = "loss";
  card.append(v);
  const after = el("div", "muted small", "");
  after.id = "loss-after";
  card.append(after);
  return card;
}

// Cells [[r, c]] where a mask (C, H, W) is 1, per channel.
function cellsOf(mask) {
  return mask.map((plane) => {
    const cells = [];
    plane.forEach((row, r) => row.forEach((v, c) => { if (v > 0.5) cells.push([r, c]); }));
    return cells;
  });
}

// Which pool input (e.g. A1) each mask belongs to: masks are keyed by the pool's output (P1).
function winnersByInput(masks) {
  const out = {};
  for (const s of stages()) if (s.layer?.type === "maxpool2d" && masks[s.name]) out[s.input] = cellsOf(masks[s.name]);
  return out;
}

export async function drawForward(fwd) {
  const winners = winnersByInput(fwd.masks);
  const jobs = [];
  for (const s of stages()) {
    const w = winners[s.name];
    jobs.push(drawArray(document.getElementById(`act-${s.name}`), "act", s.name, fwd.activations[s.name], {
      signed: s.name.startsWith("Z") ? true : undefined, winnersFor: w ? (i) => w[i] : undefined,
    }));
  }
  document.getElementById("loss-value").textContent = fwd.loss === undefined || fwd.loss === null ? "–" : fmt(fwd.loss, 4);
  return Promise.all(jobs);
}

// No forward pass yet in this iteration (after Undo/Reset): nothing stale stays on screen.
export function clearForward() {
  for (const s of stages()) {
    const box = document.getElementById(`act-${s.name}`);
    if (box) { box.replaceChildren(); delete box.dataset.ids; }
  }
  document.getElementById("loss-value").textContent = "–";
}

export function hideGradients() {
  for (const s of stages()) document.getElementById(`gradwrap-${s.name}`)?.classList.add("hidden");
  for (const e of document.querySelectorAll(".pgrad-wrap")) e.classList.add("hidden");
  document.getElementById("loss-after").textContent = "";
}

// The order the chain rule computes them: from the loss back to X, parameters as reached.
function chainOrder() {
  const order = [];
  const all = stages();
  for (let i = all.length - 1; i >= 0; i--) {
    const s = all[i];
    order.push({ kind: "act", name: s.name });
    if (s.layer && Object.keys(s.layer.params).length) for (const p of Object.keys(s.layer.params)) order.push({ kind: "param", name: p });
  }
  // dA_out first, then dZ_out: the output activation is reached before its logits.
  return order;
}

const REVEAL_MS = 110; // between gradients, so the chain rule's order can be followed

export async function drawBackward(bwd, { animate = true } = {}) {
  const winners = winnersByInput(bwd.masks);
  const passes = {};
  for (const [key, mask] of Object.entries(bwd.local ?? {})) {
    const [, below] = key.split("/"); // "dA1/dZ1" -> cells of Z1 that pass gradient
    if (mask.length && Array.isArray(mask[0])) passes[below.slice(1)] = cellsOf(mask);
  }
  for (const step of chainOrder()) {
    const g = bwd.gradients[`d${step.name}`];
    if (g === undefined) continue;
    if (step.kind === "act") {
      const wrap = document.getElementById(`gradwrap-${step.name}`);
      const w = winners[step.name];
      const p = passes[step.name];
      wrap.classList.remove("hidden"); // first, so the panel's width is known when it is drawn
      await drawArray(document.getElementById(`grad-${step.name}`), "grad", `d${step.name}`, g, {
        signed: true, winnersFor: w ? (i) => w[i] : undefined, passesFor: p ? (i) => p[i] : undefined,
      });
    } else {
      const wrap = document.getElementById(`pgradwrap-${step.name}`);
      wrap?.classList.remove("hidden");
      await drawArray(document.getElementById(`pgrad-${step.name}`), "pgrad", `d${step.name}`, g, { width: 200, signed: true });
    }
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
      width: 200, signed: true, onCell: (index) => onCell(name, index),
    })));
}

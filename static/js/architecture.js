// The network editor: presets, one row per layer with its fields, live shape and parameter
// counts from POST /api/network, and the reason when a choice does not fit.

import { api } from "./api.js";
import { $, options } from "./dom.js";
import { layerInfo, layerTypes, lossInfo, losses } from "./registry.js";
import { clone } from "./state.js";

// Presets are data: they name layer types, the editor's code does not.
const conv = (filters, k = 3, padding = 0, stride = 1) => ({ type: "conv2d", filters, kernel_size: k, stride, padding });
const pool = (k = 2, stride = k) => ({ type: "maxpool2d", kernel_size: k, stride });
const dense = (units) => ({ type: "dense", units });
const act = (type) => ({ type });

const PRESETS = {
  seed: {
    label: "the seed's network (6×6, bars)", dataset: ["bars", null],
    train: { optimizer: "sgd", lr: 0.5, iterations: 1500, batch: 16 },
    network: { input_shape: [1, 6, 6], layers: [conv(1), act("relu"), pool(), act("flatten"), dense(1), act("sigmoid")], loss: "bce" },
  },
  strokes: {
    label: "4 filters, softmax (6×6 strokes, 4 classes)", dataset: ["strokes", null],
    train: { optimizer: "adam", lr: 0.05, iterations: 600, batch: 16 },
    network: { input_shape: [1, 6, 6], layers: [conv(4), act("relu"), pool(), act("flatten"), dense(4), act("softmax")], loss: "cross_entropy" },
  },
  digitpair: {
    label: "seed-style on 8×8 digits, 3 vs 8", dataset: ["digits", [3, 8]],
    train: { optimizer: "adam", lr: 0.05, iterations: 400, batch: 16 },
    network: { input_shape: [1, 8, 8], layers: [conv(2), act("relu"), pool(), act("flatten"), dense(1), act("sigmoid")], loss: "bce" },
  },
  twoblock: {
    label: "two conv blocks, all 10 digits", dataset: ["digits", null],
    train: { optimizer: "adam", lr: 0.01, iterations: 600, batch: 32 },
    network: {
      input_shape: [1, 8, 8],
      layers: [conv(8, 3, 1), act("relu"), pool(), conv(16, 3, 1), act("relu"), pool(), act("flatten"), dense(10), act("softmax")],
      loss: "cross_entropy",
    },
  },
};

let draft = null;
let timer = null;
let infoCells = []; // per layer row: [output, shape, params] cells, the only ones a check changes
let checks = 0; // a check's answer counts only if no newer check (or known summary) came since

// A spec as an editable draft: a plain copy, pairs kept as they are ([3, 2] stays [3, 2]).
function fromSpec(spec) {
  return { input_shape: [...spec.input_shape], loss: spec.loss, layers: clone(spec.layers) };
}

// A pair field's text: "3" for [3, 3], "3×2" otherwise; and back (an integer, or h×w / h,w / h x w).
const pairText = (v) => (Array.isArray(v) ? (v[0] === v[1] ? String(v[0]) : `${v[0]}×${v[1]}`) : String(v ?? ""));

function parsePair(text) {
  const parts = text.trim().split(/\s*[×x,*]\s*/i);
  if (parts.length > 2 || !parts.every((p) => /^\d+$/.test(p))) return null;
  const n = parts.map(Number);
  return n.length === 1 ? n[0] : n;
}

// One field's input, with the registry's bounds, writing into `layer` as the learner types.
function fieldInput(layer, i, field) {
  const label = document.createElement("label");
  label.className = "inline";
  label.append(`${field.label} `);
  const input = document.createElement("input");
  input.dataset.layer = String(i);
  input.dataset.field = field.name;
  const value = layer[field.name] ?? (typeof field.default === "number" ? field.default : null) ?? field.editor_default;
  if (field.kind === "pair") {
    input.type = "text";
    input.inputMode = "numeric";
    input.size = 5;
    input.className = "pair";
    input.title = `a whole number from ${field.min} to ${field.max}, or height×width (e.g. 3×2)`;
    input.value = pairText(value);
  } else {
    input.type = "number";
    input.min = String(field.min);
    input.max = String(field.max);
    input.step = field.kind === "int" ? "1" : "any";
    input.value = String(value);
  }
  input.setAttribute("aria-label", `layer ${i} ${field.label}`);
  input.addEventListener("input", () => {
    const v = field.kind === "pair" ? parsePair(input.value) : Number(input.value);
    if (v === null || input.value.trim() === "") {
      render(null, `layer ${i}: ${field.label} must be ${input.title || "a number"}`);
      return;
    }
    layer[field.name] = v;
    schedule();
  });
  label.append(input);
  return label;
}

// The rows, only when the layer list changes (a preset, an added or removed layer): a check
// rebuilding them would replace the very <input> being typed in, taking its focus mid-edit.
function buildRows() {
  const table = $("arch-table");
  table.replaceChildren();
  const tr = table.insertRow();
  for (const h of ["#", "layer", "settings", "output", "shape", "params", "remove"]) {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = h;
    tr.append(th);
  }
  infoCells = draft.layers.map((layer, i) => {
    const row = table.insertRow();
    row.insertCell().textContent = String(i);
    const type = row.insertCell();
    type.textContent = layer.type;
    type.title = layerInfo(layer.type).description;
    const cell = row.insertCell();
    for (const field of layerInfo(layer.type).fields) cell.append(fieldInput(layer, i, field), " ");
    const info = [row.insertCell(), row.insertCell(), row.insertCell()];
    const rm = document.createElement("button");
    rm.textContent = "✕";
    rm.title = `Remove layer ${i} (${layer.type})`;
    rm.setAttribute("aria-label", `Remove layer ${i} (${layer.type})`);
    rm.addEventListener("click", () => { draft.layers.splice(i, 1); buildRows(); schedule(0); });
    row.insertCell().append(rm);
    return info;
  });
}

// A new layer of `type` with the editor's defaults for its fields.
function newLayer(type) {
  const layer = { type };
  for (const f of layerInfo(type).fields) layer[f.name] = f.editor_default;
  return layer;
}

// A check's outcome: each layer's output, shape and parameter count, and the verdict.
function render(summary, error) {
  infoCells.forEach(([output, shape, params], i) => {
    const info = summary?.layers?.[i];
    output.textContent = info ? info.output : "";
    shape.textContent = info ? info.out_shape.join("×") : "";
    params.textContent = info ? String(info.param_count) : "";
  });
  const status = $("arch-status");
  if (error) {
    status.textContent = `✗ ${error}`;
    status.className = "small bad";
  } else if (summary) {
    status.textContent = `✓ ${summary.param_count} trainable parameters, ${summary.macs} multiply-adds per example`;
    status.className = "small ok";
  }
  $("arch-apply").disabled = Boolean(error);
}

async function check() {
  const mine = ++checks;
  draft.input_shape = ["arch-c", "arch-h", "arch-w"].map((id) => Number($(id).value));
  draft.loss = $("arch-loss").value;
  let summary;
  try {
    // Only the draft is at stake here, so no "your work is kept" when the server is away.
    summary = await api.network(draft, { unanswered: "" });
  } catch (err) {
    if (mine === checks) render(null, err.detail ?? err.message);
    return;
  }
  if (mine === checks) render(summary, null);
}

function schedule(ms = 250) {
  clearTimeout(timer);
  timer = setTimeout(check, ms);
}

// Show a network in the editor. `summary`, when the caller already has the network's
// /api/network answer (the page's own network), is shown as is instead of asking again.
export function showSpec(spec, summary = null) {
  draft = fromSpec(spec);
  $("arch-c").value = String(draft.input_shape[0]);
  $("arch-h").value = String(draft.input_shape[1]);
  $("arch-w").value = String(draft.input_shape[2]);
  $("arch-loss").value = draft.loss;
  buildRows();
  if (!summary) {
    schedule(0);
    return;
  }
  clearTimeout(timer);
  checks += 1;
  render(summary, null);
}

export function bindArchitecture(actions) {
  options($("arch-loss"), losses().map((l) => [l.name, l.label]));
  $("arch-loss").value = draft.loss;
  options($("arch-add-type"), layerTypes().map((l) => [l.type, `${l.type} (${l.label})`]));
  options($("arch-preset"), [["", "choose…"], ...Object.entries(PRESETS).map(([k, p]) => [k, p.label])]);
  $("arch-preset").addEventListener("change", (e) => {
    const p = PRESETS[e.target.value];
    if (p) {
      showSpec(p.network);
      actions.presetChosen(p);
    }
  });
  for (const id of ["arch-c", "arch-h", "arch-w", "arch-loss"]) $(id).addEventListener("change", () => schedule(0));
  $("arch-add").addEventListener("click", () => {
    const layer = newLayer($("arch-add-type").value);
    // New layers go before the output block: the loss's output layer and the layer feeding it its
    // logits stay last (a sigmoid may also sit inside a network, so the loss, not the type, says so).
    const last = draft.layers.at(-1);
    const closes = last && (layerInfo(last.type).output_layer || last.type === lossInfo(draft.loss).output_layer);
    const at = closes ? draft.layers.length - 2 : draft.layers.length;
    draft.layers.splice(Math.max(0, at), 0, layer);
    buildRows();
    schedule(0);
  });
  $("arch-apply").addEventListener("click", () => actions.useNetwork(clone(draft)));
}

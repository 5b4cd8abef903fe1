// Wires the page: the phases of one iteration, edits, history, import/export.
import { api } from "./api.js";
import { bindArchitecture, showSpec } from "./architecture.js";
import { bindControls } from "./controls.js";
import { $, options } from "./dom.js";
import { renderEquations } from "./equations.js";
import { renderGradcheck } from "./gradcheck.js";
import { drawInput, preset, showPreview } from "./input.js";
import {
  adoptParams, applyStateFile, checkStateFile, clone, exportable, forgetSaved, loadSaved, pushIteration, restore, save, startHistory,
  state, undo,
} from "./state.js";
import {
  buildParams, buildStrip, clearForward, drawBackward, drawForward, drawParams, hideGradients, setSummary, summary,
} from "./strip.js";
import { bindTraining, chooseDataset, classNames, loadSamples } from "./train.js";
import { renderLossCurve, renderUpdate } from "./update.js";

let busy = false;

function toast(message) {
  const t = $("toast");
  t.textContent = message;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 6000);
}

// The buttons: all off while an action runs, then only the next phase's. Cheap, so it runs
// at both ends of every action; data-busy is what the tests wait on.
function setBusy(on) {
  busy = on;
  for (const b of document.querySelectorAll("button[data-phase]")) b.disabled = busy || b.dataset.phase !== state.phase;
  for (const id of ["btn-step", "btn-reset", "btn-gradcheck", "btn-export"]) $(id).disabled = busy;
  $("btn-undo").disabled = busy || (state.history.length < 2 && !state.fwd);
  document.body.dataset.busy = busy ? "1" : "0";
}

// The history list as last built, rebuilt only when the history changed: it only grows, is
// cut back or is replaced as a whole, and no entry's iteration changes, so its length and
// last entry tell.
let listed = { length: -1, last: null };

// What an action changed: the next phase, the history list and the saved copy. Once per
// action (save() writes the whole history, every snapshot's parameters included).
function syncStatus() {
  const names = { forward: "Forward", backward: "Backward", update: "Update" };
  $("next-phase").textContent = names[state.phase];
  $("iteration").textContent = `iteration ${state.iteration}`;
  const sel = $("history");
  const last = state.history.at(-1);
  if (listed.length !== state.history.length || listed.last !== last) {
    options(sel, state.history.map((h) => [h.iteration, `start of iteration ${h.iteration}`]));
    listed = { length: state.history.length, last };
  }
  sel.value = String(last?.iteration ?? 1);
  document.body.dataset.phase = state.phase;
  save();
}

// One action at a time; an error becomes a toast. Resolves to whether the action succeeded.
async function guarded(fn) {
  if (busy) return false;
  setBusy(true);
  try {
    await fn();
    return true;
  } catch (err) {
    toast(err.detail ?? err.message ?? String(err));
    return false;
  } finally {
    syncStatus();
    setBusy(false);
  }
}

async function drawAll({ animate = false } = {}) {
  await drawInput($("input-grid"), state.input, paint);
  await drawParams(state.params, editWeight);
  renderEquations($("equations"), { fwd: state.fwd, bwd: state.bwd, params: state.params, label: state.label });
  if (state.fwd) await drawForward(state.fwd);
  else clearForward();
  if (state.bwd) await drawBackward(state.bwd, { animate });
  else hideGradients();
  renderPrediction(state.fwd?.prediction);
  await renderUpdate($("update"), state.lastUpdate);
  renderLossCurve($("loss-curve"), state.losses);
}

// The predicted class and a bar per class probability, named after the dataset's classes.
function renderPrediction(p) {
  const box = $("prediction");
  box.replaceChildren();
  if (!p) return;
  const names = classNames(summary.layers.at(-1).out_shape[0]) ?? p.probabilities.map((_, i) => String(i));
  const head = document.createElement("div");
  head.textContent = `prediction: ${names[p.class]} (class ${p.class})`;
  const list = document.createElement("div");
  list.className = "probs";
  p.probabilities.forEach((v, i) => {
    const row = document.createElement("div");
    row.className = `prob${i === p.class ? " top" : ""}`;
    const name = document.createElement("span");
    name.textContent = names[i];
    const bar = document.createElement("div");
    bar.className = "pbar";
    bar.style.width = `${Math.max(1, 100 * v)}%`;
    const val = document.createElement("span");
    val.textContent = v.toFixed(3);
    row.append(name, bar, val);
    list.append(row);
  });
  box.append(head, list);
}

// How many labels the network tells apart: a single sigmoid unit still separates two classes.
function classCount() {
  return summary.network.loss === "bce" ? 2 : summary.layers.at(-1).out_shape[0];
}

function labelOptions() {
  const n = classCount();
  const names = classNames(summary.layers.at(-1).out_shape[0]);
  options($("label"), Array.from({ length: n }, (_, i) => [i, names ? `${i} (${names[i]})` : String(i)]));
  if (state.label >= n) state.label = 0;
  $("label").value = String(state.label);
}

// ----------------------------------------------------------------------------- phases
async function doForward() {
  state.fwd = await api.forward(state);
  state.bwd = null;
  state.phase = "backward";
  await drawAll();
}

async function doBackward() {
  state.bwd = await api.backward(state);
  state.fwd = state.bwd;
  state.phase = "update";
  await drawAll({ animate: true });
  document.body.dataset.revealed = String(state.iteration);
}

function paramGradients(gradients) {
  return Object.fromEntries(Object.keys(state.params).map((k) => [`d${k}`, gradients[`d${k}`]]));
}

async function doUpdate() {
  const gradients = paramGradients(state.bwd.gradients);
  const { params } = await api.update(state, gradients);
  const lossAfter = await api.lossOf(state, params);
  finishIteration(params, gradients, state.fwd.loss, lossAfter);
  await drawParams(state.params, editWeight);
  await renderUpdate($("update"), state.lastUpdate);
  renderLossCurve($("loss-curve"), state.losses);
  $("loss-after").textContent = `after update: ${lossAfter.toFixed(4)}`;
}

function finishIteration(params, gradients, loss, lossAfter) {
  state.lastUpdate = { iteration: state.iteration, old: state.params, new: params, gradients, lr: state.lr, loss, loss_after: lossAfter };
  pushIteration(params, { iteration: state.iteration, loss, loss_after: lossAfter });
}

async function doStep() {
  const res = await api.step(state);
  state.fwd = res;
  state.bwd = res;
  finishIteration(res.params, paramGradients(res.gradients), res.loss, res.loss_after);
  await drawAll(); // all at once: a Step (and Play) shows the result, Backward shows the order
  $("loss-after").textContent = `after update: ${res.loss_after.toFixed(4)}`;
}

// After an edit, recompute what this iteration already showed, so every downstream number follows.
async function refresh() {
  if (state.bwd && state.phase === "update") {
    state.bwd = await api.backward(state);
    state.fwd = state.bwd;
  } else if (state.fwd && state.phase === "backward") {
    state.fwd = await api.forward(state);
  }
  await drawAll();
}

// ----------------------------------------------------------------------------- edits
function setAt(arr, index, value) {
  let a = arr;
  for (const i of index.slice(0, -1)) a = a[i];
  a[index.at(-1)] = value;
}

function getAt(arr, index) {
  return index.reduce((a, i) => a[i], arr);
}

function paint(index) {
  const full = index.length === 2 ? [0, ...index] : index;
  setAt(state.input, full, Number($("brush").value));
  guarded(refresh);
}

let editing = null;
function editWeight(name, index) {
  const value = Array.isArray(state.params[name]) ? getAt(state.params[name], index) : state.params[name];
  editing = { name, index };
  $("editor-name").textContent = `${name}[${index.join(",")}]`;
  $("editor-value").value = String(value);
  $("editor").hidden = false;
  $("editor-value").focus();
  $("editor-value").select();
}

function applyEdit() {
  if (!editing) return;
  const v = Number($("editor-value").value);
  if (!Number.isFinite(v) || $("editor-value").value.trim() === "") {
    toast("a weight must be a finite number");
    return;
  }
  setAt(state.params[editing.name], editing.index, v);
  // Keep the iteration's starting snapshot in step with a deliberate edit.
  state.history.at(-1).params = clone(state.params);
  editing = null;
  $("editor").hidden = true;
  guarded(refresh);
}

// ----------------------------------------------------------------------------- setup
async function loadNetwork() {
  setSummary(await api.network(state.network));
  buildStrip($("strip"));
  buildParams($("params"));
  $("net-summary").textContent = `${summary.param_count} trainable parameters`;
  labelOptions();
}

// A new architecture: fresh parameters from the seed, an input of the new shape.
async function useNetwork(spec) {
  const before = { network: state.network, summary };
  state.network = spec;
  try {
    await loadNetwork();
  } catch (err) {
    state.network = before.network;
    setSummary(before.summary);
    throw err;
  }
  state.network = summary.network;
  state.input = preset("blank", summary.shapes.X);
  await reset();
  showSpec(state.network, summary); // loadNetwork just checked it: no second /api/network
}

async function reset() {
  const seed = Math.max(0, Math.floor(Number($("seed").value) || 0));
  const { network, params } = await api.init(state.network, seed);
  Object.assign(state, { network, params, seed, iteration: 1, phase: "forward", fwd: null, bwd: null, lastUpdate: null, losses: [] });
  const shape = summary.shapes.X;
  const fits = state.input && state.input.length === shape[0] && state.input[0].length === shape[1] && state.input[0][0].length === shape[2];
  if (!fits) state.input = preset("vertical", shape);
  startHistory();
  await drawAll();
}

async function importState(file) {
  let data;
  try {
    data = JSON.parse(await file.text());
  } catch {
    throw new Error(`${file.name} is not JSON; the current state is unchanged`);
  }
  let problem;
  try {
    problem = checkStateFile(data);
  } catch {
    problem = "the state file's arrays are nested too deeply to check"; // a RangeError from the recursive check
  }
  if (problem) throw new Error(`${problem}; the current state is unchanged`);
  // The server checks every array with the API's own rules before anything is replaced.
  try {
    await api.forward({ network: data.network, params: data.params, input: data.input, label: data.label });
  } catch (err) {
    throw new Error(`the state file was refused: ${err.detail ?? err.message}; the current state is unchanged`);
  }
  const before = summary;
  applyStateFile(data);
  try {
    await loadNetwork();
  } catch (err) {
    setSummary(before);
    throw err;
  }
  syncInputs();
  await drawAll();
}

function exportState() {
  const blob = new Blob([JSON.stringify(exportable(), null, 1)], { type: "application/json" });
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = `backprop-viz-iteration-${state.iteration}.json`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

function syncInputs() {
  $("label").value = String(state.label);
  $("lr").value = String(state.lr);
  $("seed").value = String(state.seed);
}

const actions = {
  forward: () => guarded(doForward),
  backward: () => guarded(doBackward),
  update: () => guarded(doUpdate),
  step: () => guarded(doStep),
  undo: () => guarded(async () => { if (undo()) await drawAll(); }),
  goto: (iteration) => guarded(async () => { if (restore(iteration)) await drawAll(); }),
  reset: () => guarded(reset),
  gradcheck: () => guarded(async () => {
    const result = await api.gradcheck(state);
    renderGradcheck($("gradcheck"), result);
    $("gradcheck-section").hidden = false;
    $("gradcheck-section").scrollIntoView({ behavior: "smooth", block: "nearest" });
  }),
  exportState,
  importState: (file) => guarded(() => importState(file)),
  setLabel: (v) => { state.label = v; guarded(refresh); },
  setLr: (v) => {
    if (!(v > 0 && v <= Number($("lr").max))) { toast(`the learning rate must be above 0 and at most ${$("lr").max}`); syncInputs(); return; }
    state.lr = v;
    syncStatus();
  },
  preset: (name) => { state.input = preset(name, summary.shapes.X); guarded(refresh); },
  upload: (file) => guarded(async () => {
    const [channels, height, width] = summary.shapes.X;
    const res = await api.upload(file, { channels, height, width, invert: $("invert").checked });
    showPreview(file, file.name);
    state.input = res.input;
    await refresh();
  }),
  useExample: (input, label, shape) => guarded(async () => {
    const x = summary.shapes.X;
    if (shape.join() !== x.join()) throw new Error(`this example is ${shape.join("×")} but the network takes ${x.join("×")}: pick a matching architecture`);
    state.input = input;
    if (label < classCount()) state.label = label;
    syncInputs();
    state.fwd = null;
    state.bwd = null;
    state.phase = "forward";
    await doForward();
  }),
  trained: (params) => guarded(async () => {
    adoptParams(params); // a new iteration starts from the trained params; Undo goes back before training
    await doForward();
  }),
  useNetwork: (spec) => guarded(() => useNetwork(spec)),
  presetChosen: (p) => { chooseDataset(...p.dataset, p.train); loadSamples(actions); },
  state: () => state,
  toast,
  applyEdit,
  cancelEdit: () => { editing = null; $("editor").hidden = true; },
  isBusy: () => busy,
  phase: () => state.phase,
};

async function start() {
  const saved = loadSaved();
  try {
    if (saved) {
      applyStateFile(saved);
      await loadNetwork();
      await drawAll();
    } else {
      throw new Error("no saved state");
    }
  } catch {
    forgetSaved();
    Object.assign(state, { network: null, input: null });
    await loadNetwork();
    state.network = summary.network;
    await reset();
  }
  syncInputs();
  bindControls(actions);
  showSpec(state.network, summary);
  bindArchitecture(actions);
  await bindTraining(actions);
  labelOptions();
  syncStatus();
  setBusy(false);
  document.body.dataset.ready = "1";
}

start().catch((err) => toast(`the page could not start: ${err.message}`));

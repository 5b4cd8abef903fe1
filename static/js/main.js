// Wires the page: the phases of one iteration, edits, history, import/export. Every action
// commits a new state to the store (state.js); the store's one subscriber redraws every view
// from it (render.js), so no panel can keep a number the state no longer has.
import { api } from "./api.js";
import { bindArchitecture, showSpec } from "./architecture.js";
import { bindControls } from "./controls.js";
import { $, options } from "./dom.js";
import { fmt } from "./heatmap.js";
import { defaultInput, preset, showPreview } from "./input.js";
import { loadRegistry, lossInfo } from "./registry.js";
import { renderAll } from "./render.js";
import { bindSelection } from "./select.js";
import {
  adoptParams, applyStateFile, checkStateFile, commit, editParams, exportable, forgetSaved, getIn, isCurrent, loadSaved,
  pushIteration, restore, setIn, state, subscribe, undo,
} from "./state.js";
import { buildParams, buildStrip, setSummary, summary } from "./strip.js";
import { bindTraining, chooseDataset, classNames, loadSamples } from "./train.js";

let busy = false;
let started = false;

function toast(message) {
  const t = $("toast");
  t.textContent = message;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 6000);
}

// ----------------------------------------------------------------------------- rendering
// Commits coalesce: a render draws the newest state, and one more follows if the state
// changed while it drew. `rendered()` is what an action waits for before it ends.
let rendering = null;
let again = false;
let animateNext = false;

function scheduleRender() {
  if (!started) return rendering;
  again = true;
  rendering ??= (async () => {
    while (again) {
      again = false;
      const animate = animateNext;
      animateNext = false;
      try {
        await renderAll(state, { animate, paint: painting ? paint : undefined });
      } catch (err) {
        toast(`the page could not draw this state: ${err.message}`);
      }
    }
    rendering = null;
  })();
  return rendering;
}

const rendered = () => rendering ?? Promise.resolve();

// The buttons: all off while an action runs, then only the next phase's; data-busy is what the tests wait on.
function setBusy(on) {
  busy = on;
  for (const b of document.querySelectorAll("button[data-phase]")) b.disabled = busy || b.dataset.phase !== state.phase;
  for (const id of ["btn-step", "btn-reset", "btn-gradcheck", "btn-export"]) $(id).disabled = busy;
  $("btn-undo").disabled = busy || (state.history.length < 2 && !state.fwd);
  document.body.dataset.busy = busy ? "1" : "0";
}

let refreshQueued = false;

// One action at a time; an error becomes a toast. Resolves to whether the action succeeded.
async function guarded(fn) {
  if (busy) return false;
  setBusy(true);
  let ok = true;
  try {
    await fn();
  } catch (err) {
    toast(err.detail ?? err.message ?? String(err));
    ok = false;
  }
  await rendered();
  setBusy(false);
  if (refreshQueued) {
    refreshQueued = false;
    guarded(refresh);
  }
  return ok;
}

// After an edit, recompute what this iteration already showed; an edit while an action runs
// (a drag paints several cells) is recomputed when it ends.
function requestRefresh() {
  if (busy) refreshQueued = true;
  else guarded(refresh);
}

// ----------------------------------------------------------------------------- phases
const basisOf = (s) => ({ params: s.params, input: s.input, label: s.label, iteration: s.iteration });

async function doForward() {
  const s = state;
  const fwd = await api.forward(s);
  commit({ fwd, bwd: null, basis: basisOf(s), phase: "backward" });
}

async function doBackward() {
  const s = state;
  const bwd = await api.backward(s);
  animateNext = true;
  commit({ fwd: bwd, bwd, basis: basisOf(s), phase: "update" });
  document.body.dataset.revealed = String(s.iteration);
}

const paramGradients = (params, gradients) => Object.fromEntries(Object.keys(params).map((k) => [`d${k}`, gradients[`d${k}`]]));

async function doUpdate() {
  const s = state;
  const gradients = paramGradients(s.params, s.bwd.gradients);
  const { params } = await api.update(s, gradients);
  const lossAfter = await api.lossOf(s, params);
  finishIteration(s, params, gradients, s.fwd.loss, lossAfter);
}

function finishIteration(s, params, gradients, loss, lossAfter) {
  const lastUpdate = { iteration: s.iteration, old: s.params, new: params, gradients, lr: s.lr, loss, loss_after: lossAfter };
  pushIteration(params, { iteration: s.iteration, loss, loss_after: lossAfter }, lastUpdate);
}

async function doStep() {
  const s = state;
  const res = await api.step(s);
  commit({ fwd: res, bwd: res, basis: basisOf(s) });
  finishIteration(s, res.params, paramGradients(s.params, res.gradients), res.loss, res.loss_after);
}

async function refresh() {
  const s = state;
  if (s.bwd && s.phase === "update") {
    const bwd = await api.backward(s);
    commit({ fwd: bwd, bwd, basis: basisOf(s) });
  } else if (s.fwd && s.phase === "backward") {
    commit({ fwd: await api.forward(s), basis: basisOf(s) });
  } else if (s.fwd && (s.basis.input !== s.input || s.basis.label !== s.label)) {
    // The last iteration's pass was of another example: it no longer describes anything on the page.
    commit({ fwd: null, bwd: null, basis: null });
  }
}

// ----------------------------------------------------------------------------- edits
// Paint mode: clicks and drags on X paint it; otherwise a click explains the cell, as everywhere.
let painting = false;

function togglePaint() {
  painting = !painting;
  $("btn-paint").setAttribute("aria-pressed", String(painting));
  $("btn-paint").textContent = painting ? "Painting (click to stop)" : "Paint";
  scheduleRender();
}

function paint(index) {
  const full = index.length === 2 ? [0, ...index] : index;
  commit({ input: setIn(state.input, full, Number($("brush").value)), gradcheck: null });
  requestRefresh();
}

let editing = null;
function editWeight(name, index) {
  const value = Array.isArray(state.params[name]) ? getIn(state.params[name], index) : state.params[name];
  editing = { name, index };
  $("editor-name").textContent = `${name}[${index.join(",")}]`;
  $("editor-value").value = String(value);
  $("editor").hidden = false;
  $("editor-value").focus({ preventScroll: true }); // it floats in view: nothing needs to scroll
  $("editor-value").select();
}

function applyEdit() {
  if (!editing) return;
  const text = $("editor-value").value;
  const v = Number(text);
  if (!Number.isFinite(v) || text.trim() === "") {
    toast("a weight must be a finite number");
    return;
  }
  const { name, index } = editing;
  editParams({ ...state.params, [name]: setIn(state.params[name], index, v) });
  closeEditor();
  requestRefresh();
}

function closeEditor() {
  editing = null;
  $("editor").hidden = true;
}

// Says what Train starts from, so a run after another dataset's is not a silent continuation.
function trainingFrom(s) {
  $("tr-from").textContent = $("tr-fresh").checked
    ? `Training starts from fresh weights (seed ${s.seed}), not the current ones.`
    : `Training continues from the current weights (iteration ${s.iteration}); tick "from fresh weights" to start over.`;
}

// A run whose test accuracy ends within 10 points of guessing has learnt nothing: say so, since
// "done" alone reads as success (e.g. diagonals after bars, continuing from bars' weights).
function flagChance(result) {
  const box = $("tr-chance");
  const acc = result?.history?.at(-1)?.test_accuracy;
  const picked = $("ds-classes").value.trim();
  const k = picked ? picked.split(",").length : result?.dataset?.classes?.length;
  box.hidden = !(Number.isFinite(acc) && k > 1 && acc < 1 / k + 0.1);
  if (!box.hidden) {
    box.textContent = `This run ended at chance: test accuracy ${fmt(100 * acc, 3)}% where guessing among ${k} classes gets ` +
      `${fmt(100 / k, 3)}%. Try fresh weights, another learning rate or more iterations.`;
  }
}

// ----------------------------------------------------------------------------- setup
async function loadNetwork(spec) {
  await rendering; // a render in flight finishes with the summary it started with
  setSummary(await api.network(spec));
  buildStrip($("strip"));
  buildParams($("params"));
  $("net-summary").textContent = `${summary.param_count} trainable parameters`;
  labelOptions();
  return summary.network;
}

// How many labels the network tells apart: the loss says (a single sigmoid unit still separates
// two classes), or one class per output unit.
function classCount() {
  return lossInfo(summary.network.loss).classes ?? summary.layers.at(-1).out_shape[0];
}

function labelOptions() {
  const n = classCount();
  const names = classNames(summary.layers.at(-1).out_shape[0]);
  options($("label"), Array.from({ length: n }, (_, i) => [i, names ? `${i} (${names[i]})` : String(i)]));
  if (state.label >= n) commit({ label: 0 });
  $("label").value = String(state.label);
}

// The chosen dataset's first test example when it fits the network's input (a preset picks
// its dataset), so a new network starts from a real digit rather than a blank input.
async function datasetExample(shape) {
  const classes = $("ds-classes").value.trim();
  const url = `/api/datasets/${encodeURIComponent($("ds-name").value)}/samples?split=test&offset=0&count=1` +
    (classes ? `&classes=${encodeURIComponent(classes)}` : "");
  try {
    const s = (await api.get(url)).samples[0];
    const fits = s && s.input.length === shape[0] && s.input[0].length === shape[1] && s.input[0][0].length === shape[2];
    return fits ? s : null;
  } catch {
    return null; // no example: the blank input still works
  }
}

// A new architecture: fresh parameters from the seed, an input of the new shape.
async function useNetwork(spec, input = null) {
  const before = summary;
  let network;
  try {
    network = await loadNetwork(spec);
  } catch (err) {
    setSummary(before);
    buildStrip($("strip"));
    buildParams($("params"));
    throw err;
  }
  const example = input ? null : await datasetExample(summary.shapes.X);
  const label = example && example.label < classCount() ? example.label : state.label;
  await reset({ network, input: input ?? example?.input ?? preset("blank", summary.shapes.X), label });
  syncInputs();
  showSpec(state.network, summary); // loadNetwork just checked it: no second /api/network
}

// Fresh parameters from the seed. `next`: a new network's spec, input and label, committed in the
// same step as its parameters, so no render ever sees a network with another network's arrays.
async function reset(next = {}) {
  const seed = Math.max(0, Math.floor(Number($("seed").value) || 0));
  const { params } = await api.init(next.network ?? state.network, seed);
  const shape = summary.shapes.X;
  const x = next.input ?? state.input;
  const fits = x && x.length === shape[0] && x[0].length === shape[1] && x[0][0].length === shape[2];
  commit({
    network: summary.network, params, seed, iteration: 1, phase: "forward", fwd: null, bwd: null, basis: null,
    lastUpdate: null, gradcheck: null, losses: [], input: fits ? x : defaultInput(shape), label: next.label ?? state.label,
    history: [{ iteration: 1, params, losses: 0 }],
  });
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
  let network;
  try {
    network = await loadNetwork(data.network);
  } catch (err) {
    setSummary(before);
    throw err;
  }
  applyStateFile({ ...data, network });
  syncInputs();
  showSpec(state.network, summary);
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
  undo: () => guarded(async () => { undo(); }),
  goto: (iteration) => guarded(async () => { restore(iteration); }),
  reset: () => guarded(() => reset()),
  gradcheck: () => guarded(async () => {
    const s = state;
    const result = await api.gradcheck(s);
    commit({ gradcheck: { result, basis: basisOf(s) } });
    await rendered();
    $("gradcheck-section").scrollIntoView({ behavior: "smooth", block: "nearest" });
  }),
  exportState,
  importState: (file) => guarded(() => importState(file)),
  setLabel: (v) => { commit({ label: v, gradcheck: null }); requestRefresh(); },
  setLr: (v) => {
    if (!(v > 0 && v <= Number($("lr").max))) { toast(`the learning rate must be above 0 and at most ${$("lr").max}`); syncInputs(); return; }
    guarded(async () => { commit({ lr: v }); });
  },
  preset: (name) => { commit({ input: preset(name, summary.shapes.X), gradcheck: null }); requestRefresh(); },
  upload: (file) => guarded(async () => {
    const [channels, height, width] = summary.shapes.X;
    const res = await api.upload(file, { channels, height, width, invert: $("invert").checked });
    showPreview(file, file.name);
    commit({ input: res.input, gradcheck: null });
    await refresh();
  }),
  useExample: (input, label, shape) => guarded(async () => {
    const x = summary.shapes.X;
    if (shape.join() !== x.join()) throw new Error(`this example is ${shape.join("×")} but the network takes ${x.join("×")}: pick a matching architecture`);
    commit({ input, label: label < classCount() ? label : state.label, fwd: null, bwd: null, basis: null, gradcheck: null, phase: "forward" });
    syncInputs();
    await doForward();
  }),
  trained: (params, result) => guarded(async () => {
    flagChance(result);
    adoptParams(params); // a new iteration starts from the trained params; Undo goes back before training
    await doForward();
  }),
  useNetwork: (spec, input) => guarded(() => useNetwork(spec, input)),
  presetChosen: (p) => { chooseDataset(...p.dataset, p.train); loadSamples(actions); },
  state: () => state,
  // What a training run starts from: the current parameters, or (ticked) fresh ones from the
  // seed; null, with a toast, when the server cannot make them.
  trainingStart: async () => {
    if (!$("tr-fresh").checked) return state;
    try {
      return { ...state, params: (await api.init(state.network, state.seed)).params };
    } catch (err) {
      toast(err.detail ?? err.message);
      return null;
    }
  },
  toast,
  applyEdit,
  cancelEdit: closeEditor,
  isBusy: () => busy,
  phase: () => state.phase,
  isCurrent: () => isCurrent(state),
};

async function start() {
  await loadRegistry();
  const saved = loadSaved();
  try {
    if (!saved) throw new Error("no saved state");
    const network = await loadNetwork(saved.network);
    applyStateFile({ ...saved, network });
  } catch {
    forgetSaved();
    await reset({ network: await loadNetwork(null) });
  }
  subscribe(scheduleRender);
  bindSelection({ getState: () => state, onEdit: editWeight });
  $("btn-paint").addEventListener("click", togglePaint);
  started = true;
  syncInputs();
  bindControls(actions);
  showSpec(state.network, summary);
  bindArchitecture(actions);
  await bindTraining(actions);
  $("tr-fresh").addEventListener("change", () => trainingFrom(state));
  subscribe(trainingFrom);
  trainingFrom(state);
  labelOptions();
  await scheduleRender();
  setBusy(false);
  document.body.dataset.ready = "1";
}

window.addEventListener("bpv:busy", (e) => toast(`the server is busy; asking again in ${e.detail.seconds} s`));
start().catch((err) => toast(`the page could not start: ${err.message}`));

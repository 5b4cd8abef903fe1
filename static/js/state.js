// The learner's state lives in the browser (and localStorage), never on the server: the API
// is stateless, so a server restart loses nothing.

const STORAGE_KEY = "backprop-viz-state-v1";
const STATE_VERSION = 1;

// One store. Every change makes a new state object (and new arrays along any edited path), so
// a view can tell a change by identity and none can miss one; the state and what it holds are
// frozen, so an in-place edit throws instead of silently leaving a panel stale.
export let state = deepFreeze({
  network: null,
  params: null,
  input: null,
  label: 1,
  lr: 0.5,
  seed: 0,
  phase: "forward", // the phase that comes next: forward | backward | update
  iteration: 1,
  fwd: null, // /api/forward (or backward/step) response shown in the strip
  bwd: null, // /api/backward (or step) response, when its gradients are shown
  basis: null, // what fwd/bwd were computed from: {params, input, label, iteration}
  gradcheck: null, // {result, basis}: shown only while its basis is the current example
  lastUpdate: null, // {iteration, old, new, gradients, lr, loss, loss_after}
  losses: [], // [{iteration, loss, loss_after}]
  history: [], // snapshots at the start of each iteration: {iteration, params, losses}
});

function deepFreeze(x) {
  if (x === null || typeof x !== "object" || Object.isFrozen(x)) return x;
  for (const v of Object.values(x)) deepFreeze(v);
  return Object.freeze(x);
}

const listeners = new Set();

// Views subscribe; each gets the new state after every commit.
export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function commit(patch) {
  state = deepFreeze({ ...state, ...patch });
  for (const fn of listeners) fn(state);
  return state;
}

// A copy of nested arrays `arr` with `value` at `index`: new arrays along the path, the rest shared.
export function setIn(arr, index, value) {
  if (!index.length) return value;
  const copy = arr.slice();
  copy[index[0]] = setIn(arr[index[0]], index.slice(1), value);
  return copy;
}

export const getIn = (arr, index) => index.reduce((a, i) => a[i], arr);

// A deep copy of plain JSON data (parameters, specs) that can be edited (the store's are frozen).
export const clone = (x) => JSON.parse(JSON.stringify(x));

// Whether the shown forward/backward pass was computed from the current example.
export const isCurrent = (s, basis = s.basis) =>
  Boolean(basis) && basis.params === s.params && basis.input === s.input && basis.label === s.label;

const cleared = { phase: "forward", fwd: null, bwd: null, basis: null, lastUpdate: null, gradcheck: null };

// The iteration's update is done: its record, the new parameters, and the next iteration starts.
export function pushIteration(newParams, record, lastUpdate) {
  const iteration = state.iteration + 1;
  commit({
    losses: [...state.losses, record], params: newParams, iteration, phase: "forward", lastUpdate,
    history: [...state.history, { iteration, params: newParams, losses: state.losses.length + 1 }],
  });
}

// Parameters from elsewhere (a training run): a new iteration starts from them.
export function adoptParams(params) {
  const iteration = state.iteration + 1;
  commit({
    ...cleared, params, iteration,
    history: [...state.history, { iteration, params, losses: state.losses.length, trained: true }],
  });
}

// Back to the start of iteration `iteration` (its parameters exactly as they were).
export function restore(iteration) {
  const i = state.history.findIndex((h) => h.iteration === iteration);
  if (i < 0) return false;
  const snap = state.history[i];
  commit({
    ...cleared, history: state.history.slice(0, i + 1), params: snap.params, iteration: snap.iteration,
    losses: state.losses.slice(0, snap.losses),
  });
  return true;
}

// Undo: mid-iteration, back to its start; at an iteration's start, back to the one before.
export function undo() {
  // Phase "forward" is an iteration's start even when `fwd` still shows the last one (after Step/Update).
  // So is a trained iteration with only its Forward done (the page runs it after training): Undo undoes the run.
  const trainedStart = state.phase === "backward" && state.history.at(-1)?.trained;
  if (state.phase !== "forward" && !trainedStart) return restore(state.iteration);
  if (state.history.length < 2) return false;
  return restore(state.history[state.history.length - 2].iteration);
}

// A deliberate weight edit: the iteration's starting snapshot follows it.
export function editParams(params) {
  const history = [...state.history.slice(0, -1), { ...state.history.at(-1), params }];
  commit({ params, history, gradcheck: null });
}

export function exportable() {
  return {
    app: "backprop-viz",
    version: STATE_VERSION,
    network: state.network,
    params: state.params,
    input: state.input,
    label: state.label,
    learning_rate: state.lr,
    seed: state.seed,
    iteration: state.iteration,
    losses: state.losses,
    history: state.history,
  };
}

const isObj = (x) => x !== null && typeof x === "object" && !Array.isArray(x);
const finiteNum = (x) => typeof x === "number" && Number.isFinite(x);

// Same nesting and lengths as `ref`, finite numbers at the leaves (the API's array rules).
// `ref` comes from the same file, so a pathological depth throws a RangeError, which
// importState reports as such.
function sameShape(a, ref) {
  if (Array.isArray(ref)) return Array.isArray(a) && a.length === ref.length && a.every((v, i) => sameShape(v, ref[i]));
  return finiteNum(a);
}

function paramsLike(p, ref) {
  return isObj(p) && Object.keys(p).length === Object.keys(ref).length && Object.keys(ref).every((k) => sameShape(p[k], ref[k]));
}

// Structural check of a state file; the server then checks the network, params, input and
// label with the API's own rules, and every history snapshot must match those params' shapes.
export function checkStateFile(data) {
  if (!isObj(data) || data.app !== "backprop-viz") return "not a backprop-viz state file (no \"app\": \"backprop-viz\")";
  if (data.version !== STATE_VERSION) return `state file version ${data.version} is not supported (expected ${STATE_VERSION})`;
  if (!isObj(data.network)) return "network must be an object";
  if (!isObj(data.params)) return "params must be an object";
  if (!Array.isArray(data.input)) return "input must be an array";
  if (!finiteNum(data.label)) return "label must be a number";
  if (!finiteNum(data.learning_rate) || data.learning_rate <= 0) return "learning_rate must be a positive number";
  if (!Number.isInteger(data.iteration) || data.iteration < 1) return "iteration must be a whole number from 1";
  if (!Array.isArray(data.losses) || !data.losses.every((l) => isObj(l) && finiteNum(l.loss)))
    return "losses must be a list of {iteration, loss, loss_after}";
  if (!Array.isArray(data.history) || !data.history.every((h) => isObj(h) && isObj(h.params) && Number.isInteger(h.iteration)))
    return "history must be a list of {iteration, params, losses}";
  const bad = data.history.findIndex((h) => !paramsLike(h.params, data.params));
  if (bad >= 0) return `history[${bad}].params do not have the shapes of params (or hold a non-number)`;
  if (!data.losses.every((l) => l.loss_after === undefined || l.loss_after === null || finiteNum(l.loss_after)))
    return "losses[].loss_after must be numbers";
  return null;
}

export function applyStateFile(data) {
  commit({
    ...cleared,
    network: data.network,
    params: data.params,
    input: data.input,
    label: data.label,
    lr: data.learning_rate,
    seed: Number.isInteger(data.seed) ? data.seed : 0,
    iteration: data.iteration,
    losses: data.losses,
    history: data.history.length ? data.history : [{ iteration: data.iteration, params: data.params, losses: data.losses.length }],
  });
}

export function save() {
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify(exportable()));
  } catch {
    // Storage full or disabled: the page still works, it just will not survive a reload.
  }
}

export function loadSaved() {
  try {
    const raw = localStorage.getItem(STORAGE_KEY);
    if (!raw) return null;
    const data = JSON.parse(raw);
    return checkStateFile(data) ? null : data;
  } catch {
    return null;
  }
}

export function forgetSaved() {
  try {
    localStorage.removeItem(STORAGE_KEY);
  } catch {
    /* nothing saved */
  }
}

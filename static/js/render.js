// Every view drawn from one state of the store: what it shows is that state's, or it says
// which iteration and phase its numbers belong to (data-iteration / data-current for tests).
import { $, el, options } from "./dom.js";
import { renderGradcheck } from "./gradcheck.js";
import { fmt } from "./heatmap.js";
import { drawInput } from "./input.js";
import { syncSelection } from "./select.js";
import { isCurrent, save } from "./state.js";
import { clearForward, drawBackward, drawForward, drawParams, hideGradients, summary } from "./strip.js";
import { classNames } from "./train.js";
import { renderLossCurve, renderUpdate } from "./update.js";

const PHASES = { forward: "Forward", backward: "Backward", update: "Update" };

// What the strip, the equations and the prediction show, in words.
export function moment(s) {
  if (!s.fwd) return { iteration: s.iteration, current: true, text: `iteration ${s.iteration}: nothing computed yet; press Forward (F)` };
  const k = s.basis.iteration;
  const what = s.bwd ? "forward and backward pass" : "forward pass";
  if (isCurrent(s)) return { iteration: k, current: true, text: `iteration ${k}: ${what} of the current example and parameters` };
  return {
    iteration: k, current: false,
    text: `iteration ${k}: its ${what}, with its parameters from before its update (now iteration ${s.iteration}'s); press Forward (F) to run them`,
  };
}

function showMoment(m) {
  for (const id of ["strip-moment", "eq-moment", "pred-moment"]) {
    const box = $(id);
    if (!box) continue;
    box.textContent = m.text;
    box.dataset.iteration = String(m.iteration);
    box.dataset.current = m.current ? "1" : "0";
    box.classList.toggle("stale", !m.current);
  }
}

// The history list as last built, rebuilt only when the history changed.
let listed = null;

function status(s) {
  $("next-phase").textContent = PHASES[s.phase];
  $("iteration").textContent = `iteration ${s.iteration}`;
  if (listed !== s.history) {
    const last = s.history.at(-1)?.iteration;
    options($("history"), s.history.map((h) => [h.iteration, h.iteration === last
      ? `start of iteration ${h.iteration} (now)` : `start of iteration ${h.iteration} (drops the ${last - h.iteration} after it)`]));
    listed = s.history;
  }
  $("history").value = String(s.history.at(-1)?.iteration ?? 1);
  document.body.dataset.phase = s.phase;
}

// The predicted class and a bar per class probability, named after the dataset's classes.
function renderPrediction(p) {
  const box = $("prediction");
  box.replaceChildren();
  if (!p) return;
  const names = classNames(summary.layers.at(-1).out_shape[0]) ?? p.probabilities.map((_, i) => String(i));
  const list = el("div", "probs");
  p.probabilities.forEach((v, i) => {
    const row = el("div", `prob${i === p.class ? " top" : ""}`);
    const bar = el("div", "pbar");
    bar.style.width = `${Math.max(1, 100 * v)}%`;
    row.append(el("span", "", names[i]), bar, el("span", "", fmt(v, 3)));
    list.append(row);
  });
  box.append(el("div", "", `prediction: ${names[p.class]} (class ${p.class})`), list);
}

let drawnLosses = null;

const fitsSummary = (params) =>
  Boolean(params) && summary.layers.flatMap((l) => Object.keys(l.params)).join() === Object.keys(params).join();

export async function renderAll(s, { animate = false, paint, editWeight } = {}) {
  status(s);
  // A network being switched: its views are not built yet, or its arrays are not there yet.
  if (!summary || s.network !== summary.network || !fitsSummary(s.params)) return;
  const m = moment(s);
  showMoment(m);
  const jobs = [drawInput($("input-grid"), s.input, paint), drawParams(s.params, editWeight)];
  if (s.fwd) jobs.push(drawForward(s.fwd));
  else clearForward();
  renderPrediction(s.fwd?.prediction);
  const upd = s.lastUpdate;
  $("loss-after").textContent = upd && s.fwd && upd.iteration === s.basis.iteration ? `after update: ${fmt(upd.loss_after, 5)}` : "";
  jobs.push(renderUpdate($("update"), upd));
  if (drawnLosses !== s.losses) {
    drawnLosses = s.losses;
    jobs.push(renderLossCurve($("loss-curve"), s.losses));
  }
  const gc = s.gradcheck && isCurrent(s, s.gradcheck.basis) ? s.gradcheck.result : null;
  $("gradcheck-section").hidden = !gc;
  if (gc) renderGradcheck($("gradcheck"), gc);
  else $("gradcheck").replaceChildren();
  await Promise.all(jobs);
  if (s.bwd) await drawBackward(s.bwd, { animate });
  else hideGradients();
  await syncSelection(s);
  // A parameter's gradient belongs under it only while it is the gradient of these parameters.
  if (s.bwd && !m.current) for (const e of document.querySelectorAll(".pgrad-wrap")) e.classList.add("hidden");
  save(s);
}

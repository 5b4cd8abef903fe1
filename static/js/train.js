// Datasets and training: pick a dataset, train with a live progress bar and curve (NDJSON
// stream from POST /api/train, cancellable), and pick dataset examples as the input.

import { api, jsonPost, parse } from "./api.js";
import { $, options } from "./dom.js";

let datasets = [];
let controller = null;
let offset = 0;

function currentDataset() {
  return datasets.find((d) => d.name === $("ds-name").value) ?? null;
}

function selectedClasses() {
  const text = $("ds-classes").value.trim();
  if (!text) return null;
  return text.split(",").map((t) => Number(t.trim()));
}

// Class names for the network's outputs when the chosen dataset (and classes) match it.
export function classNames(units) {
  const d = currentDataset();
  if (!d) return null;
  const picked = selectedClasses();
  const names = picked ? picked.map((c) => d.classes[c] ?? String(c)) : d.classes;
  return names.length === units || (units === 1 && names.length === 2) ? names : null;
}

function thumb(input) {
  const [c, h, w] = [input.length, input[0].length, input[0][0].length];
  const canvas = document.createElement("canvas");
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(w, h);
  for (let r = 0; r < h; r++) for (let q = 0; q < w; q++) {
    const k = 4 * (r * w + q);
    const rgb = c === 3 ? [0, 1, 2].map((i) => input[i][r][q]) : [0, 0, 0].map(() => input[0][r][q]);
    // Ink dark on white, as the digits were written.
    for (let i = 0; i < 3; i++) img.data[k + i] = Math.round(255 * (1 - Math.min(1, Math.max(0, rgb[i]))));
    img.data[k + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  return canvas;
}

function describe() {
  const d = currentDataset();
  if (!d) return;
  $("ds-info").textContent = `${d.description}. Input ${d.input_shape.join("×")}, classes ${d.classes.join(", ")}; ` +
    `${d.train_size} train / ${d.test_size} test (fixed seeded split). Licence ${d.licence}. Source: ${d.source}.`;
}

export async function loadSamples(actions) {
  const d = currentDataset();
  if (!d) return;
  let data;
  try {
    data = await spreadSamples(d);
  } catch (err) {
    actions.toast(err.message);
    return;
  }
  $("ds-samples").replaceChildren(...mixed(data.samples, SHOWN).map((s) => {
    const b = document.createElement("button");
    b.className = "sample";
    b.title = `${data.split} #${s.index}: ${s.class_name} (label ${s.label})`;
    b.dataset.index = String(s.index);
    b.append(thumb(s.input));
    const cap = document.createElement("span");
    cap.textContent = s.class_name;
    b.append(cap);
    b.addEventListener("click", () => actions.useExample(s.input, s.label, d.input_shape));
    return b;
  }));
  if (data.total) offset = (offset + SHOWN) % data.total;
}

// The splits are stored grouped by class (the first 64 "bars" test examples are all horizontal),
// so the page reads SHOWN examples at each of PARTS points spread over the split and shows
// their classes in turn.
const SHOWN = 12;
const PARTS = 4;

async function spreadSamples(d) {
  const classes = $("ds-classes").value.trim();
  const url = (at) => `/api/datasets/${encodeURIComponent(d.name)}/samples?split=${$("ds-split").value}&offset=${at}` +
    `&count=${SHOWN}${classes ? `&classes=${encodeURIComponent(classes)}` : ""}`;
  const first = await api.get(url(offset));
  const stride = Math.floor(first.total / PARTS);
  if (stride < SHOWN) return first;
  const rest = await Promise.all(Array.from({ length: PARTS - 1 }, (_, j) => api.get(url((offset + (j + 1) * stride) % first.total))));
  return { ...first, samples: [first, ...rest].flatMap((r) => r.samples) };
}

function mixed(samples, n) {
  const byClass = new Map();
  for (const s of samples) {
    if (!byClass.has(s.label)) byClass.set(s.label, []);
    byClass.get(s.label).push(s);
  }
  const queues = [...byClass.values()];
  const out = [];
  for (let i = 0; out.length < n && queues.some((q) => i < q.length); i++) for (const q of queues) if (i < q.length && out.length < n) out.push(q[i]);
  return out;
}

function drawCurve(history, total) {
  const x = history.map((p) => p.iteration);
  // eslint-disable-next-line no-undef
  Plotly.react($("tr-curve"), [
    { x, y: history.map((p) => p.loss), name: "training loss", mode: "lines", line: { color: "#1f3b57" } },
    // The train line wide and dotted under the thin test line: where they agree, both still show.
    { x, y: history.map((p) => p.train_accuracy), name: "train accuracy", mode: "lines", yaxis: "y2", line: { color: "#2a9d8f", width: 4, dash: "dot" } },
    { x, y: history.map((p) => p.test_accuracy), name: "test accuracy", mode: "lines", yaxis: "y2", line: { color: "#c0601a", width: 1.5 } },
  ], {
    height: 190, margin: { l: 40, r: 44, t: 6, b: 30 }, legend: { orientation: "h", y: 1.2, font: { size: 10 } },
    // From iteration 0, where the run's first point (before its first step) is.
    xaxis: { title: { text: "iteration" }, range: [0, Math.max(1, total)] }, yaxis: { title: { text: "loss" }, rangemode: "tozero" },
    yaxis2: { overlaying: "y", side: "right", range: [0, 1.02], tickvals: [0, 0.25, 0.5, 0.75, 1], tickformat: ".0%", title: { text: "accuracy" } },
    paper_bgcolor: "rgba(0,0,0,0)",
  }, { displayModeBar: false, responsive: true });
}

// Wait `seconds` unless the run is cancelled first, counting down in the status line.
function countdown(seconds, signal, say) {
  return new Promise((resolve, reject) => {
    let left = seconds;
    say(left);
    const tick = setInterval(() => { left -= 1; if (left > 0) say(left); }, 1000);
    const done = setTimeout(() => { clearInterval(tick); signal.removeEventListener("abort", stop); resolve(); }, seconds * 1000);
    function stop() { clearInterval(tick); clearTimeout(done); reject(new DOMException("cancelled", "AbortError")); }
    signal.addEventListener("abort", stop, { once: true });
  });
}

// POST the run; while the server's queue is full (429) ask again by itself, after its Retry-After
// or a doubling backoff (at most a minute), saying so: a full queue is a wait, not an error.
async function requestRun(body, signal) {
  for (let attempt = 0; ; attempt++) {
    const r = await fetch("/api/train", jsonPost(body, { signal }));
    if (r.status !== 429) {
      if (!r.ok) await parse(r);
      return r;
    }
    await r.text();
    const wait = Math.min(60, Math.max(Number(r.headers.get("retry-after")) || 1, 2 ** attempt));
    await countdown(wait, signal, (left) => {
      $("tr-status").textContent = `the server's queue is full; retrying in ${left} s`;
    });
    $("tr-status").textContent = "starting…";
  }
}

function showQueued(event) {
  const runs = event.ahead === 1 ? "run" : "runs";
  $("tr-status").textContent = `queued, ${event.ahead} ${runs} ahead of you (about ${Math.round(event.estimate_s)} s)`;
}

async function train(actions) {
  document.body.dataset.training = "1"; // before the first await: a test's wait for "0" then means this run ended
  const s = await actions.trainingStart(); // the current parameters, or fresh ones from the seed
  if (!s) { document.body.dataset.training = "0"; return; }
  const d = currentDataset();
  const body = {
    network: s.network, params: s.params, dataset: d.name, classes: selectedClasses(),
    iterations: Number($("tr-iterations").value), batch_size: Number($("tr-batch").value),
    learning_rate: Number($("tr-lr").value), optimizer: $("tr-optimizer").value, seed: s.seed, stream: true,
    points: 25,
  };
  controller = new AbortController();
  const history = [];
  $("btn-train").disabled = true;
  $("btn-cancel").hidden = false;
  $("tr-bar").style.width = "0%";
  $("tr-status").textContent = "starting…";
  document.body.dataset.training = "1";
  try {
    // Streamed NDJSON, so fetch itself (api's calls read one JSON document); an error status is still parsed the same way.
    const r = await requestRun(body, controller.signal);
    const reader = r.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    let result = null;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let nl;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const event = JSON.parse(buffer.slice(0, nl));
        buffer = buffer.slice(nl + 1);
        if (event.type === "queued") {
          showQueued(event);
        } else if (event.type === "start") {
          history.push(event.initial); // where the run starts from: the curve's point at iteration 0
          drawCurve(history, event.iterations);
          $("tr-status").textContent = "starting…";
        } else if (event.type === "progress") {
          history.push(event);
          $("tr-bar").style.width = `${(100 * event.iteration) / event.total}%`;
          $("tr-status").textContent = `iteration ${event.iteration} of ${event.total}: loss ${event.loss?.toFixed(4)}, ` +
            `train ${(100 * event.train_accuracy).toFixed(1)}%, test ${(100 * event.test_accuracy).toFixed(1)}%`;
          drawCurve(history, event.total);
        } else if (event.type === "done" || event.type === "diverged") {
          result = event;
        } else if (event.type === "error") {
          throw new Error(event.detail);
        }
      }
    }
    if (!result) throw new Error("the training stream ended early");
    const last = result.history.at(-1);
    $("tr-status").textContent = result.status === "diverged"
      ? `diverged at iteration ${result.diverged_at} (the loss or an update was not finite): kept the last finite parameters. Lower η.`
      : `done: ${result.iterations_done} iterations, test accuracy ${(100 * last.test_accuracy).toFixed(1)}%. The page now uses the trained parameters.`;
    $("tr-status").className = `small ${result.status === "diverged" ? "bad" : "ok"}`;
    await actions.trained(result.params, result);
  } catch (err) {
    if (err.name === "AbortError") {
      // The bar would still say how far a run got that no longer exists: it empties, and the status says it.
      const got = $("tr-bar").style.width;
      $("tr-bar").style.width = "0%";
      $("tr-status").textContent = `cancelled (it had reached ${got || "0%"}): the parameters are unchanged`;
      $("tr-status").className = "small muted";
    } else {
      $("tr-status").textContent = err.message;
      $("tr-status").className = "small bad";
    }
  } finally {
    controller = null;
    $("btn-train").disabled = false;
    $("btn-cancel").hidden = true;
    document.body.dataset.training = "0";
  }
}

export async function bindTraining(actions) {
  datasets = (await api.get("/api/datasets")).datasets;
  options($("ds-name"), datasets.map((d) => [d.name, `${d.name} (${d.input_shape.slice(1).join("×")}, ${d.classes.length} classes)`]));
  $("ds-name").addEventListener("change", () => { offset = 0; describe(); loadSamples(actions); });
  $("ds-classes").addEventListener("change", () => { offset = 0; loadSamples(actions); });
  $("ds-split").addEventListener("change", () => { offset = 0; loadSamples(actions); });
  $("ds-more").addEventListener("click", () => loadSamples(actions));
  $("btn-train").addEventListener("click", () => train(actions));
  $("btn-cancel").addEventListener("click", () => controller?.abort());
  describe();
  await loadSamples(actions);
}

// A preset's dataset and the training settings known to work for it.
export function chooseDataset(name, classes, train) {
  if (!datasets.some((d) => d.name === name)) return;
  $("ds-name").value = name;
  $("ds-classes").value = classes ? classes.join(",") : "";
  if (train) {
    $("tr-optimizer").value = train.optimizer;
    $("tr-lr").value = String(train.lr);
    $("tr-iterations").value = String(train.iterations);
    $("tr-batch").value = String(train.batch);
  }
  offset = 0;
  describe();
}

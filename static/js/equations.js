// The seed's formulas with this example's numbers substituted. Every value shown comes from
// the API; the page only lays numbers side by side (it computes nothing).
import { fmt } from "./heatmap.js";
import { formulaOf, layerInfo } from "./registry.js";
import { stages, summary } from "./strip.js";

const f = (v) => fmt(v, 3);
const paren = (v) => (v < 0 ? `(${f(v)})` : f(v));
const vec = (a) => `[${a.map(f).join(", ")}]`;
const MAX_TERMS = 9;

function terms(pairs) {
  const shown = pairs.slice(0, MAX_TERMS).map(([a, b]) => `${paren(a)}·${paren(b)}`);
  if (pairs.length > MAX_TERMS) shown.push(`… (${pairs.length - MAX_TERMS} more)`);
  return shown.join(" + ");
}

function line(container, label, body, cls = "") {
  const p = document.createElement("p");
  p.className = `eq ${cls}`;
  const b = document.createElement("span");
  b.className = "eq-label";
  b.textContent = label;
  const t = document.createElement("span");
  t.className = "eq-body";
  t.textContent = body;
  p.append(b, t);
  container.append(p);
}

function heading(container, text) {
  const h = document.createElement("h3");
  h.textContent = text;
  container.append(h);
}

const first2d = (a) => (Array.isArray(a[0]) && Array.isArray(a[0][0]) ? a[0] : a);

// A layer type with no worked example here: its formula from the registry and its first values.
function fallbackLine(box, s, out) {
  const flat = [out].flat(Infinity);
  line(box, formulaOf(s.layer, s.input), `${s.name} = ${vec(flat.slice(0, 8))}${flat.length > 8 ? " …" : ""}`);
}

function forwardLines(box, fwd, params, label) {
  heading(box, "Forward");
  const acts = fwd.activations;
  for (const s of stages().slice(1)) {
    const l = s.layer;
    const out = acts[s.name];
    const inp = acts[s.input];
    const [W, b] = Object.keys(l.params);
    if (l.type === "conv2d") {
      const [kh, kw] = l.kernel_size;
      const [ph, pw] = l.padding;
      const w = params[W][0];
      const pairs = [];
      w.forEach((plane, c) => {
        for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) {
          const r = i - ph;
          const q = j - pw;
          const x = r >= 0 && q >= 0 && r < inp[c].length && q < inp[c][0].length ? inp[c][r][q] : 0;
          pairs.push([x, plane[i][j]]);
        }
      });
      line(box, `${s.name} = Conv(${s.input}, ${W}) + ${b}`,
        `${s.name}[0,0] = Σ ${s.input}·${W} + ${b} = ${terms(pairs)} + ${paren(params[b][0])} = ${f(out[0][0][0])}`);
    } else if (l.type === "relu") {
      const z = first2d(inp)[0][0];
      line(box, `${s.name} = ReLU(${s.input})`, `${s.name}[0,0] = max(0, ${f(z)}) = ${f(first2d(out)[0][0])}`);
    } else if (l.type === "maxpool2d") {
      const [kh, kw] = l.kernel_size;
      const a = first2d(inp);
      const cells = [];
      for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) cells.push(f(a[i][j]));
      line(box, `${s.name} = MaxPool(${s.input})`,
        `${s.name}[0,0] = max(${s.input}[0:${kh}, 0:${kw}]) = max(${cells.join(", ")}) = ${f(first2d(out)[0][0])}`);
    } else if (l.type === "flatten") {
      line(box, `${s.name} = Flatten(${s.input})`, `${s.name} = ${vec(out.slice(0, 12))}${out.length > 12 ? " …" : ""}`);
    } else if (l.type === "dense") {
      const pairs = inp.map((x, i) => [x, params[W][0][i]]);
      line(box, `${s.name} = ${s.input}${W} + ${b}`,
        `${s.name}[0] = ${terms(pairs)} + ${paren(params[b][0])} = ${f(out[0])}`);
    } else if (l.type === "sigmoid") {
      line(box, `${s.name} = σ(${s.input})`, `${s.name} = 1 / (1 + e^(−${paren(inp[0])})) = ${f(out[0])}`);
    } else if (l.type === "softmax") {
      line(box, `${s.name} = softmax(${s.input})`, `${s.name} = ${vec(out)}`);
    } else {
      fallbackLine(box, s, out);
    }
  }
  const a = acts[stages().at(-1).name];
  if (fwd.loss !== undefined && fwd.loss !== null) {
    if (summary.network.loss === "bce") {
      line(box, "L = −Y log(A2) − (1 − Y) log(1 − A2)",
        `L = −${label}·log(${f(a[0])}) − ${1 - label}·log(${f(fwd.prediction.probabilities[0])}) = ${fmt(fwd.loss, 4)}`, "loss");
    } else {
      line(box, "L = −log(A[Y])", `L = −log(${f(a[label])}) = ${fmt(fwd.loss, 4)}`, "loss");
    }
  }
}

function backwardLines(box, bwd, params, label) {
  heading(box, "Backward (chain rule)");
  const g = bwd.gradients;
  const acts = bwd.activations;
  const all = stages();
  const out = all.at(-1);
  const logits = all.at(-2);
  const A = acts[out.name];
  const dz = g[`d${logits.name}`];
  if (summary.network.loss === "bce") {
    const local = bwd.local[`d${out.name}/d${logits.name}`];
    line(box, `∂L/∂${out.name} = (a − Y) / (a(1 − a))`,
      `= (${f(A[0])} − ${label}) / (${f(A[0])} · ${f(bwd.prediction.probabilities[0])}) = ${f(g[`d${out.name}`][0])}`);
    line(box, `∂${out.name}/∂${logits.name} = a(1 − a)`, `= ${f(A[0])} · ${f(bwd.prediction.probabilities[0])} = ${f(local[0])}`);
    line(box, `∂L/∂${logits.name} = ∂L/∂${out.name} × ∂${out.name}/∂${logits.name} = ${out.name} − Y`,
      `= ${f(g[`d${out.name}`][0])} × ${f(local[0])} = ${f(A[0])} − ${label} = ${f(dz[0])}`, "key");
  } else {
    line(box, `∂L/∂${logits.name} = ${out.name} − onehot(Y)`, `= ${vec(dz)}`, "key");
  }
  for (let i = all.length - 2; i >= 1; i--) {
    const s = all[i];
    const l = s.layer;
    const [W, b] = Object.keys(l.params);
    const dOut = g[`d${s.name}`];
    const dIn = g[`d${s.input}`];
    if (l.type === "dense") {
      const inp = acts[s.input];
      line(box, `∂L/∂${W} = (∂L/∂${s.name}) ${s.input}ᵀ`, `= ${paren(dOut[0])} × ${vec(inp.slice(0, 8))} = ${vec(g[`d${W}`][0].slice(0, 8))}`);
      line(box, `∂L/∂${b} = ∂L/∂${s.name}`, `= ${f(g[`d${b}`][0])}`);
      if (dIn) line(box, `∂L/∂${s.input} = ${W}ᵀ (∂L/∂${s.name})`, `= ${vec(params[W][0].slice(0, 8))} × ${paren(dOut[0])} = ${vec(dIn.slice(0, 8))}`);
    } else if (l.type === "flatten" && dIn) {
      line(box, `∂L/∂${s.input} = reshape(∂L/∂${s.name}, ${s.input}.shape)`, `= ${JSON.stringify(first2d(dIn).map((r) => r.map((v) => Number(f(v)))))}`);
    } else if (l.type === "maxpool2d" && dIn) {
      const mask = first2d(bwd.masks[s.name]);
      const routed = [];
      mask.forEach((row, r) => row.forEach((v, c) => { if (v > 0.5) routed.push(`${s.input}[${r},${c}] ← ${f(first2d(dIn)[r][c])}`); }));
      line(box, `∂L/∂${s.input} = ∂L/∂${s.name} at each window's max cell, 0 elsewhere`, routed.slice(0, 6).join("; ") + (routed.length > 6 ? "; …" : ""));
    } else if (l.type === "relu" && dIn) {
      const pass = first2d(bwd.local[`d${s.name}/d${s.input}`]);
      const n = pass.flat().filter((v) => v > 0.5).length;
      line(box, `∂L/∂${s.input} = ∂L/∂${s.name} ⊙ 1[${s.input} > 0]`, `${n} of ${pass.flat().length} cells of ${s.input} are > 0 and pass gradient; the rest get 0`);
    } else if (l.type === "sigmoid" && dIn) {
      line(box, `∂L/∂${s.input} = ∂L/∂${s.name} ⊙ ${s.name}(1 − ${s.name})`, `element-wise, with the local factor from the API`);
    } else if (!["dense", "flatten", "maxpool2d", "relu", "sigmoid", "conv2d"].includes(l.type) && dIn) {
      line(box, `∂L/∂${s.input} = ∂L/∂${s.name} · ∂${s.name}/∂${s.input}`, `${layerInfo(l.type).description || "the chain rule through this layer"} (values in the strip)`);
    } else if (l.type === "conv2d") {
      const x = first2d(acts[s.input]);
      const d = first2d(dOut);
      const [ph, pw] = l.padding;
      const [sh, sw] = l.stride;
      const pairs = [];
      d.forEach((row, r) => row.forEach((v, c) => {
        const xr = r * sh - ph;
        const xc = c * sw - pw;
        if (v !== 0) pairs.push([xr >= 0 && xc >= 0 && xr < x.length && xc < x[0].length ? x[xr][xc] : 0, v]);
      }));
      line(box, `∂L/∂${W} = Conv(${s.input}, ∂L/∂${s.name})`,
        `∂L/∂${W}[0,0] = Σ ${s.input}·d${s.name} = ${pairs.length ? terms(pairs) : "0 (no cell passes gradient)"} = ${f(first2d(g[`d${W}`][0])[0][0])}`);
      line(box, `∂L/∂${b} = Σ ∂L/∂${s.name}`, `= ${f(g[`d${b}`][0])}`);
    }
  }
}

export function renderEquations(box, { fwd, bwd, params, label }) {
  box.replaceChildren();
  if (!fwd) {
    const p = document.createElement("p");
    p.className = "muted";
    p.textContent = "Press Forward (F) to compute this iteration.";
    box.append(p);
    return;
  }
  forwardLines(box, fwd, params, label);
  if (bwd) backwardLines(box, bwd, params, label);
}

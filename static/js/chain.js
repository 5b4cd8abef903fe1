// The chain-rule panel: for the selected cell, the chain of rules from it back to the loss,
// each line true arithmetic on the API's numbers. A line shows its terms (the largest ones when
// there are many, with the sum of the others stated), each term its factors, and the result;
// then the line of the upstream gradient in the largest term, until the loss's fused dZ.
import { api } from "./api.js";
import { el } from "./dom.js";
import { cellName, num } from "./explain.js";

const MAX_LINES = 10;
const SHOWN = 3; // terms written out per line; the rest are summed in one number

const isGradient = (name) => name?.startsWith("d") && !name.includes("/");

function n(v, cls = "num") {
  const s = el("span", cls, num(v));
  s.dataset.value = String(v);
  s.title = String(v);
  return s;
}

function termNode(t) {
  const box = el("span", "term");
  box.dataset.testid = "chain-term";
  t.factors.forEach((f, i) => {
    if (i) box.append(" × ");
    const name = f.array === null ? f.label : cellName(f.array, f.index);
    const fac = el("span", "factor");
    fac.dataset.testid = "chain-factor";
    fac.append(`${name} `, n(f.value));
    box.append(fac);
  });
  if (t.factors.length > 1) box.append(" = ", n(t.value, "num tval"));
  return box;
}

// One line: the cell = its terms (written out, or the largest and the rest's sum) = result.
function line(expl) {
  const p = el("p", "chain-line");
  p.dataset.testid = "chain-line";
  p.dataset.op = expl.op;
  p.append(el("strong", "", cellName(expl.array, expl.index)), " = ");
  const order = expl.terms.map((t, k) => k);
  if (expl.op === "sum" && order.length > SHOWN + 1) order.sort((a, b) => Math.abs(expl.terms[b].value) - Math.abs(expl.terms[a].value));
  const shown = expl.op === "sum" ? order.slice(0, order.length > SHOWN + 1 ? SHOWN : order.length) : order;
  const wrap = expl.op === "sum" ? "" : `${expl.op}(`;
  if (wrap) p.append(wrap);
  shown.forEach((k, i) => { if (i) p.append(expl.op === "sum" ? " + " : ", "); p.append("(", termNode(expl.terms[k]), ")"); });
  if (shown.length < expl.terms.length) {
    const rest = order.slice(shown.length);
    const sum = rest.reduce((a, k) => a + expl.terms[k].value, 0);
    const others = el("span", "rest");
    others.dataset.testid = "chain-rest";
    others.append(`the other ${rest.length} terms `, n(sum));
    p.append(" + (", others, ")");
  }
  if (!expl.terms.length) p.append(expl.op === "given" ? "given" : "0 (no terms)");
  if (wrap) p.append(")");
  p.append(" = ", n(expl.value, "num total"));
  return p;
}

// The upstream gradient to follow: the gradient factor of the largest term.
function upstream(expl) {
  let best = null;
  for (const t of expl.terms) {
    const g = t.factors.find((f) => isGradient(f.array) && f.array !== expl.array);
    if (g && (best === null || Math.abs(t.value) > Math.abs(best.t.value))) best = { t, g };
  }
  return best?.g ?? null;
}

// Where a chain starts for a selected cell: a gradient as it is; an activation at its own
// gradient; an updated parameter at its update, then its gradient.
function start(array, index, names) {
  if (isGradient(array) || array === "L") return [[array, index]];
  if (array.endsWith("_new")) return [[array, index], [`d${array.slice(0, -4)}`, index]];
  return names.has(`d${array}`) ? [[array, index], [`d${array}`, index]] : [[array, index]];
}

export async function renderChain(root, state, selected, names) {
  root.replaceChildren(el("p", "muted", `Following ${cellName(selected.array, selected.index)} back to the loss…`));
  const lines = [];
  const todo = start(selected.array, selected.index, names);
  let next = todo.shift();
  while (next && lines.length < MAX_LINES) {
    const expl = await api.explain(state, next[0], next[1]);
    lines.push(line(expl));
    const up = todo.length ? null : upstream(expl);
    next = todo.shift() ?? (up ? [up.array, up.index] : null);
  }
  const intro = el("p", "muted small", "Each line is the rule of one cell with this example's numbers; the chain follows "
    + "the upstream gradient in the largest term of each line back to the loss.");
  root.replaceChildren(intro, ...lines);
}

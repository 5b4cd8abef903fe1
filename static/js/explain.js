// The detail view: click any cell and see how it was computed. The engine explains (POST
// /api/explain answers the rule, every term with its numbers and where each comes from);
// this module only displays it: the rule as MathML (parsed as XML, never set as HTML), the
// terms with this example's numbers, the result, a sentence for the learner, and the source
// cells, which the page highlights on the strip. "Walk through" steps through the terms one
// at a time, moving the highlight.
import { api } from "./api.js";
import { el } from "./dom.js";

const SHOWN_TERMS = 48; // rows before "show all"
const WALK_MS = 700;

// A number as the detail view prints it: 4 significant digits (the exact value is in the title).
export function num(v) {
  if (v === null || v === undefined) return "n/r";
  if (v === 0) return "0";
  const a = Math.abs(v);
  return a >= 1e-3 && a < 1e5 ? String(Number(v.toPrecision(4))) : v.toExponential(3);
}

function numSpan(v, cls = "num") {
  const s = el("span", cls, num(v));
  s.title = v === null ? "not representable in float64" : String(v);
  s.dataset.value = String(v);
  return s;
}

export const cellName = (array, index) => (index.length ? `${array}[${index.join(",")}]` : array);

function factorNode(f) {
  const box = el("span", "factor");
  box.dataset.source = f.array ?? "";
  if (f.index) box.dataset.index = f.index.join(",");
  const name = f.array === null ? f.label : cellName(f.array, f.index);
  box.append(el("span", f.padding ? "fname padding" : "fname", f.padding ? `${name} (padding)` : name), " = ",
    numSpan(f.value));
  return box;
}

function termRow(t, k, expl) {
  const tr = document.createElement("tr");
  tr.dataset.term = String(k);
  if (expl.winner === k) tr.classList.add("winner");
  if (expl.tied?.includes(k) && expl.tied.length > 1) tr.classList.add("tied");
  const what = document.createElement("td");
  t.factors.forEach((f, i) => { if (i) what.append(" × "); what.append(factorNode(f)); });
  const value = document.createElement("td");
  value.append(numSpan(t.value));
  tr.append(el("td", "muted", String(k + 1)), what, value);
  return tr;
}

// What the op does with the terms, in words, with the result.
function resultLine(expl) {
  const line = el("p", "result");
  line.dataset.testid = "explain-result";
  line.append(`${expl.how} = `, numSpan(expl.value, "num total"));
  if (expl.op === "max" && expl.tied?.length > 1)
    line.append(el("span", "muted", ` — terms ${expl.tied.map((k) => k + 1).join(", ")} tie; the ${expl.tie_rule} wins (term ${expl.winner + 1})`));
  else if (expl.op === "max") line.append(el("span", "muted", ` — term ${expl.winner + 1} wins`));
  return line;
}

// The rule as MathML from the server, parsed as XML (no HTML parsing of server text).
function mathNode(expl) {
  const doc = new DOMParser().parseFromString(expl.rule_mathml, "application/xml");
  if (doc.getElementsByTagName("parsererror").length) return el("code", "latex", expl.rule);
  return document.importNode(doc.documentElement, true);
}

// A pool cell's windows: each one it is in, whether it won it, and if not, which cell did
// (the window's gradient went there instead).
function windowList(expl) {
  const list = el("ul", "windows small");
  list.dataset.testid = "explain-windows";
  for (const w of expl.windows) {
    const item = el("li", w.won ? "won" : "lost", `${w.won ? "won" : "lost"} window ${cellName(w.array, w.index)}`);
    if (w.won) item.append(": its gradient comes here");
    else item.append(" to ", factorNode(w.winner), ", where its gradient went");
    list.append(item);
  }
  return list;
}

// The winners of the windows a pool cell lost, outlined dashed on the strip.
export const lostTo = (expl) => (expl.windows ?? []).filter((w) => !w.won).map((w) => w.winner);

// Every source cell of an explanation, by array: [{array, index, terms: [k...]}].
export function sources(expl, only = null) {
  const byCell = new Map();
  expl.terms.forEach((t, k) => {
    if (only !== null && k !== only) return;
    for (const f of t.factors) {
      if (f.array === null || f.padding) continue;
      const key = `${f.array}|${f.index.join(",")}`;
      if (!byCell.has(key)) byCell.set(key, { array: f.array, index: f.index, terms: [] });
      byCell.get(key).terms.push(k);
    }
  });
  return [...byCell.values()];
}

export function createExplainer({ panel, getState, highlight, onEdit }) {
  let current = null; // {array, index, expl}
  let walk = null; // {k, timer}
  let request = 0;

  // What the strip outlines for the shown cell: it, its sources (term k's only, while walking)
  // and, for a pool cell, the winners of the windows it lost.
  const marksFor = (expl, k = null) => ({ selected: current, sources: sources(expl, k), lost: lostTo(expl) });

  function stopWalk() {
    if (walk?.timer) clearInterval(walk.timer);
    walk = null;
    panel.querySelector("[data-testid=explain-walk]")?.replaceChildren("Walk through");
  }

  function showTerm(k) {
    const expl = current.expl;
    for (const tr of panel.querySelectorAll("tr[data-term]")) tr.classList.toggle("walking", Number(tr.dataset.term) === k);
    const partial = expl.terms.slice(0, k + 1).reduce((a, t) => a + t.value, 0);
    const status = panel.querySelector("[data-testid=explain-walk-status]");
    status.textContent = `term ${k + 1} of ${expl.terms.length}` + (expl.op === "sum" ? `, running sum ${num(partial)}` : "");
    highlight(marksFor(expl, k));
    panel.querySelector(`tr[data-term="${k}"]`)?.scrollIntoView({ block: "nearest" });
  }

  function toggleWalk() {
    if (walk) { stopWalk(); highlight(marksFor(current.expl)); return; }
    const n = current.expl.terms.length;
    if (!n) return;
    walk = { k: 0, timer: null };
    panel.querySelector("[data-testid=explain-walk]").replaceChildren("Stop");
    showTerm(0);
    walk.timer = setInterval(() => {
      if (!walk || walk.k + 1 >= n) { stopWalk(); return; }
      walk.k += 1;
      showTerm(walk.k);
    }, WALK_MS);
  }

  function render(expl) {
    const body = el("div", "explain-body");
    const title = el("h3", "explain-title");
    title.append(cellName(expl.array, expl.index), " = ", numSpan(expl.value, "num total"));
    const rule = el("div", "rule");
    rule.dataset.testid = "explain-rule";
    rule.append(mathNode(expl));
    const table = el("table", "terms");
    table.dataset.testid = "explain-terms";
    const head = table.createTHead().insertRow();
    for (const h of ["#", "term: factors, each an entry of an array or a constant", "value"]) head.append(el("th", "", h));
    const tbody = table.createTBody();
    expl.terms.slice(0, SHOWN_TERMS).forEach((t, k) => tbody.append(termRow(t, k, expl)));
    const parts = [title, rule, el("p", "note", expl.note)];
    if (expl.windows?.length) parts.push(windowList(expl));
    parts.push(table);
    if (expl.terms.length > SHOWN_TERMS) {
      const more = el("button", "", `Show all ${expl.terms.length} terms`);
      more.addEventListener("click", () => { expl.terms.slice(SHOWN_TERMS).forEach((t, k) => tbody.append(termRow(t, k + SHOWN_TERMS, expl))); more.remove(); });
      parts.push(more);
    }
    parts.push(resultLine(expl));
    const bar = el("div", "row explain-actions");
    const walkBtn = el("button", "", "Walk through");
    walkBtn.dataset.testid = "explain-walk";
    walkBtn.disabled = !expl.terms.length;
    walkBtn.addEventListener("click", toggleWalk);
    bar.append(walkBtn, el("span", "muted small", ""));
    bar.lastChild.dataset.testid = "explain-walk-status";
    if (/^[Wb]\d+$/.test(expl.array) && onEdit) {
      const edit = el("button", "", `Edit ${cellName(expl.array, expl.index)}`);
      edit.dataset.testid = "explain-edit";
      edit.addEventListener("click", () => onEdit(expl.array, expl.index));
      bar.append(edit);
    }
    const close = el("button", "", "Close (Esc)");
    close.addEventListener("click", () => hide());
    bar.append(close);
    parts.push(bar);
    body.append(...parts);
    panel.querySelector(".explain-content").replaceChildren(body);
  }

  function hide() {
    stopWalk();
    current = null;
    panel.hidden = true;
    highlight(null);
  }

  async function open(array, index) {
    stopWalk();
    const mine = ++request;
    panel.hidden = false;
    panel.querySelector(".explain-content").replaceChildren(el("p", "muted", `Explaining ${cellName(array, index)}…`));
    let expl;
    try {
      expl = await api.explain(getState(), array, index);
    } catch (err) {
      if (mine === request) panel.querySelector(".explain-content").replaceChildren(el("p", "bad", err.detail ?? err.message));
      return null;
    }
    if (mine !== request) return null;
    current = { array, index, expl };
    render(expl);
    highlight(marksFor(expl));
    return expl;
  }

  return {
    open, close: hide, isOpen: () => current !== null, selected: () => current,
    // The state changed: the shown explanation is of a moment that is gone; explain it again.
    refresh: () => (current ? open(current.array, current.index) : null),
  };
}

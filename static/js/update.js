// The update W <- W - eta dW shown as W_old, eta*dW and W_new side by side, the loss
// before and after, and the loss curve over the iterations done so far.
import { el } from "./dom.js";
import { drawArray, fmt, maxAbs } from "./heatmap.js";

const scale = (a, k) => (Array.isArray(a) ? a.map((v) => scale(v, k)) : a === null ? null : a * k); // display only

// Rows are built once per set of parameter names and then only redrawn: drawArray then
// updates the plots it already made instead of creating three new ones per parameter every step.
let built = null; // { key, box, head, rows: [{ name, row, boxes: { old, step, new } }] }

function build(box, names) {
  const head = el("p", "update-head");
  head.dataset.testid = "update-head";
  const rows = names.map((name) => {
    const row = el("div", "update-row");
    row.id = `update-${name}`;
    row.append(el("div", "update-name", name));
    const boxes = {};
    [[`${name} old`, "old"], [`η·d${name}`, "step"], [`${name} new`, "new"]].forEach(([label, kind], i) => {
      const col = el("div", "update-col");
      col.append(el("div", "small muted", `${i === 1 ? "− " : i === 2 ? "= " : ""}${label}`));
      boxes[kind] = el("div", "act");
      boxes[kind].id = `upd-${kind}-${name}`;
      col.append(boxes[kind]);
      row.append(col);
    });
    return { name, row, boxes };
  });
  box.replaceChildren(head, ...rows.map((r) => r.row));
  return { key: names.join(), box, head, rows };
}

export async function renderUpdate(box, upd) {
  if (!upd) {
    built = null;
    box.replaceChildren(el("p", "muted", "After Backward, Update (U) applies W ← W − η dW to every parameter."));
    return;
  }
  const names = Object.keys(upd.old);
  if (built?.key !== names.join() || built.box !== box) built = build(box, names);
  built.head.textContent = `iteration ${upd.iteration}: η = ${upd.lr} · loss ${fmt(upd.loss, 4)} → ${fmt(upd.loss_after, 4)} on this example`;
  const opts = { width: 118, maxPanels: 2 };
  // Old and new share one colour scale, so a colour means the same value on both sides.
  await Promise.all(built.rows.flatMap(({ name, boxes }) => {
    const pair = { ...opts, scale: Math.max(maxAbs(upd.old[name]), maxAbs(upd.new[name])) || 1 };
    return [
      drawArray(boxes.old, "upd-old", `${name}_old`, upd.old[name], pair),
      drawArray(boxes.step, "upd-step", `eta_d${name}`, scale(upd.gradients[`d${name}`], upd.lr), opts),
      drawArray(boxes.new, "upd-new", `${name}_new`, upd.new[name], pair),
    ];
  }));
}

export function renderLossCurve(div, losses) {
  const x = losses.map((l) => l.iteration);
  const traces = [
    { x, y: losses.map((l) => l.loss), mode: "lines+markers", name: "loss before update", line: { color: "#1f3b57" } },
    { x, y: losses.map((l) => l.loss_after), mode: "markers", name: "loss after update", marker: { color: "#f4a261", size: 6 } },
  ];
  const layout = {
    height: 200,
    margin: { l: 44, r: 8, t: 8, b: 32 },
    xaxis: { title: { text: "iteration" }, dtick: losses.length > 20 ? undefined : 1,
      range: losses.length ? undefined : [0.5, 5.5], autorange: losses.length > 0 },
    yaxis: { title: { text: "L" }, rangemode: "tozero", range: losses.length ? undefined : [0, 1], autorange: losses.length > 0 },
    legend: { orientation: "h", y: 1.15, font: { size: 10 } },
    paper_bgcolor: "rgba(0,0,0,0)",
  };
  // eslint-disable-next-line no-undef
  return Plotly.react(div, traces, layout, { displayModeBar: false, responsive: true });
}

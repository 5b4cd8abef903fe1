// The update W <- W - eta dW shown as W_old, eta*dW and W_new side by side, the loss
// before and after, and the loss curve over the iterations done so far.
import { el } from "./dom.js";
import { drawArray, fmt } from "./heatmap.js";

const scale = (a, k) => (Array.isArray(a) ? a.map((v) => scale(v, k)) : a * k); // display only

export async function renderUpdate(box, upd) {
  if (!upd) {
    box.replaceChildren(el("p", "muted", "After Backward, Update (U) applies W ← W − η dW to every parameter."));
    return;
  }
  const head = el("p", "update-head");
  head.textContent = `iteration ${upd.iteration}: η = ${upd.lr} · loss ${fmt(upd.loss, 4)} → ${fmt(upd.loss_after, 4)} on this example`;
  head.dataset.testid = "update-head";
  const rows = Object.keys(upd.old).map((name) => {
    const row = el("div", "update-row");
    row.id = `update-${name}`;
    row.append(el("div", "update-name", name));
    const cols = [
      [`${name} old`, upd.old[name], "old"],
      [`η·d${name}`, scale(upd.gradients[`d${name}`], upd.lr), "step"],
      [`${name} new`, upd.new[name], "new"],
    ].map(([label, value, kind], i) => {
      const col = el("div", "update-col");
      col.append(el("div", "small muted", `${i === 1 ? "− " : i === 2 ? "= " : ""}${label}`));
      const box2 = el("div", "act");
      box2.id = `upd-${kind}-${name}`;
      col.append(box2);
      return [col, box2, value, kind];
    });
    row.append(...cols.map((c) => c[0]));
    row._cols = cols;
    return row;
  });
  box.replaceChildren(head, ...rows);
  const jobs = [];
  for (const row of rows) for (const [, div, value, kind] of row._cols)
    jobs.push(drawArray(div, `upd-${kind}`, row.id.slice(7), value, { width: 118, signed: true, maxPanels: 2 }));
  await Promise.all(jobs);
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

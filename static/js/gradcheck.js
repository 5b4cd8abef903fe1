// The gradient check: numeric (central differences, from the API) beside analytic, per entry.
import { fmt } from "./heatmap.js";

export function renderGradcheck(box, result) {
  const table = document.createElement("table");
  table.className = "gradcheck-table";
  const head = table.createTHead().insertRow();
  for (const h of ["parameter", "entry", "analytic (backprop)", "numeric (finite differences)", "relative error"]) {
    const th = document.createElement("th");
    th.textContent = h;
    head.append(th);
  }
  const body = table.createTBody();
  for (const check of result.checks) {
    check.index.forEach((idx, i) => {
      const row = body.insertRow();
      const ok = check.rel_error[i] < 1e-6;
      row.className = ok ? "ok" : "bad";
      for (const text of [check.name, `[${idx.join(",")}]`, fmt(check.analytic[i], 8), fmt(check.numeric[i], 8),
        check.rel_error[i].toExponential(1)]) {
        row.insertCell().textContent = text;
      }
    });
  }
  const summary = document.createElement("p");
  summary.dataset.testid = "gradcheck-summary";
  const worst = result.max_rel_error;
  summary.className = worst < 1e-6 ? "ok" : "bad";
  summary.textContent = `${result.checks.reduce((n, c) => n + c.index.length, 0)} entries checked with ε = ${result.eps}: ` +
    `largest relative error ${worst.toExponential(2)} ${worst < 1e-6 ? "— the chain rule checks out." : "— check the kinks (ReLU at 0, pool ties)."}`;
  box.replaceChildren(summary, table);
}

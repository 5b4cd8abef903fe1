// Buttons, keyboard shortcuts and play/pause. Phase buttons are enabled only when their
// phase is next (main.js sets `disabled`); keys follow the same rule.

import { $ } from "./dom.js";

const KEYS = { f: "forward", b: "backward", u: "update", s: "step", z: "undo", r: "reset", g: "gradcheck" };

export function bindControls(actions) {
  $("btn-forward").addEventListener("click", actions.forward);
  $("btn-backward").addEventListener("click", actions.backward);
  $("btn-update").addEventListener("click", actions.update);
  $("btn-step").addEventListener("click", actions.step);
  $("btn-undo").addEventListener("click", actions.undo);
  $("btn-reset").addEventListener("click", actions.reset);
  $("btn-gradcheck").addEventListener("click", actions.gradcheck);
  $("btn-export").addEventListener("click", actions.exportState);
  $("history").addEventListener("change", (e) => actions.goto(Number(e.target.value)));
  $("import-file").addEventListener("change", (e) => {
    const f = e.target.files[0];
    e.target.value = "";
    if (f) actions.importState(f);
  });
  $("upload").addEventListener("change", (e) => {
    const f = e.target.files[0];
    e.target.value = "";
    if (f) actions.upload(f);
  });
  $("label").addEventListener("change", (e) => actions.setLabel(Number(e.target.value)));
  $("lr").addEventListener("change", (e) => actions.setLr(Number(e.target.value)));
  $("preset").addEventListener("change", (e) => {
    if (e.target.value) actions.preset(e.target.value);
    e.target.value = "";
  });
  $("editor-apply").addEventListener("click", actions.applyEdit);
  $("editor-cancel").addEventListener("click", actions.cancelEdit);
  $("editor-value").addEventListener("keydown", (e) => {
    if (e.key === "Enter") actions.applyEdit();
    if (e.key === "Escape") actions.cancelEdit();
  });

  // Play: a step, a pause of 1/speed seconds, repeat, until paused or an error.
  let playing = false;
  const speed = $("speed");
  speed.addEventListener("input", () => { $("speed-value").textContent = speed.value; });
  const play = $("btn-play");
  async function loop() {
    while (playing) {
      // An error (e.g. a runaway learning rate overflowed) stops the run rather than repeating it.
      if (!(await actions.step()) && !actions.isBusy()) {
        if (playing) toggle();
        break;
      }
      await new Promise((r) => setTimeout(r, 1000 / Number(speed.value)));
    }
  }
  function toggle() {
    playing = !playing;
    play.textContent = playing ? "❚❚ Pause" : "▶ Play";
    play.setAttribute("aria-pressed", String(playing));
    document.body.dataset.playing = playing ? "1" : "0";
    if (playing) loop();
  }
  play.addEventListener("click", toggle);

  document.addEventListener("keydown", (e) => {
    const t = e.target;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (t instanceof HTMLInputElement || t instanceof HTMLSelectElement || t instanceof HTMLTextAreaElement) return;
    if (e.key === " ") {
      e.preventDefault();
      toggle();
      return;
    }
    const action = KEYS[e.key.toLowerCase()];
    if (!action) return;
    if (["forward", "backward", "update"].includes(action) && actions.phase() !== action) return;
    e.preventDefault();
    actions[action]();
  });
}

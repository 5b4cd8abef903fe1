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
  // On a phone the settings fold away so the sticky bar stays small.
  $("btn-more").addEventListener("click", () => {
    const open = document.querySelector(".controls").classList.toggle("open");
    $("btn-more").setAttribute("aria-expanded", String(open));
  });
  // Real buttons (reachable by Tab) open the hidden file pickers.
  $("btn-import").addEventListener("click", () => $("import-file").click());
  $("btn-upload").addEventListener("click", () => $("upload").click());
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

  bindKeys(actions, bindPlay(actions));
}

// Play: a step, a pause of 1/speed seconds, repeat, until paused or an error. Returns the toggle.
function bindPlay(actions) {
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
  return toggle;
}

const NAMES = { forward: "Forward", backward: "Backward", update: "Update" };

function bindKeys(actions, toggle) {
  document.addEventListener("keydown", (e) => {
    const t = e.target;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (t instanceof HTMLInputElement || t instanceof HTMLSelectElement || t instanceof HTMLTextAreaElement) return;
    // Space belongs to a focused button, link or editable plot (it presses or paints); only
    // with nothing such focused does it toggle Play.
    const focused = t instanceof Element && t !== document.body && t.closest("button, a, summary, [tabindex]");
    if (e.key === " ") {
      if (focused) return;
      e.preventDefault();
      toggle();
      return;
    }
    const action = KEYS[e.key.toLowerCase()];
    if (!action) return;
    e.preventDefault();
    if (NAMES[action] && actions.phase() !== action) {
      actions.toast(`${e.key.toUpperCase()} (${NAMES[action]}) did nothing: the next phase is ${NAMES[actions.phase()]} (${actions.phase()[0].toUpperCase()})`);
      return;
    }
    actions[action]();
  });
}

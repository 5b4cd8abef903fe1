// The input X: paint it by clicking cells, pick a preset, or upload a PNG/JPEG (turned into
// an array by POST /api/images).
import { drawArray } from "./heatmap.js";

// Presets for any H x W (drawn on channel 0 and copied to every channel).
const PRESETS = {
  vertical: (r, c, h, w) => (c === Math.floor((w - 1) / 2) || c === Math.floor(w / 2) ? 1 : 0),
  horizontal: (r, c, h, w) => (r === Math.floor((h - 1) / 2) || r === Math.floor(h / 2) ? 1 : 0),
  diagonal: (r, c) => (r === c ? 1 : 0),
  antidiagonal: (r, c, h, w) => (r + c === w - 1 ? 1 : 0),
  cross: (r, c, h, w) => (r === c || r + c === w - 1 ? 1 : 0),
  checker: (r, c) => ((r + c) % 2 === 0 ? 1 : 0),
  blank: () => 0,
};

export function preset(name, [ch, h, w]) {
  const fn = PRESETS[name];
  const plane = Array.from({ length: h }, (_, r) => Array.from({ length: w }, (_, c) => fn(r, c, h, w)));
  return Array.from({ length: ch }, () => plane.map((row) => row.slice()));
}

export function drawInput(container, input, onPaint) {
  return drawArray(container, "input", "X", input, {
    width: 230, signed: false, onCell: onPaint ? (index) => onPaint(index) : undefined, maxPanels: 3,
  });
}

export function showPreview(file, name) {
  const fig = document.getElementById("preview");
  const img = document.getElementById("preview-img");
  if (img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
  img.src = URL.createObjectURL(file);
  // textContent, never innerHTML: a file name is data, even "<img onerror=...>.png".
  document.getElementById("preview-name").textContent = name;
  fig.hidden = false;
}

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

// The page's first example on the seed's 6x6 input: a bent vertical stroke (label 1, "vertical")
// chosen so every stage does something visible with the seed's initial weights: three Z1 cells
// are below 0 (ReLU zeroes them) and every pool window has one clear winner (no ties).
const BENT_STROKE = [
  [0, 0, 0, 1, 1, 0],
  [0, 0, 1, 0, 0, 0],
  [0, 1, 0, 0, 0, 0],
  [0, 0, 1, 0.5, 0, 0],
  [0, 0, 0, 1, 0, 0],
  [0, 0, 0, 1, 0, 0],
];

// The default input for a shape: the bent stroke where it fits (6x6), a vertical bar otherwise.
export function defaultInput(shape) {
  const [ch, h, w] = shape;
  if (h === 6 && w === 6) return Array.from({ length: ch }, () => BENT_STROKE.map((row) => row.slice()));
  return preset("vertical", shape);
}

export function preset(name, [ch, h, w]) {
  const fn = PRESETS[name];
  const plane = Array.from({ length: h }, (_, r) => Array.from({ length: w }, (_, c) => fn(r, c, h, w)));
  return Array.from({ length: ch }, () => plane.map((row) => row.slice()));
}

// In paint mode, click, tap or drag to paint (with the keyboard, arrows move and Enter or Space
// paints); otherwise a click explains the cell, as on every other heatmap.
export function drawInput(container, input, onPaint) {
  return drawArray(container, "input", "X", input, {
    width: 230, onCell: onPaint ? (index) => onPaint(index) : undefined, maxPanels: 3, drag: Boolean(onPaint),
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

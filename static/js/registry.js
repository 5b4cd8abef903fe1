// The layer registry as the API describes it (GET /api/layers): every layer type's label,
// fields, formula and marks, and the losses. No page file names a layer type: what a type
// is, and how it is drawn, comes from here; a type with no entry still gets a generic one.
import { api } from "./api.js";

let registry = { layers: [], losses: [] };
let byType = new Map();

export async function loadRegistry() {
  registry = await api.get("/api/layers");
  byType = new Map(registry.layers.map((l) => [l.type, l]));
  return registry;
}

export const layerTypes = () => registry.layers;
export const losses = () => registry.losses;
export const lossInfo = (name) => registry.losses.find((l) => l.name === name) ?? { name, label: name, formula: "L = {out}", classes: null };

// A type the API did not describe (an old page against a newer engine, or the reverse): a
// plain entry that names the type, so it is drawn and written about, never skipped.
export function layerInfo(type) {
  return byType.get(type) ?? {
    type, label: type, output_prefix: "", params: [], fields: [], marks: [], output_layer: false,
    formula: `{out} = ${type}({in})`, formula_text: `${type}`, description: "",
  };
}

export const hasMark = (layer, mark) => layerInfo(layer.type).marks.includes(mark);

// A layer's formula with its own names: {out}, {in} and each parameter role ({W}, {b}, ...),
// which map in order onto the layer's parameter names in /api/network (W1, b1).
export function formulaOf(layer, input) {
  const info = layerInfo(layer.type);
  const names = Object.keys(layer.params ?? {});
  let text = info.formula.replaceAll("{out}", layer.output).replaceAll("{in}", input);
  info.params.forEach((role, i) => { text = text.replaceAll(`{${role}}`, names[i] ?? role); });
  return text;
}

export function lossFormula(lossName, out) {
  return lossInfo(lossName).formula.replaceAll("{out}", out);
}

// The few DOM shorthands every panel uses. Text always goes in through textContent, never
// innerHTML: names and details come from files and the server, and are data.

export const $ = (id) => document.getElementById(id);

export function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

// A <select>'s options from [[value, text], ...], replacing the ones it had.
export function options(select, pairs) {
  select.replaceChildren(...pairs.map(([value, text]) => {
    const o = document.createElement("option");
    o.value = String(value);
    o.textContent = text;
    return o;
  }));
}

// The JSON API client: the page's only source of numbers.

class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
    this.detail = detail;
  }
}

async function parse(response) {
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = { detail: response.statusText || "the server sent no JSON" };
  }
  if (!response.ok) {
    const detail = typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail);
    throw new ApiError(response.status, detail);
  }
  return data;
}

async function post(path, body) {
  let response;
  try {
    response = await fetch(path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  } catch (err) {
    throw new ApiError(0, `the server did not answer (${err.message}); your work is kept in this browser`);
  }
  return parse(response);
}

export const api = {
  init: (network, seed) => post("/api/init", { network, seed }),
  forward: (s) => post("/api/forward", { network: s.network, params: s.params, input: s.input, label: s.label }),
  backward: (s) => post("/api/backward", { network: s.network, params: s.params, input: s.input, label: s.label }),
  update: (s, gradients) =>
    post("/api/update", { network: s.network, params: s.params, gradients, learning_rate: s.lr }),
  step: (s) =>
    post("/api/step", { network: s.network, params: s.params, input: s.input, label: s.label, learning_rate: s.lr }),
  gradcheck: (s) => post("/api/gradcheck", { network: s.network, params: s.params, input: s.input, label: s.label }),
  lossOf: async (s, params) =>
    (await post("/api/forward", { network: s.network, params, input: s.input, label: s.label })).loss,
  async upload(file, { channels, height, width, invert }) {
    const form = new FormData();
    form.append("file", file);
    form.append("channels", String(channels));
    form.append("height", String(height));
    form.append("width", String(width));
    form.append("invert", invert ? "true" : "false");
    let response;
    try {
      response = await fetch("/api/images", { method: "POST", body: form });
    } catch (err) {
      throw new ApiError(0, `the server did not answer (${err.message})`);
    }
    return parse(response);
  },
};

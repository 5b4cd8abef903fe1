// The JSON API client: the page's only source of numbers.

class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
    this.detail = detail;
  }
}

// A call the server never answered. Every action's call says the learner's work is safe (it
// lives in this browser); the editor's live check and the upload say only what happened; the
// page's start and the dataset lists have always shown the fetch's own error (null).
const KEPT = "; your work is kept in this browser";

// The JSON of a response, or an ApiError with the server's detail (a string as is, a
// validation list as JSON) when the status is not OK.
export async function parse(response) {
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = { detail: response.statusText || "the server sent no JSON" };
  }
  if (!response.ok) {
    const detail = typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail ?? response.statusText);
    throw new ApiError(response.status, detail);
  }
  return data;
}

// fetch() options for a JSON POST; `extra` carries e.g. the training stream's abort signal.
export const jsonPost = (body, extra = {}) => ({
  method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body), ...extra,
});

// A busy server (503 with Retry-After: its large computations or its requests in progress are
// at their limit) is asked again after the wait it names, or a doubling backoff, a few times; the
// page says so (a "bpv:busy" event on window), and only a server still busy then is an error.
const BUSY_RETRIES = 3;
const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

async function request(path, init, unanswered) {
  for (let attempt = 0; ; attempt++) {
    let response;
    try {
      response = await fetch(path, init);
    } catch (err) {
      if (unanswered === null) throw err;
      throw new ApiError(0, `the server did not answer (${err.message})${unanswered}`);
    }
    const after = response.headers.get("retry-after");
    if (response.status !== 503 || after === null || attempt === BUSY_RETRIES) return parse(response);
    await response.text();
    const seconds = Math.min(10, Math.max(Number(after) || 1, 2 ** attempt));
    window.dispatchEvent(new CustomEvent("bpv:busy", { detail: { seconds } }));
    await sleep(seconds * 1000);
  }
}

const post = (path, body, { unanswered = KEPT } = {}) => request(path, jsonPost(body), unanswered);

// The example the engine runs: the same four fields in every forward/backward/step body.
const example = (s, params = s.params) => ({ network: s.network, params, input: s.input, label: s.label });

export const api = {
  init: (network, seed) => post("/api/init", { network, seed }),
  // Shapes and parameter counts of a network spec. `unanswered`: see KEPT.
  network: (spec, { unanswered = null } = {}) => post("/api/network", { network: spec }, { unanswered }),
  get: (url) => request(url, undefined, null),
  forward: (s) => post("/api/forward", example(s)),
  backward: (s) => post("/api/backward", example(s)),
  update: (s, gradients) =>
    post("/api/update", { network: s.network, params: s.params, gradients, learning_rate: s.lr }),
  step: (s) => post("/api/step", { ...example(s), learning_rate: s.lr }),
  gradcheck: (s) => post("/api/gradcheck", example(s)),
  // How one entry of the iteration was computed: the rule, its terms and their sources.
  explain: (s, array, index) => post("/api/explain", { ...example(s), learning_rate: s.lr, array, index }),
  lossOf: async (s, params) => (await post("/api/forward", example(s, params))).loss,
  upload(file, { channels, height, width, invert }) {
    const form = new FormData();
    form.append("file", file);
    form.append("channels", String(channels));
    form.append("height", String(height));
    form.append("width", String(width));
    form.append("invert", invert ? "true" : "false");
    return request("/api/images", { method: "POST", body: form }, "");
  },
};

// Calls to the lifecircle API: the key (kept for the browser session) on every
// request, If-Match on scenario edits, problems turned into ApiError.
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

export function getKey() { return sessionStorage.getItem("lc-key") || ""; }
export function setKey(key) { sessionStorage.setItem("lc-key", key); }

export function headers(extra = {}) {
  const h = { ...extra };
  const key = getKey();
  if (key) h["X-API-Key"] = key;
  return h;
}

/** fetch `path`; JSON in and out. Returns {body, etag, status, location}; throws ApiError on 4xx/5xx. */
export async function call(path, { method = "GET", body, ifMatch } = {}) {
  const h = headers(body !== undefined ? { "Content-Type": "application/json" } : {});
  if (ifMatch !== undefined) h["If-Match"] = `"${ifMatch}"`;
  const r = await fetch(path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (!r.ok) throw new ApiError(r.status, data && typeof data === "object" ? data : { detail: String(data) });
  const etag = r.headers.get("ETag");
  return { body: data, status: r.status, etag: etag ? Number(etag.replace(/"/g, "")) : null, location: r.headers.get("Location") };
}

export const enc = encodeURIComponent;

/**
 * The answer of `path`, following a background job: a heavy request (a large city's comparison, an export)
 * answers 202 with the job in Location; poll it (`onProgress(percent)`), then GET its result.
 * `raw`: return the final fetch Response (a file) instead of JSON.
 */
export async function callJob(path, { onProgress = () => {}, raw = false } = {}) {
  let r = await fetch(path, { headers: headers() });
  if (r.status === 202) {
    let info = await r.json();
    const url = r.headers.get("Location") || `/jobs/${info.id}`;
    info = await waitJob(url, info, onProgress);
    r = await fetch(info.result, { headers: headers() });
  }
  if (!r.ok) {
    const problem = await r.json().catch(() => ({ detail: `HTTP ${r.status}` }));
    throw new ApiError(r.status, problem);
  }
  return raw ? r : r.json();
}

/** Poll the job at `url` until it ends (`onProgress(percent)` on the way); its last state, or ApiError when it failed. */
export async function waitJob(url, info, onProgress = () => {}) {
  while (!["succeeded", "failed", "cancelled"].includes(info.state)) {
    await new Promise((r) => setTimeout(r, 300));
    info = (await call(url)).body;
    onProgress(info.percent || 0);
  }
  if (info.state !== "succeeded") throw new ApiError(500, { detail: `${info.error || info.state}` });
  onProgress(100);
  return info;
}

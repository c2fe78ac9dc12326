// The router runs here, off the page's thread, so typing never waits for the encoder.
// It loads the wasm and the bundle with progress, keeps them in Cache Storage (checked
// against build.json's sha256 every time), routes, and calls providers.
import init, { Router } from "./pkg/routoo.js";

const CACHE = "routoo-files-v1";
let router;
let asking;

const post = (m) => self.postMessage(m);

class LoadError extends Error {
  constructor(kind, message) { super(message); this.kind = kind; }
}

async function sha256(bytes) {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Reads a response body, reporting each chunk's size. */
async function read(response, onBytes) {
  // An empty file (the neighbour file of a bundle without neighbours) may have no body.
  if (!response.body) return new Uint8Array(0);
  const reader = response.body.getReader();
  const chunks = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.length;
    onBytes(value.length);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) { bytes.set(c, at); at += c.length; }
  return bytes;
}

/** A build.json that lists files with their sizes and sha256 digests, else null. */
function checkedInfo(text) {
  try {
    const info = JSON.parse(text);
    const files = Object.values(info?.files ?? {});
    const ok = files.length > 0 && files.every((f) => Number.isSafeInteger(f?.bytes) && f.bytes >= 0
      && typeof f.sha256 === "string" && /^[0-9a-f]{64}$/.test(f.sha256));
    return ok ? info : null;
  } catch {
    return null;
  }
}

/**
 * build.json from the network when it is one, else the last copy whose files all passed
 * (offline, or a host answering with an HTML fallback). `text` is set for a fresh copy, which
 * is cached only once every file it lists has passed its check.
 */
async function buildInfo(cache) {
  try {
    const response = await fetch("build.json", { cache: "no-cache" });
    if (response.ok) {
      const text = await response.text();
      const info = checkedInfo(text);
      if (info) return { info, text };
    }
  } catch { /* offline: the cached copy below */ }
  const cached = await cache.match("build.json");
  const info = cached ? checkedInfo(await cached.text()) : null;
  if (!info) throw new LoadError("network", "build.json could not be fetched, and no good copy is cached");
  return { info, text: null };
}

/**
 * One file, from the cache when it holds a copy that passes its checksum, else from the
 * network. A copy that fails is dropped and fetched again once; a second failure is reported
 * and the file is not used.
 */
async function file(cache, name, spec, progress) {
  let counted = 0;
  const count = (n) => { counted += n; progress(n); };
  for (const fresh of [false, true]) {
    let response = fresh ? null : await cache.match(name);
    const cached = Boolean(response);
    if (!response) {
      try {
        response = await fetch(name, { cache: fresh ? "reload" : "default" });
      } catch (e) {
        throw new LoadError("network", `${name} could not be fetched: ${e.message}`);
      }
      if (!response.ok) throw new LoadError("network", `${name}: HTTP ${response.status}`);
    }
    const bytes = await read(response, count);
    const digest = await sha256(bytes);
    if (digest === spec.sha256) {
      if (!cached) await cache.put(name, new Response(bytes));
      return bytes;
    }
    await cache.delete(name);
    progress(-counted);
    counted = 0;
    if (fresh) {
      throw new LoadError("checksum", `${name} failed its checksum (sha256 ${digest.slice(0, 12)}…, ` +
        `expected ${spec.sha256.slice(0, 12)}…); it was not used`);
    }
  }
}

/** Cache Storage where the scheme allows it; an extension's files are on disk already. */
function openCache() {
  if (self.location.protocol.startsWith("http")) return caches.open(CACHE);
  return { match: async () => undefined, put: async () => {}, delete: async () => false };
}

async function load(pool) {
  const t0 = performance.now();
  const cache = await openCache();
  const { info, text } = await buildInfo(cache);
  const names = Object.keys(info.files);
  const total = names.reduce((n, f) => n + info.files[f].bytes, 0);
  let loaded = 0;
  let last = 0;
  const progress = (n) => {
    loaded += n;
    const now = performance.now();
    if (now - last > 50 || loaded === total) {
      last = now;
      post({ type: "progress", loaded, total });
    }
  };
  post({ type: "progress", loaded, total });
  const bytes = Object.fromEntries(await Promise.all(
    names.map(async (name) => [name, await file(cache, name, info.files[name], progress)])));
  post({ type: "progress", loaded: total, total, stage: "starting" });
  await init({ module_or_path: bytes["pkg/routoo_bg.wasm"] });
  const manifest = JSON.parse(new TextDecoder().decode(bytes["models/predictor.json"]));
  const of = (spec) => bytes[`models/${spec.file}`];
  router = Router.fromBytes(bytes["models/predictor.json"], of(manifest.encoder),
    of(manifest.tokenizer), of(manifest.neighbours), pool);
  // Every file it lists passed and the router runs: now this build.json is the good copy.
  if (text !== null) await cache.put("build.json", new Response(text));
  return { ms: performance.now() - t0, total, curve: router.curve(), models: router.models(),
    keyOrigins: router.keyOrigins() };
}

const handlers = {
  async load({ pool }) {
    try {
      post({ type: "ready", ...(await load(pool)) });
    } catch (e) {
      post({ type: "fatal", kind: e.kind ?? "load", message: e.message });
    }
  },
  pool({ seq, pool }) {
    try {
      router.setPool(pool);
      post({ type: "pool", seq, curve: router.curve() });
    } catch (e) {
      post({ type: "pool", seq, error: e.message });
      trapped(e);
    }
  },
  /** The providers the page's keys can call, as the router counts them. */
  callable({ seq, keys }) {
    try {
      post({ type: "callable", seq, callable: router.callable(keys) });
    } catch (e) {
      post({ type: "callable", seq, callable: [], error: e.message });
      trapped(e);
    }
  },
  route({ seq, prompt, options, keys }) {
    const t0 = performance.now();
    // The prediction stands even when no model may be chosen (no key yet): the pool shows it.
    let prediction;
    let callable = [];
    try {
      prediction = router.predict(prompt);
      callable = router.callable(keys);
      const decision = router.route(prompt, { ...options, providers: callable });
      post({ type: "route", seq, prompt, prediction, decision, callable, ms: performance.now() - t0 });
    } catch (e) {
      post({ type: "route", seq, prompt, prediction, callable, error: e.message });
      trapped(e);
    }
  },
  async ask({ seq, prompt, options, keys, maxTokens, maxCost }) {
    asking?.abort();
    const controller = new AbortController();
    asking = controller;
    try {
      const reply = await router.ask(prompt, options, {
        keys, maxTokens, maxCost, signal: controller.signal,
        onText: (text) => post({ type: "text", seq, text }),
        onEvent: (event) => post({ type: "event", seq, event }),
      });
      post({ type: "reply", seq, reply });
    } catch (e) {
      post({ type: "reply", seq, error: e.message, spent: e.spent });
      trapped(e);
    } finally {
      if (asking === controller) asking = undefined;
    }
  },
  stop() {
    asking?.abort();
  },
};

/**
 * A wasm trap leaves the module in an unknown state: after answering the request it broke, the
 * worker fails loudly so the page replaces it.
 */
function trapped(e) {
  if (e instanceof WebAssembly.RuntimeError) setTimeout(() => { throw e; });
}

self.onmessage = ({ data }) => handlers[data.type]?.(data);

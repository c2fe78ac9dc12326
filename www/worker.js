// The router runs here, off the page's thread, so typing never waits for the encoder.
// It loads the JS glue, the wasm and the bundle of one version (build.json) with progress,
// each checked against its sha256 and kept in the store it shares with the service worker,
// then routes and calls providers.
import { LoadError, checkedInfo, openBlobs, verified } from "./store.js";

const GLUE = "pkg/routoo.js";
let Router; // the glue's class, for the calls that need no router instance
let router;
let asking;
let calibrating;
let info; // the version's build.json
let probeSet; // models/probes.json, fetched when first needed

const post = (m) => self.postMessage(m);

/**
 * The version to load: build.json as the service worker serves it (the version it pinned,
 * online or not) or, before there is one, as the host does.
 */
async function buildInfo() {
  let text;
  try {
    const response = await fetch("build.json", { cache: "no-cache" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    text = await response.text();
  } catch (e) {
    throw new LoadError("network", `build.json could not be fetched: ${e.message}`);
  }
  const info = checkedInfo(text);
  if (!info) throw new LoadError("network", "build.json is not a build listing (the host answered with something else)");
  return info;
}

/**
 * Builds the router on the pool it ships with, adds the user's calibrated models' heads (a
 * file that no longer fits this bundle is reported, not used), then switches to `pool`.
 */
function start(bytes, pool, heads) {
  const manifest = JSON.parse(new TextDecoder().decode(bytes["models/predictor.json"]));
  const of = (spec) => bytes[`models/${spec.file}`];
  router = Router.fromBytes(bytes["models/predictor.json"], of(manifest.encoder),
    of(manifest.tokenizer), of(manifest.neighbours));
  const rejected = [];
  const added = new Set();
  for (const file of heads) {
    try {
      for (const id of router.addHeads(file)) added.add(id);
    } catch (e) {
      rejected.push({ id: file?.heads?.[0]?.id ?? "?", error: e.message });
    }
  }
  // A model whose heads file was refused has nothing to be estimated with: it is left out.
  const known = new Set(router.models());
  const estimable = (m) => known.has(m.id) || m.like || m.uncalibrated;
  router.setPool({ ...pool, models: pool.models.filter(estimable) });
  return rejected;
}

/** The bundle's probe set, as text: fetched once, checked against build.json. */
async function probes() {
  if (probeSet) return probeSet;
  const name = Object.keys(info.files).find((f) => f.startsWith("models/probes"));
  if (!name) throw new LoadError("load", "this version ships no probe set");
  probeSet = new TextDecoder().decode(await verified(await openBlobs(), name, info.files[name]));
  return probeSet;
}

async function load(pool, heads) {
  const t0 = performance.now();
  const blobs = await openBlobs();
  info = await buildInfo();
  const names = info.router;
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
  // The glue's address names its digest, so an older copy in the HTTP cache never meets this
  // wasm; it is checked like the others, and imported from the address it was checked at.
  const glue = info.files[GLUE];
  if (!glue) throw new LoadError("load", `build.json lists no ${GLUE}`);
  const glueUrl = `${GLUE}?sha256=${glue.sha256}`;
  const bytes = Object.fromEntries(await Promise.all(names.map(async (name) => [name,
    await verified(blobs, name, info.files[name], { progress, url: name === GLUE ? glueUrl : name })])));
  post({ type: "progress", loaded: total, total, stage: "starting" });
  const glueModule = await import(`./${glueUrl}`);
  Router = glueModule.Router;
  await glueModule.default({ module_or_path: bytes["pkg/routoo_bg.wasm"] });
  const rejected = start(bytes, pool, heads);
  return { ms: performance.now() - t0, total, version: info.version, curve: router.curve(),
    models: router.models(), keyOrigins: router.keyOrigins(), askDefaults: Router.askDefaults(), rejected };
}

const handlers = {
  async load({ pool, heads = [] }) {
    try {
      post({ type: "ready", ...(await load(pool, heads)) });
    } catch (e) {
      post({ type: "fatal", kind: e.kind ?? "load", message: e.message });
    }
  },
  pool({ seq, pool }) {
    return answer("pool", seq, () => {
      router.setPool(pool);
      return { curve: router.curve() };
    });
  },
  /** Where a key given for a base URL goes, as the router binds it (or why it goes nowhere). */
  origin({ seq, baseUrl }) {
    return answer("origin", seq, () => ({ origin: Router.originOf(baseUrl) }));
  },
  /** What a budget buys on the reference curve. */
  point({ seq, budget }) {
    return answer("point", seq, () => ({ point: router.curvePoint(budget) }));
  },
  /** The providers the page's keys can call, as the router counts them. */
  callable({ seq, keys }) {
    return answer("callable", seq, () => ({ callable: router.callable(keys) }), { callable: [] });
  },
  route({ seq, prompt, options, keys }) {
    const t0 = performance.now();
    // The prediction stands even when no model may be chosen (no key yet): the pool shows it.
    let prediction;
    let estimates;
    let callable = [];
    try {
      prediction = router.predict(prompt);
      estimates = router.poolEstimates(prompt);
      callable = router.callable(keys);
      const decision = router.route(prompt, { ...options, providers: callable });
      post({ type: "route", seq, prompt, prediction, estimates, decision, callable, ms: performance.now() - t0 });
    } catch (e) {
      post({ type: "route", seq, prompt, prediction, estimates, callable, error: e.message });
      trapped(e);
    }
  },
  async ask({ seq, prompt, options, keys, maxCost }) {
    asking?.abort();
    const controller = new AbortController();
    asking = controller;
    try {
      const reply = await router.ask(prompt, options, {
        keys, maxCost, signal: controller.signal,
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
  /** The few models of the pool that give the most expected accuracy at `budget`. */
  suggest({ seq, budget, k }) {
    return answer("suggestion", seq, () => ({ suggestion: router.suggestPool(budget, k) }));
  },
  /** What calibrating `model` with `probes` probes would cost: nothing is sent. */
  outlook({ seq, model, probes: n }) {
    return answer("outlook", seq, async () =>
      ({ outlook: router.calibrationOutlook(model, await probes(), n) }));
  },
  async calibrate({ seq, model, probes: n, keys, maxCost }) {
    calibrating?.abort();
    const controller = new AbortController();
    calibrating = controller;
    await answer("calibrated", seq, async () => ({
      heads: await router.calibrate(model, {
        probeSet: await probes(), probes: n, keys, maxCost, signal: controller.signal,
        onProgress: (event) => post({ type: "calibration", seq, event }),
      }),
    }));
    if (calibrating === controller) calibrating = undefined;
  },
  stopCalibration() {
    calibrating?.abort();
  },
  /** Adds a heads file's models (a calibration, or one imported) and routes over `pool`. */
  heads({ seq, heads, pool }) {
    return answer("heads", seq, () => {
      const ids = router.addHeads(heads);
      router.setPool(pool);
      return { ids, curve: router.curve(), keyOrigins: router.keyOrigins() };
    });
  },
};

/**
 * Answers request `seq` with what `compute` returns (or resolves to); on failure with its
 * message and `fallback`'s fields, and a trap then restarts the worker.
 */
async function answer(type, seq, compute, fallback = {}) {
  try {
    post({ type, seq, ...(await compute()) });
  } catch (e) {
    post({ type, seq, ...fallback, error: e.message });
    trapped(e);
  }
}

/**
 * A wasm trap leaves the module in an unknown state: after answering the request it broke, the
 * worker fails loudly so the page replaces it.
 */
function trapped(e) {
  if (e instanceof WebAssembly.RuntimeError) setTimeout(() => { throw e; });
}

self.onmessage = ({ data }) => handlers[data.type]?.(data);

// The demo page. The router runs in a Worker through the npm package's RouterWorker, on the
// files this version's build.json pins; this file only draws and keeps the user's pool, keys
// and models.
import * as added from "./added.js";
import { RouterWorker } from "./pkg/client.js";
import { loadProbeSet } from "./pkg/loader.js";
import { hostInfo, smallText } from "./store.js";

const $ = (id) => document.getElementById(id);
// The provider emulator, where a dev server announces it (`make demo`); a deployed page has none.
const EMULATOR = document.querySelector('meta[name="routoo-emulator"]')?.content;
const STORE = { pool: "routoo.pool", keys: "routoo.keys", emulator: "routoo.emulator", budget: "routoo.budget",
  local: "routoo.local", observed: "routoo.observed", observedEmulated: "routoo.observed-emulator" };

const state = {
  defaults: null, // pool.json
  edits: { off: [], prices: {} },
  keys: {},
  curve: null,
  ready: false,
  routed: null, // the last {prediction, decision | error} for the prompt in the box
  asking: null,
  spent: 0,
  added: [], // [{id, heads}]: models the user calibrated or imported (IndexedDB)
  calibrating: null,
  chat: [], // the conversation's finished turns: [{role, content}]
  sending: null, // the prompt of the ask in flight
  // What each model's answers were billed as output, by id: the providers' and, apart, the
  // emulator's, so that a test's answers never move a real model's estimate.
  observed: { real: {}, emulated: {} },
};

/** What the router reads and sends: the prompt alone, or after the conversation so far. */
const conversation = (prompt) => (state.chat.length ? [...state.chat, { role: "user", content: prompt }] : prompt);

const usd = (x) => (x >= 0.01 ? x.toFixed(4) : x.toPrecision(3));
const pct = (q) => `${(q * 100).toFixed(1)} %`;
const mb = (b) => (b / 1e6).toFixed(1);

/**
 * A stored value that passes `valid`, else `fallback`. What fails (unreadable JSON, a wrong
 * shape) is dropped from storage and named in the page's notice, so bad state never stops the page.
 */
function load(key, fallback, valid = () => true) {
  let raw;
  try { raw = localStorage.getItem(key); } catch { return fallback; }
  if (raw === null) return fallback;
  try {
    const value = JSON.parse(raw);
    if (valid(value)) return value;
  } catch { /* dropped below */ }
  try { localStorage.removeItem(key); } catch { /* storage off */ }
  notice(`Saved ${key.replace("routoo.", "")} settings were unreadable and have been reset.`);
  return fallback;
}

function notice(text) {
  const el = $("notice");
  el.textContent = el.hidden ? text : `${el.textContent} ${text}`;
  el.hidden = false;
}

const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const isPrice = (v) => typeof v === "number" && Number.isFinite(v) && v >= 0;
/** Pool edits hold only what the page edits: models turned off (or, if historical, on), and prices. */
const ids = (v) => v === undefined || (Array.isArray(v) && v.every((id) => typeof id === "string"));
const validEdits = (e) => isObject(e)
  && Object.keys(e).every((k) => k === "off" || k === "on" || k === "prices")
  && ids(e.off) && ids(e.on)
  && (e.prices === undefined || (isObject(e.prices) && Object.values(e.prices).every((p) => isObject(p)
    && Object.entries(p).every(([k, v]) => (k === "priceIn" || k === "priceOut") && isPrice(v)))));
/** What a page may have stored of a model's billed output (Router.observeOutput's records). */
const validObserved = (o) => isObject(o) && Object.keys(o).length <= 1000
  && Object.values(o).every((r) => isObject(r) && Object.keys(r).length === 2
    && Number.isInteger(r.answers) && r.answers >= 1 && r.answers <= 50
    && typeof r.meanTokens === "number" && Number.isFinite(r.meanTokens) && r.meanTokens >= 0 && r.meanTokens <= 2 ** 32 - 1);
const validKeys = (k) => isObject(k) && Object.values(k).every((v) => typeof v === "string");
function save(key, value) {
  try { localStorage.setItem(key, JSON.stringify(value)); } catch { /* storage off: memory only */ }
}

// ---- The pool the router sees ----


function models() {
  // A calibrated model takes the place of a default entry of the same id (one that was
  // uncalibrated or borrowed its estimates).
  const own = state.added.map((a) => added.modelOf(a.heads));
  const mine = new Set(own.map((m) => m.id));
  return [...state.defaults.models.filter((m) => !mine.has(m.id)), ...own].map((m) => {
    const edit = state.edits.prices[m.id];
    return edit ? { ...m, ...edit, prices: undefined } : m;
  });
}

/**
 * The router's pool by id, priced for today (UTC) with scheduled changes applied, each with
 * what its estimate rests on (`basis`).
 */
async function pricedModels(router) {
  const [pool, bases] = await Promise.all([router.pool(), router.bases()]);
  return new Map(pool.models.map((m, i) => [m.id, { ...m, basis: bases[i] }]));
}

/** The token limit a call to `model` is sent with: the answer's, plus its room for thinking
 *  (as PoolModel::call_limit). */
function callLimit(model) {
  return state.askDefaults.maxTokens + (model?.thinkingRoom ?? 0);
}

/** A link to a source a card names, or its text when it is no https address. */
function sourceLink(source, text) {
  let url;
  try { url = new URL(source); } catch { /* not an address */ }
  if (url?.protocol !== "https:") return document.createTextNode(text);
  const a = document.createElement("a");
  a.href = url.href;
  a.textContent = text;
  a.rel = "noopener noreferrer";
  a.target = "_blank";
  return a;
}

/** What a model's estimate rests on, as words and links to the scores' sources. */
function basisNodes(basis) {
  const text = (t) => [document.createTextNode(t)];
  switch (basis?.kind) {
    case "labels": return text(`labelled: ${basis.rows.toLocaleString("en")} rows of ${basis.tables.join(", ")}`);
    case "like": {
      const on = basis.tables ?? [];
      const elsewhere = basis.keeps === null || basis.keeps === undefined ? ""
        : `; elsewhere ${Math.round(100 * basis.keeps)} % its level, ${Math.round(100 * (1 - basis.keeps))} % an average model's`;
      const labels = on.length === 1 ? ` (labelled on ${on[0]} only${elsewhere})`
        : on.length ? ` (labelled on ${on.join(", ")}${elsewhere})` : "";
      return text(`estimates borrowed from ${basis.model}${labels}`);
    }
    case "prior": return text("uncalibrated: routed as an average model");
    case "price": return text(`uncalibrated: an average model at its price (US$${basis.index} per 1M in + 4 out)`);
    case "evidence": {
      const out = [];
      if (basis.scores.length) {
        out.push(document.createTextNode("placed from published scores: "));
        basis.scores.forEach((s, i) => {
          if (i) out.push(document.createTextNode(", "));
          const what = `${s.benchmark}${s.subject ? ` (${s.subject})` : ""} ${pct(s.accuracy)}, ${s.date}`;
          out.push(sourceLink(s.source, what));
        });
      }
      if (basis.probes) out.push(document.createTextNode(`${out.length ? "; " : "calibrated: "}${basis.probes} probes`));
      return out.length ? out : text("no evidence stated");
    }
    default: return [];
  }
}

/** A model is on unless turned off; a historical one (no longer served) only once turned on. */
const isOn = (m) => !state.edits.off.includes(m.id) && (!m.historical || state.edits.on.includes(m.id));

/** A model as it is called: through the emulator when it is on (it speaks every format under /v1). */
const called = (m) => ($("emulator").checked ? { ...m, baseUrl: `${EMULATOR}/v1` } : m);

/** The enabled models, pointed at the emulator when it is on. */
function routedPool() {
  // The emulator stands in for the providers; models served on this machine join it only
  // when local models are on.
  const emulated = (m) => !$("emulator").checked || !isServerModel(m) || $("local").checked;
  const observed = observedBook();
  const withObserved = (m) => (observed[m.id] ? { ...m, observedOutput: observed[m.id] } : m);
  return { ...state.defaults, models: models().filter((m) => isOn(m) && emulated(m)).map(called).map(withObserved) };
}

/** Gives the router the pool as the page has it now, and reads back its prices and curve. */
async function repool() {
  await loaded().setPool(routedPool());
  state.priced = await pricedModels(loaded());
  state.curve = await loaded().curve();
}

/** The records of billed output that apply: the emulator's while it stands in, else the providers'. */
function observedBook() {
  return $("emulator").checked ? state.observed.emulated : state.observed.real;
}

/** Keeps what the answer was billed as output in its model's record, and prices with it from now on. */
async function observeAnswer(reply) {
  const tokens = reply.answer.usage?.outputTokens;
  if (typeof tokens !== "number") return false;
  const book = observedBook();
  book[reply.model] = await loaded().observeOutput(book[reply.model] ?? null, tokens);
  save(book === state.observed.real ? STORE.observed : STORE.observedEmulated, book);
  await repool();
  showBudget();
  route();
  return true;
}

function callKeys() {
  if (!$("emulator").checked) return { ...state.keys };
  return { [EMULATOR]: "emulator" };
}

/** Most bytes of a card file (the router's own bound, MAX_CARD_BYTES in src/card.rs). */
const MAX_CARD_BYTES = 256 * 1024;
const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/;

/** Whether a model is served on this machine (its base URL is a loopback address). */
function isServerModel(m) {
  try {
    const u = new URL(m.baseUrl);
    return u.protocol === "http:" && LOOPBACK.test(u.hostname);
  } catch {
    return false;
  }
}

/** Base URLs of the pool's servers on this machine that are on in the table. */
function localBases() {
  return [...new Set(models().filter((m) => isOn(m) && isServerModel(m)).map((m) => m.baseUrl))];
}

/** The servers on this machine the router may probe and call: none until the user turns them on. */
const callLocal = () => ($("local").checked && !$("emulator").checked ? localBases() : []);

/**
 * Turns local servers on or off. In the extension, a local server is reached through an
 * optional host permission, asked for here (the click is the user's gesture) and given back
 * when turned off; refused, the switch stays off.
 */
async function localChanged() {
  const on = $("local").checked;
  const permissions = globalThis.chrome?.permissions;
  if (permissions?.request) {
    const origins = [...new Set(localBases().map((b) => `${new URL(b).origin}/*`))];
    try {
      if (on && !(await permissions.request({ origins }))) throw new Error("permission refused");
      if (!on) await permissions.remove({ origins }).catch(() => {});
    } catch (e) {
      $("local").checked = false;
      notice(`Local models stay off: the browser did not let routoo reach them (${e.message}).`);
    }
  }
  save(STORE.local, $("local").checked);
  await poolChanged(); // asks the servers, and (with the emulator on) brings their models in or out
}

function providers() {
  return [...new Set(models().map((m) => m.provider))];
}

/** Asks the router which providers the keys can call (servers on this machine included). */
async function refreshCallable() {
  if (!state.ready) return;
  [state.callable, state.uncallable] = await Promise.all([
    router?.callable(callKeys(), callLocal()).catch(() => []) ?? [],
    router?.uncallable(callKeys(), callLocal()).catch(() => []) ?? []]);
  renderPool();
}

/** What a server on this machine needs before this page may ask it, by the pool's provider. */
function localHelp(provider, origin) {
  const page = location.origin;
  const https = location.protocol === "https:"
    ? " From this https page the browser also asks you to allow access to your local network: allow it." : "";
  if (provider === "ollama") return `Start Ollama with OLLAMA_ORIGINS=${page} (e.g. OLLAMA_ORIGINS=${page} ollama serve) so it lets this page in.${https}`;
  if (provider === "lmstudio") return `In LM Studio, start the server on port ${new URL(origin).port} with CORS enabled.${https}`;
  if (provider === "llama.cpp") return `Start llama-server --port ${new URL(origin).port} (this demo holds 8080).${https}`;
  return `Start the server at ${origin} and let ${page} in (CORS).${https}`;
}

/**
 * Asks each server on this machine the pool names, once local models are on, which models it
 * serves; the pool then offers those and no other local model. Says what each server answered.
 */
async function discoverLocal() {
  const local = callLocal();
  const list = $("local-status");
  if (!state.ready || !local.length) {
    list.replaceChildren();
    if (state.ready) await loaded().discoverLocal([]).catch(() => {});
    return refreshCallable();
  }
  let servers;
  try { servers = await loaded().discoverLocal(local); } catch (e) {
    list.replaceChildren(Object.assign(document.createElement("li"), { textContent: `Could not ask: ${e.message}` }));
    return refreshCallable();
  }
  const originOf = (m) => { try { return new URL(m.baseUrl).origin; } catch { return null; } };
  const providerAt = (origin) => models().find((m) => originOf(m) === origin)?.provider ?? "local";
  list.replaceChildren(...servers.map((s) => {
    const li = document.createElement("li");
    li.dataset.origin = s.origin;
    const provider = providerAt(s.origin);
    li.textContent = !s.answered ? `Nothing answered at ${s.origin}. ${localHelp(provider, s.origin)}`
      : s.serves.length ? `${s.origin} (${provider}) serves ${s.serves.map((x) => x.served).join(", ")}: ` +
        `${s.serves.length} of the pool's models.`
      : `${s.origin} (${provider}) answered, listing ${s.listed.length} model${s.listed.length === 1 ? "" : "s"}` +
        `${s.listed.length ? ` (${s.listed.slice(0, 5).join(", ")})` : ""}, none of them the pool's.`;
    return li;
  }));
  return refreshCallable();
}

// ---- The router ----

let router = null; // a RouterWorker, once loaded
let info = null; // this version's build.json
let probeSet = null; // models/probes.json, fetched when first needed

/**
 * Loads the router in a worker: this version's files (build.json) with progress, each checked
 * and kept in the store the service worker shares. The user's models are added one by one, so
 * a heads file that no longer fits this bundle is reported and dropped, not fatal.
 */
async function startRouter() {
  const t0 = performance.now();
  let loading;
  try {
    info = await hostInfo();
    loading = await RouterWorker.load({
      worker: new Worker(new URL("worker.js", import.meta.url), { type: "module" }),
      listing: info, historical: true, onProgress: showProgress, onError: restart,
    });
  } catch (e) {
    return fatal({ kind: e.kind ?? "load", message: e.message });
  }
  const rejected = [];
  for (const a of state.added) {
    // Stored models pass the same rule as an import: an old store may hold one that does not.
    try {
      await loading.checkEntry(state.defaults, added.modelOf(a.heads));
    } catch (e) {
      rejected.push({ id: a.id, error: e.message });
      continue;
    }
    try {
      await loading.addHeads(a.heads);
    } catch (e) {
      // Calibrated with another version of the bundle: placed again in this one's space from
      // the evidence it kept (its card, its graded probes), without a call.
      try {
        a.heads = await loading.refitHeads(a.heads, await loadProbes());
        await loading.addHeads(a.heads);
        await added.keep(a.heads).catch(() => {});
        const c = a.heads.calibrations[0];
        notice(`Your model ${a.id} was placed again for this version from what it kept ` +
          `(${c.graded} probes${c.card ? ", a card" : ""}), without a call.`);
      } catch (again) {
        rejected.push({ id: a.id, error: `${e.message}; ${again.message}` });
      }
    }
  }
  for (const r of rejected) {
    state.added = state.added.filter((a) => a.id !== r.id);
    added.forget(r.id).catch(() => {});
    notice(`Your model ${r.id} was removed: ${r.error}. Calibrate or import it again.`);
  }
  // A stored key the router would refuse (an unknown provider, a bad character) is dropped
  // alone, with a notice; the others stay.
  for (const [to, key] of Object.entries(state.keys)) {
    try {
      await loading.callable({ [to]: key });
    } catch (e) {
      delete state.keys[to];
      if ($("remember").checked) save(STORE.keys, state.keys);
      notice(`A saved key for ${to} was dropped: ${e.message}`);
    }
  }
  try {
    // A model the bundle has no heads for (and that borrows none) has nothing to be estimated with.
    const known = new Set(await loading.models());
    const estimable = (m) => known.has(m.id) || m.like || m.uncalibrated || m.scores?.length;
    const pool = routedPool();
    await loading.setPool({ ...pool, models: pool.models.filter(estimable) });
    state.priced = await pricedModels(loading);
    const [curve, keyOrigins, askDefaults] = await Promise.all([loading.curve(), loading.keyOrigins(),
      loading.askDefaults()]);
    router = loading;
    ready({ ms: performance.now() - t0, curve, keyOrigins, askDefaults });
  } catch (e) {
    fatal({ kind: "load", message: e.message });
  }
}

const LOST = "the router stopped unexpectedly and is restarting";

/** The loaded router; while it loads or restarts, an error that says so. */
function loaded() {
  if (!router) throw new Error("the router is still loading; try again in a moment");
  return router;
}

/**
 * The worker died (a wasm trap, or any error it did not catch). Before the predictor was ready
 * its load failed and says so; after, it is replaced and reloads from the store, and what was
 * waiting on the old one has been answered with an error.
 */
function restart() {
  if (!state.ready) return;
  router = null;
  state.ready = false;
  $("send").disabled = true;
  document.body.dataset.ready = "restarting";
  notice("The router stopped unexpectedly and was restarted.");
  document.body.dataset.restarts = String(Number(document.body.dataset.restarts ?? 0) + 1);
  startRouter();
}

/** The bundle's probe set, as text: fetched once, checked against build.json. */
async function loadProbes() {
  probeSet ??= await loadProbeSet({ listing: info });
  return probeSet;
}

function showProgress({ loaded, total }) {
  if (document.body.dataset.ready) return; // a failure is on screen: keep it there
  $("load-progress").max = total;
  $("load-progress").value = loaded;
  $("load-status").textContent = loaded === total
    ? `Downloaded ${mb(total)} MB; starting the predictor…`
    : `Downloading the predictor: ${mb(loaded)} of ${mb(total)} MB`;
}

function ready({ ms, curve, keyOrigins, askDefaults }) {
  state.ready = true;
  state.askDefaults = askDefaults;
  renderAdded();
  document.body.dataset.version = info.version;
  state.curve = curve;
  state.keyOrigins = keyOrigins;
  renderKeys();
  discoverLocal().then(() => { if (callLocal().length) route(); });
  $("loading").classList.add("done");
  $("load-status").textContent = `Predictor ready in ${(ms / 1000).toFixed(1)} s; it runs in this page.`;
  $("budget").disabled = false;
  $("send").disabled = false;
  $("suggest").disabled = false;
  document.body.dataset.ready = "true";
  showBudget();
  route();
  checkForUpdate();
}

function fatal({ kind, message }) {
  $("load-status").textContent = kind === "checksum"
    ? "The predictor's files failed their integrity check and were not used."
    : "The predictor could not load.";
  $("load-error").textContent = `${message}. Reload to try again.`;
  $("load-error").hidden = false;
  $("load-progress").hidden = true;
  document.body.dataset.ready = "failed";
  checkForUpdate(); // a newer version may mend what this one lacks
}

// ---- Offline copy and updates ----

// An extension's files are on disk already; only the web page needs the offline worker.
const OFFLINE = "serviceWorker" in navigator && location.protocol.startsWith("http");

/**
 * Asks the service worker to pin this version (a first visit: the router's files are in the
 * store already, so only the page's small files are fetched) or to stage a newer one, which
 * the next load uses. The outcome is in body[data-update], and a staged version is announced.
 */
async function checkForUpdate() {
  if (!OFFLINE) return;
  try {
    (await navigator.serviceWorker.ready).active?.postMessage({ type: "update" });
  } catch { /* no service worker: no offline copy, the page still works */ }
}

function updated({ status, version, error }) {
  document.body.dataset.update = status;
  if (version) document.body.dataset.pinned = version;
  if (status === "updated") notice("A new version of routoo is ready: reload the page to use it.");
  if (status === "failed") console.warn(`routoo: update not installed (${error}); this version stays in use`);
  if (status === "older") notice(`The site offers an older version of routoo, which was refused (${error}); this version stays in use.`);
}

// ---- Budget ----

function costRange() {
  const costs = state.curve.points.map((p) => p.costPer1k).filter((c) => Number.isFinite(c) && c > 0);
  // From the cheapest routing's spend to the richest's: every setting buys a point of the curve.
  // A curve that costs nothing anywhere (free models only) has no range: every budget buys it all.
  if (!costs.length) return { lo: 0, hi: 0 };
  const hi = Math.max(...costs);
  return { lo: Math.max(Math.min(...costs), hi / 1e4), hi };
}

function budget() {
  if (!state.curve) return undefined;
  const { lo, hi } = costRange();
  if (!(hi > 0)) return 0;
  const b = lo * (hi / lo) ** (Number($("budget").value) / 1000);
  return Number.isFinite(b) && b >= 0 ? b : hi;
}

/**
 * The slider's budget, and what it buys on the reference curve as the router reads it. The
 * worker answers in order, so a route asked after this lands after it.
 */
async function showBudget() {
  const b = budget();
  const p = await router?.curvePoint(b).catch(() => null);
  if (!p || b !== budget()) return; // a later move shows its own
  $("budget-out").textContent = `US$${usd(b)}`;
  $("budget-out").dataset.usd = b;
  $("budget").setAttribute("aria-valuetext", `US$${usd(b)} per 1,000 requests`);
  const expect = $("budget-expect");
  expect.textContent = `Expected accuracy ${pct(p.quality)} at a spend of US$${usd(p.costPer1k)} ` +
    "per 1,000 requests (on the bundle's reference prompts).";
  expect.dataset.accuracy = p.quality;
  expect.dataset.spend = p.costPer1k;
  drawPlot(p);
  save(STORE.budget, $("budget").value);
}

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs, text) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text) el.textContent = text;
  return el;
}

function drawPlot(current) {
  const plot = $("plot");
  const points = [...state.curve.points].filter((p) => p.costPer1k > 0)
    .sort((a, b) => a.costPer1k - b.costPer1k);
  const { lo, hi } = costRange();
  plot.querySelectorAll(":not(title):not(desc)").forEach((n) => n.remove());
  if (!points.length) {
    $("plot-desc").textContent = `Every model on costs nothing: any budget buys ${pct(current.quality)}.`;
    return;
  }
  const qs = points.map((p) => p.quality);
  const qlo = Math.min(...qs) - 0.02;
  const qhi = Math.max(...qs) + 0.02;
  const [l, r, t, bottom] = [40, 310, 10, 140];
  const x = (c) => l + (r - l) * Math.log(Math.max(c, lo) / lo) / Math.log(hi / lo);
  const y = (q) => bottom - (bottom - t) * (q - qlo) / (qhi - qlo);
  plot.append(
    svg("line", { x1: l, y1: bottom, x2: r, y2: bottom, class: "axis" }),
    svg("line", { x1: l, y1: t, x2: l, y2: bottom, class: "axis" }),
    svg("text", { x: l, y: 158, class: "tick" }, `US$${usd(lo)}`),
    svg("text", { x: r, y: 158, class: "tick end" }, `US$${usd(hi)} / 1k`),
    svg("text", { x: l - 4, y: t + 8, class: "tick end" }, pct(qhi).replace(" ", "")),
    svg("text", { x: l - 4, y: bottom, class: "tick end" }, pct(qlo).replace(" ", "")),
    svg("polyline", { points: points.map((p) => `${x(p.costPer1k)},${y(p.quality)}`).join(" "), class: "curve" }),
    svg("circle", { cx: x(current.costPer1k), cy: y(current.quality), r: 5, class: "marker" }),
  );
  $("plot-desc").textContent = `Accuracy rises from ${pct(points[0].quality)} at US$${usd(points[0].costPer1k)} ` +
    `to ${pct(qs[qs.length - 1])} at US$${usd(points[points.length - 1].costPer1k)} per 1,000 requests; ` +
    `the current budget buys ${pct(current.quality)}.`;
}

// ---- Routing as the user types ----

let typing;
function scheduleRoute() {
  clearTimeout(typing);
  typing = setTimeout(route, 250);
}

async function route() {
  if (!state.ready) return;
  const prompt = $("prompt").value;
  if (!prompt.trim()) {
    state.routed = null;
    $("choice").textContent = "Type a prompt to see which model it would go to.";
    $("why").textContent = "";
    renderPool();
    return;
  }
  const asked = conversation(prompt);
  const m = await routed(asked);
  // The prompt or the conversation changed: its own request follows.
  if (JSON.stringify(conversation($("prompt").value)) !== JSON.stringify(asked)) return;
  state.routed = m;
  state.callable = m.callable;
  renderChoice();
  renderPool();
}

/**
 * What the router makes of `asked`: its prediction and the pool's estimates, which stand even
 * when no model may be chosen (no key yet), and the decision among the callable providers or
 * why there is none.
 */
async function routed(asked) {
  const t0 = performance.now();
  const m = { callable: [] };
  try {
    [m.prediction, m.estimates, m.callable] = await Promise.all([loaded().predict(asked),
      loaded().poolEstimates(asked), loaded().callable(callKeys(), callLocal())]);
    // A provider may be callable while some of its models are not (a local server that does
    // not serve them): those are left out too.
    const unserved = (state.uncallable ?? []).filter((id) => m.callable.includes(models().find((x) => x.id === id)?.provider));
    const options = routeOptions();
    m.decision = await loaded().route(asked, { ...options, providers: m.callable,
      exclude: [...(options.exclude ?? []), ...unserved] });
    m.ms = performance.now() - t0;
  } catch (e) {
    m.error = e.message;
  }
  return m;
}

function routeOptions() {
  return { budget: budget() };
}

function renderChoice() {
  const { decision, error, prediction } = state.routed;
  const chosen = $("choice");
  chosen.dataset.routed = Number(chosen.dataset.routed ?? 0) + 1; // for tests: a route was drawn
  document.body.dataset.firstEstimateMs ??= Math.round(performance.now()); // since navigation
  if (error) {
    chosen.textContent = !prediction ? error : (state.callable ?? []).length
      ? `No model can take this prompt: ${error}`
      : "No model can be called yet: add an API key below, or turn on models served on this machine.";
    delete chosen.dataset.model;
    $("why").textContent = "";
    return;
  }
  $("why").textContent = decision.why;
  const c = decision.choice;
  chosen.dataset.model = c.model;
  chosen.dataset.cost = c.cost.usd;
  chosen.textContent = `Would ask ${c.model} (${c.provider}): predicted quality ${pct(c.quality)}, ` +
    `about US$${usd(c.cost.usd)} for this prompt.` +
    (prediction.truncated ? ` Long prompt: the predictor read its first ${prediction.tokens} tokens.` : "");
}

function reasonFor(model, decision, i) {
  const c = decision.choice;
  const r = decision.ranked[i];
  if (i === 0) return "Chosen: the most quality for the budget";
  if (r.quality > c.quality && r.cost.usd <= c.cost.usd) {
    return `Predicted better (${pct(r.quality)}), but by less than the predictor is sure of ` +
      `(a ${pct(r.margin)} margin against the model the router keeps unless sure)`;
  }
  if (r.quality > c.quality) {
    return `Predicted better (${pct(r.quality)}) but costs US$${usd(r.cost.usd - c.cost.usd)} more ` +
      "than the budget pays for that gain";
  }
  const same = Math.abs(r.cost.usd - c.cost.usd) <= 1e-9 * Math.max(r.cost.usd, c.cost.usd);
  if (same) return `Costs the same, predicted less likely to answer well (${pct(r.quality)})`;
  return r.cost.usd < c.cost.usd
    ? `Cheaper, but predicted less likely to answer well (${pct(r.quality)})`
    : `Costs more and predicted no better (${pct(r.quality)})`;
}

function renderPool() {
  const body = $("pool").tBodies[0];
  const { decision, prediction, estimates } = state.routed ?? {};
  // Every head's estimate (models turned off included), then the routed pool's own, which adds
  // the models that borrow a head or are uncalibrated.
  const quality = new Map([...(prediction?.quality ?? []), ...(estimates ?? [])].map((q) => [q.model, q.quality]));
  const spread = new Map([...(prediction?.quality ?? []), ...(estimates ?? [])].map((q) => [q.model, q.sd]));
  const callable = state.callable ?? [];
  // The models that can be called first, then those on, those off, and the historical ones,
  // folded under one line until asked for (or turned on).
  const canCall = (m) => callable.includes(m.provider) && !state.uncallable?.includes(m.id);
  const group = (m) => (m.historical ? 3 : !isOn(m) ? 2 : canCall(m) ? 0 : 1);
  const listed = models().map((m, i) => ({ m, i })).sort((a, b) => group(a.m) - group(b.m) || a.i - b.i)
    .map(({ m }) => m);
  const historical = listed.filter((m) => m.historical);
  const unfolded = state.showHistorical || historical.some(isOn);
  const fold = $("pool-fold");
  fold.closest("tfoot").hidden = historical.length === 0;
  fold.textContent = `${unfolded ? "Hide" : "Show"} the ${historical.length} historical models (no longer served)`;
  fold.setAttribute("aria-expanded", String(unfolded));
  fold.disabled = historical.some(isOn); // shown while any is on
  body.replaceChildren(...listed.map((m) => {
    const tr = document.createElement("tr");
    tr.dataset.model = m.id;
    tr.hidden = Boolean(m.historical) && !unfolded;
    const on = isOn(m);
    const rank = decision?.ranked.findIndex((r) => r.model === m.id) ?? -1;
    const excluded = decision?.excluded.find((e) => e.model === m.id);
    if (rank === 0) tr.className = "chosen";
    if (!on) tr.classList.add("off");

    const use = document.createElement("input");
    use.type = "checkbox";
    use.checked = on;
    use.setAttribute("aria-label", `Use ${m.id}`);
    use.addEventListener("change", () => toggle(m.id, use.checked));

    const name = document.createElement("span");
    name.textContent = m.id;
    const provider = document.createElement("small");
    const own = state.added.find((a) => a.id === m.id)?.heads.calibrations?.[0];
    const basis = state.priced?.get(m.id)?.basis;
    provider.dataset.basis = basis?.kind ?? "";
    if (own?.graded) provider.textContent = `${m.provider}, calibrated: ${own.correct} of ${own.graded} probes right`;
    else if (m.historical && basis?.kind !== "evidence") provider.textContent = `${m.provider}, historical: no longer served, kept to compare`;
    else if (basis) provider.replaceChildren(`${m.provider}, `, ...basisNodes(basis));
    else {
      provider.textContent = m.like ? `${m.provider}, estimates borrowed from ${m.like}`
        : m.uncalibrated ? `${m.provider}, uncalibrated: routed as an average model`
        : m.scores?.length ? `${m.provider}, placed from published scores` : m.provider;
    }
    if (m.priceUnconfirmed) provider.append("; price unconfirmed");
    const calibrateIt = m.uncalibrated || m.like || m.scores?.length
      ? [document.createElement("br"), calibrateButton(m)] : [];

    const q = quality.get(m.id);
    const meter = document.createElement("meter");
    meter.min = 0; meter.max = 1; meter.value = q ?? 0;
    meter.setAttribute("aria-label", `${m.id} predicted quality`);
    const qText = document.createElement("span");
    const sd = spread.get(m.id);
    qText.textContent = q === undefined ? "—" : sd ? `${pct(q)} ± ${pct(sd)}` : pct(q);

    // The price in force today, as the router prices the pool (scheduled changes applied).
    const priced = state.priced?.get(m.id) ?? m;
    const price = (field) => {
      const input = document.createElement("input");
      input.type = "number"; input.min = "0"; input.step = "any"; input.value = priced[field];
      input.setAttribute("aria-label", `${m.id} US$ per 1M ${field === "priceIn" ? "input" : "output"} tokens`);
      if (m.priceDate) {
        input.title = `List price read on ${m.priceDate}${m.priceSource ? ` from ${m.priceSource}` : ""}` +
          (m.priceUnconfirmed ? "; unconfirmed: not the provider's own page" : "") +
          (m.prices?.length ? `; US$${m.priceIn} / ${m.priceOut} until ` +
            m.prices.map((c) => `${c.from}, then US$${c.in} / ${c.out}`).join(" until ") : "");
      }
      input.addEventListener("change", () => setPrice(m.id, field, input));
      return input;
    };

    let status;
    if (!on) status = "Off";
    else if (state.callable && !callable.includes(m.provider)) {
      status = `No API key for ${m.provider}`;
    } else if (state.uncallable?.includes(m.id) && isServerModel(m)) {
      status = "Not listed by its server: nothing on this machine serves it";
    } else if (excluded) status = excluded.message;
    else if (rank >= 0) status = reasonFor(m, decision, rank);
    else status = decision ? "" : "Usable";

    const cost = rank >= 0 ? decision.ranked[rank].cost : null;
    const record = observedBook()[m.id];
    const writes = document.createElement("small");
    writes.className = "observed";
    if (cost && record) {
      writes.textContent = `${cost.outputTokens.toLocaleString("en")} tokens out, from ${record.answers} ` +
        `answer${record.answers === 1 ? "" : "s"}`;
    }
    const cells = [
      [use], [name, document.createElement("br"), provider, ...calibrateIt], [meter, " ", qText],
      cost ? [`US$${usd(cost.usd)}`, ...(record ? [document.createElement("br"), writes] : [])] : ["—"],
      [price("priceIn")], [price("priceOut")], [status],
    ];
    for (const [i, content] of cells.entries()) {
      const td = document.createElement(i === 1 ? "th" : "td");
      if (i === 1) td.scope = "row";
      if ([2, 3].includes(i)) td.className = "num";
      td.append(...content);
      tr.append(td);
    }
    return tr;
  }));
  const button = $("pool-historical");
  button.hidden = historical.length === 0;
  button.textContent = historical.every(isOn) ? "Turn the historical models off" : "Turn the historical models on";
}

/** Historical models all on (to compare with the routing data's models), or all off again. */
function toggleHistorical() {
  const ids = models().filter((m) => m.historical).map((m) => m.id);
  const allOn = models().filter((m) => m.historical).every(isOn);
  state.edits.off = state.edits.off.filter((id) => !ids.includes(id));
  state.edits.on = state.edits.on.filter((id) => !ids.includes(id)).concat(allOn ? [] : ids);
  poolChanged();
}

async function poolChanged() {
  save(STORE.pool, state.edits);
  if (!state.ready) return renderPool();
  try {
    await repool();
    hideError();
    showBudget();
  } catch (e) {
    showError(`The pool was not changed: ${e.message}`);
  }
  await discoverLocal();
  route();
}

function toggle(id, on) {
  state.edits.off = state.edits.off.filter((x) => x !== id).concat(on ? [] : [id]);
  state.edits.on = state.edits.on.filter((x) => x !== id).concat(on ? [id] : []);
  poolChanged();
}

function setPrice(id, field, input) {
  const value = Number(input.value);
  if (input.value === "" || !Number.isFinite(value) || value < 0) {
    input.setAttribute("aria-invalid", "true");
    return showError(`A price must be a number of US$ per 1M tokens, 0 or more; ${id} keeps its price.`);
  }
  input.removeAttribute("aria-invalid");
  // An edited price replaces the listed one, schedule and all: both fields start from the
  // price in force, so editing one never brings back an old price in the other.
  const now = state.priced?.get(id);
  const base = now ? { priceIn: now.priceIn, priceOut: now.priceOut } : {};
  state.edits.prices[id] = { ...base, ...(state.edits.prices[id] ?? {}), [field]: value };
  poolChanged();
}

// ---- Keys ----

function renderKeys() {
  // Until the router says where each provider's key may go, no key field is offered. Keys
  // given for an origin (a custom base URL, from "Add a model") are listed by that origin.
  const origins = state.keyOrigins ?? {};
  const byName = providers().filter((p) => origins[p]).map((p) => [p, `${p} key`, origins[p], `key-${p}`]);
  const byOrigin = Object.keys(state.keys).filter((k) => k.includes("://"))
    .map((o, i) => [o, "key", o, `key-origin-${i}`]);
  $("keys").replaceChildren(...[...byName, ...byOrigin].map(([p, title, origin, id]) => {
    const row = document.createElement("div");
    row.className = "key";
    const label = document.createElement("label");
    label.htmlFor = id;
    label.textContent = title;
    const where = document.createElement("small");
    where.textContent = ` sent only to ${origin}`;
    label.append(where);
    const input = document.createElement("input");
    input.id = id;
    input.type = "password";
    input.autocomplete = "off";
    input.spellcheck = false;
    input.value = state.keys[p] ?? "";
    input.addEventListener("input", () => {
      if (input.value.trim()) state.keys[p] = input.value.trim(); else delete state.keys[p];
      keysChanged();
    });
    row.append(label, input);
    return row;
  }));
}

function keysChanged() {
  if ($("remember").checked) save(STORE.keys, state.keys);
  refreshCallable();
  route();
}

/** A button that fills "Add a model" with this pool entry, to calibrate it. */
function calibrateButton(m) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = "Calibrate";
  b.setAttribute("aria-label", `Calibrate ${m.id}`);
  b.addEventListener("click", () => {
    for (const [id, v] of [["add-id", m.id], ["add-provider", m.provider], ["add-api", m.apiModel],
      ["add-base", m.baseUrl], ["add-in", m.priceIn], ["add-out", m.priceOut]]) $(id).value = v;
    showKeyOrigin();
    $("add-start").disabled = true;
    $("add-outlook").textContent = "";
    $("add-section").scrollIntoView();
    $("add-estimate").focus();
  });
  return b;
}

// ---- Suggesting a pool ----

async function suggestPool() {
  const k = Number($("suggest-k").value);
  const b = budget();
  let s;
  let error;
  try { s = await loaded().suggestPool(b, k); } catch (e) { error = e.message; }
  $("suggest-use").disabled = true;
  state.suggestion = null;
  if (error) {
    $("suggestion").replaceChildren();
    $("suggest-status").textContent = `No suggestion: ${error}`;
    return;
  }
  state.suggestion = s.models.map((a) => a.model);
  $("suggestion").replaceChildren(...s.models.map((a) => {
    const li = document.createElement("li");
    li.dataset.model = a.model;
    li.textContent = `${a.model}: adds ${(a.adds * 100).toFixed(1)} points ` +
      `(then ${pct(a.expectedAccuracy)} at US$${usd(a.expectedSpendPer1k)} per 1,000 requests)`;
    return li;
  }));
  $("suggest-status").textContent = `At US$${usd(b)} per 1,000 requests these ${s.models.length} models are expected ` +
    `to reach ${pct(s.expectedAccuracy)}, spending US$${usd(s.expectedSpendPer1k)} per 1,000 requests.`;
  $("suggest-use").disabled = false;
}

function useSuggestion() {
  if (!state.suggestion) return;
  state.edits.off = models().map((m) => m.id).filter((id) => !state.suggestion.includes(id));
  state.edits.on = [...state.suggestion];
  poolChanged();
}

// ---- Adding a model ----

/** The model the form describes, as a pool entry; throws with what to mend. */
function formModel() {
  const text = (id) => $(id).value.trim();
  const price = (id, what) => {
    const v = Number($(id).value);
    if ($(id).value === "" || !Number.isFinite(v) || v < 0) throw new Error(`${what} must be US$ per 1M tokens, 0 or more`);
    return v;
  };
  for (const [id, what] of [["add-id", "a name"], ["add-provider", "a provider"], ["add-api", "the API model id"], ["add-base", "a base URL"]]) {
    if (!text(id)) throw new Error(`Give ${what}.`);
  }
  const known = state.defaults.models.find((m) => m.id === text("add-id"));
  if (known && !known.uncalibrated && !known.like) {
    throw new Error(`${text("add-id")} is a model of the default pool already; choose another name.`);
  }
  return {
    id: text("add-id"), provider: text("add-provider"), apiModel: text("add-api"), baseUrl: text("add-base"),
    priceIn: price("add-in", "The input price"), priceOut: price("add-out", "The output price"),
    contextWindow: 128000, latencyMs: 5000,
  };
}

/** Where the form's key would go, as the router binds it, or why the base URL will not do. */
async function showKeyOrigin() {
  const baseUrl = $("add-base").value.trim();
  const m = {};
  if (state.ready && baseUrl) {
    try { m.origin = await loaded().originOf(baseUrl); } catch (e) { m.error = e.message; }
  }
  if (baseUrl !== $("add-base").value.trim()) return; // typed on: its own answer follows
  $("add-key-where").textContent = m.origin ? `(sent only to ${m.origin}; optional if you gave one above)`
    : m.error ? `(this base URL will not do: ${m.error})` : "(optional if you gave one above)";
}

async function showOutlook(event) {
  event.preventDefault();
  $("add-start").disabled = true;
  let model;
  try { model = formModel(); } catch (e) { $("add-outlook").textContent = e.message; return; }
  const probes = Number($("add-probes").value);
  let o;
  try {
    o = await loaded().calibrationOutlook(called(model), await loadProbes(), probes);
  } catch (e) {
    $("add-outlook").textContent = `Cannot calibrate this model: ${e.message}`;
    return;
  }
  $("add-outlook").textContent = `${o.probes} probes to ${model.id}: about US$${usd(o.expected)}, ` +
    `at most US$${usd(o.worst)} (every answer at ${callLimit(model).toLocaleString("en")} tokens` +
    `${model.thinkingRoom ? ", thinking included" : ""}). ` +
    "Nothing has been sent yet.";
  $("add-outlook").dataset.worst = o.worst;
  $("add-start").disabled = false;
}

async function calibrate() {
  let model;
  try {
    model = formModel();
    await loaded().checkEntry(state.defaults, model);
  } catch (e) {
    $("add-status").textContent = e.message;
    return;
  }
  const key = $("add-key").value.trim();
  if (key) {
    state.keys[new URL(model.baseUrl).origin] = key;
    $("add-key").value = "";
    renderKeys();
    keysChanged();
  }
  // Calibration spends like any request: under the session cap, and counted in its spend.
  const session = capOf("cap-session");
  if (Number.isNaN(session)) { $("add-status").textContent = "A cap must be an amount in US$, 0 or more."; return; }
  const left = session === undefined ? undefined : Math.max(0, session - state.spent);
  if (left === 0) {
    $("add-status").textContent = `The session cap of US$${session} is reached; raise it to calibrate.`;
    return;
  }
  const worst = Number($("add-outlook").dataset.worst) || undefined;
  const cap = [worst, left].filter((v) => v !== undefined);
  const probes = Number($("add-probes").value);
  $("add-start").disabled = true;
  $("add-stop").disabled = false;
  $("add-progress").hidden = false;
  $("add-progress").max = probes;
  $("add-progress").value = 0;
  $("add-status").textContent = `Sending probe 1 of ${probes}…`;
  let right = 0;
  let spent = 0;
  const controller = new AbortController();
  state.calibrating = controller;
  const progress = (e) => {
    if (e.type === "sending") {
      $("add-status").textContent = `Sending probe ${e.index + 1} of ${e.total}… ${right} right so far, US$${usd(spent)} spent.`;
      return;
    }
    right += e.correct ? 1 : 0;
    spent += e.spent;
    state.spent += e.spent;
    showSpend();
    $("add-progress").value = e.index + 1;
    $("add-status").dataset.done = e.index + 1;
  };
  let heads;
  let error;
  try {
    heads = await loaded().calibrate(called(model), {
      probeSet: await loadProbes(), probes, keys: callKeys(), local: callLocal(),
      maxCost: cap.length ? Math.min(...cap) : undefined, signal: controller.signal, onProgress: progress,
    });
  } catch (e) {
    error = e.message;
  }
  state.calibrating = null;
  $("add-stop").disabled = true;
  $("add-progress").hidden = true;
  if (error) {
    $("add-status").textContent = `Calibration failed: ${error}`;
    $("add-start").disabled = false;
    return;
  }
  // The file keeps the entry as the user gave it, not the emulator's address.
  const c = heads.calibrations[0];
  c.model = model;
  $("add-status").textContent = `${model.id} calibrated: ${c.correct} of ${c.graded} probes right, ` +
    `US$${usd(c.spent)} spent${c.stopped ? ` (ended early: ${c.stopped})` : ""}. It is in the pool.`;
  await addModel(heads);
}

/** The card in the form's text box: parsed here only to say early that it is not JSON. */
function formCard() {
  const text = $("add-card").value.trim();
  if (!text) throw new Error("Paste a card of published scores, or load one.");
  try { return JSON.parse(text); } catch { throw new Error("The card is not JSON."); }
}

/** Places the form's model from the card's published scores: no call, nothing spent. */
async function fromCard() {
  let model;
  let heads;
  try {
    model = formModel();
    await loaded().checkEntry(state.defaults, model);
    heads = await loaded().placeFromCard(model, formCard());
  } catch (e) {
    $("add-status").textContent = `Not placed: ${e.message}`;
    return;
  }
  const scores = heads.calibrations[0].card?.scores ?? [];
  try {
    await addModel(heads);
  } catch (e) {
    $("add-status").textContent = `Not placed: ${e.message}`;
    return;
  }
  $("add-status").textContent = `${model.id} placed from ${scores.length} published ` +
    `score${scores.length === 1 ? "" : "s"} (${scores.map((s) => s.benchmark).join(", ")}), without a call. It is in the pool.`;
}

async function loadCard() {
  const file = $("add-card-file").files[0];
  $("add-card-file").value = "";
  if (!file) return;
  if (file.size > MAX_CARD_BYTES) {
    $("add-status").textContent = `Not loaded: the file has ${file.size} bytes; a card has at most ${MAX_CARD_BYTES}.`;
    return;
  }
  $("add-card").value = await file.text();
  $("add-status").textContent = `Loaded the card in ${file.name}; press "From published scores" to place the model.`;
}

/** Adds a heads file's model to the router, the pool and this browser's store. */
async function addModel(heads) {
  const model = added.modelOf(heads);
  if (!model) throw new Error("the file names no model (calibrations[0].model)");
  const others = state.added.filter((a) => a.id !== model.id);
  const next = [...others, { id: model.id, heads }];
  const previous = state.added;
  state.added = next;
  try {
    await loaded().addHeads(heads);
    await repool();
    state.keyOrigins = await loaded().keyOrigins();
  } catch (e) {
    state.added = previous;
    throw e;
  }
  await added.keep(heads).catch(() => notice("This browser would not store the model; it lasts until you close the page."));
  renderAdded();
  renderKeys();
  showBudget();
  refreshCallable();
  route();
}

/**
 * An imported file is untrusted: its model may take a default model's name only as that same
 * model at prices no lower (the router's rule), and the user sees what it calls, where and at
 * what price before it is added. Resolves to whether the user said yes.
 */
async function confirmImport(model) {
  await loaded().checkEntry(state.defaults, model);
  const price = (v) => (typeof v === "number" ? `US$${v}` : "no price");
  $("import-what").textContent = `Add ${model.id}? It calls ${model.apiModel} at ${model.baseUrl} ` +
    `(${model.provider}), at ${price(model.priceIn)} in and ${price(model.priceOut)} out per 1M tokens.`;
  $("import-confirm").hidden = false;
  try {
    return await new Promise((resolve) => {
      $("import-yes").onclick = () => resolve(true);
      $("import-no").onclick = () => resolve(false);
    });
  } finally {
    $("import-confirm").hidden = true;
  }
}

async function importHeads() {
  const file = $("add-import").files[0];
  $("add-import").value = "";
  if (!file) return;
  try {
    if (file.size > added.MAX_IMPORT_BYTES) throw new Error(`the file has ${file.size} bytes; a heads file has a few thousand`);
    let heads;
    try { heads = JSON.parse(await file.text()); } catch { throw new Error("the file is not JSON"); }
    const model = added.modelOf(heads);
    if (!model) throw new Error("the file names no model (calibrations[0].model)");
    if (!(await confirmImport(model))) {
      $("add-status").textContent = `Not imported: ${model.id} was not added.`;
      return;
    }
    await addModel(heads);
    $("add-status").textContent = `Imported ${model.id}.`;
  } catch (e) {
    $("add-status").textContent = `Not imported: ${e.message}`;
  }
}

async function removeModel(id) {
  state.added = state.added.filter((a) => a.id !== id);
  await added.forget(id).catch(() => {});
  renderAdded();
  poolChanged();
}

function renderAdded() {
  $("added").replaceChildren(...state.added.map(({ id, heads }) => {
    const li = document.createElement("li");
    li.dataset.model = id;
    const c = heads.calibrations?.[0];
    const text = document.createElement("span");
    text.textContent = !c ? `${id} `
      : c.graded ? `${id}: ${c.correct} of ${c.graded} probes right, US$${usd(c.spent)} `
      : `${id}: placed from ${c.card?.scores?.length ?? 0} published scores, no call `;
    const exportButton = document.createElement("button");
    exportButton.type = "button";
    exportButton.textContent = "Export";
    exportButton.setAttribute("aria-label", `Export ${id}`);
    exportButton.addEventListener("click", () => added.download(heads));
    const remove = document.createElement("button");
    remove.type = "button";
    remove.textContent = "Remove";
    remove.setAttribute("aria-label", `Remove ${id}`);
    remove.addEventListener("click", () => removeModel(id));
    li.append(text, exportButton, " ", remove);
    return li;
  }));
}

// ---- Asking ----

function showEvent(e) {
  if (e.type === "calling") {
    $("answer-meta").textContent = e.retry
      ? `Asking ${e.model} (${e.provider}) again, try ${e.retry + 1}…`
      : `Asking ${e.model} (${e.provider})…`;
    return;
  }
  const li = document.createElement("li");
  const next = e.next === "retry" ? `retrying in ${(e.waitMs / 1000).toFixed(1)} s`
    : e.next === "fallback" ? "falling back to the next model" : "no model left to try";
  li.textContent = `${e.model} failed: ${e.error}. ${next[0].toUpperCase()}${next.slice(1)}.`;
  $("fallbacks").append(li);
  $("answer").textContent = ""; // text from a failed call is void
}

/** A cap field's US$, or undefined when empty; NaN when it holds no amount. */
function capOf(id) {
  const raw = $(id).value.trim();
  if (!raw) return undefined;
  const v = Number(raw);
  return Number.isFinite(v) && v >= 0 ? v : NaN;
}

/** The most this request may cost: the per-request cap and what the session cap leaves. */
function maxCost() {
  const request = capOf("cap-request");
  const session = capOf("cap-session");
  if (Number.isNaN(request) || Number.isNaN(session)) return NaN;
  const left = session === undefined ? undefined : Math.max(0, session - state.spent);
  if (request === undefined) return left;
  return left === undefined ? request : Math.min(request, left);
}

async function send(event) {
  event.preventDefault();
  const prompt = $("prompt").value;
  hideError();
  if (!prompt.trim()) return showError("Type a prompt first.");
  const cap = maxCost();
  if (Number.isNaN(cap)) return showError("A cap must be an amount in US$, 0 or more.");
  if (capOf("cap-session") !== undefined && cap <= 0) {
    return showError(`The session cap of US$${capOf("cap-session")} is reached; raise it to send more.`);
  }
  $("answer").textContent = "";
  $("fallbacks").replaceChildren();
  $("answer-meta").textContent = "";
  $("answer").setAttribute("aria-busy", "true");
  $("send").disabled = true;
  $("stop").disabled = false;
  const controller = new AbortController();
  state.asking = controller;
  state.sending = prompt;
  renderChat(prompt);
  const asker = router;
  try {
    const reply = await loaded().ask(conversation(prompt), routeOptions(), {
      keys: callKeys(), local: callLocal(), maxCost: cap, signal: controller.signal,
      onText: (text) => $("answer").append(text),
      onEvent: showEvent,
    });
    finish({ reply });
  } catch (e) {
    // A worker that died has been replaced: the prompt waits for the new one.
    finish({ error: router === asker ? e.message : `${LOST}; the prompt is still in the box`, spent: e.spent });
  }
}

/** The conversation so far above the answer, and the question in flight when there is one. */
function renderChat(asking) {
  const turns = asking === undefined ? state.chat : [...state.chat, { role: "user", content: asking }];
  $("chat").replaceChildren(...turns.map(({ role, content }) => {
    const li = document.createElement("li");
    li.className = role;
    li.textContent = content;
    return li;
  }));
  $("chat").hidden = turns.length === 0;
  $("new-chat").disabled = state.chat.length === 0 || state.asking !== null;
}

/** Longest selection the side panel takes, in characters. */
const MAX_PANEL_PROMPT = 100_000;

/**
 * In the extension's side panel: a selection the context menu hands over (through the
 * session storage) fills the box, at load or while the panel is open; like ?prompt=, it is
 * routed, never sent.
 */
function panelPrompts() {
  const session = globalThis.chrome?.storage?.session;
  if (!session || !("panel" in document.documentElement.dataset)) return;
  const take = (value) => {
    if (typeof value?.text !== "string" || !value.text.trim()) return;
    session.remove("panelPrompt").catch(() => {});
    $("prompt").value = value.text.slice(0, MAX_PANEL_PROMPT);
    if (state.chat.length) newChat();
    else route();
  };
  session.get("panelPrompt").then((stored) => take(stored.panelPrompt)).catch(() => {});
  session.onChanged.addListener((changes) => take(changes.panelPrompt?.newValue));
}

/** Forgets the conversation: the next prompt starts a new one. */
function newChat() {
  state.chat = [];
  $("answer").textContent = "";
  $("answer-meta").textContent = "";
  $("fallbacks").replaceChildren();
  renderChat();
  route();
}

function showSpend() {
  $("session").textContent = `Session spend: US$${state.spent.toFixed(6)} (failed calls included)`;
  $("session").dataset.spent = state.spent;
}

function finish({ reply, error, spent }) {
  state.asking = null;
  $("answer").setAttribute("aria-busy", "false");
  $("send").disabled = false;
  $("stop").disabled = true;
  const asked = state.sending;
  state.sending = null;
  if (error) {
    state.spent += spent ?? 0;
    showSpend();
    $("answer-meta").textContent = "";
    renderChat();
    showError(error === "stopped" ? "Stopped. The prompt is still in the box." : error);
    return;
  }
  // The exchange joins the conversation; the box is free for a follow-up.
  state.chat.push({ role: "user", content: asked }, { role: "assistant", content: reply.answer.text });
  renderChat();
  $("chat").lastElementChild?.remove(); // the answer stays below, where it streamed
  $("prompt").value = "";
  route();
  const u = reply.answer.usage;
  state.spent += reply.spent;
  const meta = $("answer-meta");
  meta.dataset.model = reply.model;
  meta.textContent = `Answered by ${reply.model} (${reply.provider})` +
    (u ? ` · ${u.inputTokens} tokens in, ${u.outputTokens} out` : " · tokens not reported") +
    (reply.cost === null ? " · cost unknown" : ` · US$${usd(reply.cost)}`) +
    ` (estimated US$${usd(reply.estimatedCost)})` + (reply.note ? ` · ${reply.note}` : "") +
    (reply.maxTokens < callLimit(models().find((m) => m.id === reply.model))
      ? ` · answer limit lowered to ${reply.maxTokens} tokens to fit the cap` : "");
  showSpend();
  // data-observed says when the next route prices with this answer's billed output.
  meta.dataset.observed = "pending";
  observeAnswer(reply)
    .then((kept) => { meta.dataset.observed = kept ? "kept" : "unreported"; })
    .catch((e) => {
      meta.dataset.observed = "failed";
      showError(`The answer's billed output was not kept: ${e.message}`);
    });
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = false;
}
function hideError() {
  $("error").hidden = true;
}

// ---- Start ----

async function main() {
  state.edits = { off: [], on: [], prices: {}, ...load(STORE.pool, {}, validEdits) };
  state.keys = load(STORE.keys, {}, validKeys);
  state.observed = { real: load(STORE.observed, {}, validObserved), emulated: load(STORE.observedEmulated, {}, validObserved) };
  $("remember").checked = Object.keys(state.keys).length > 0;
  $("emulator").checked = Boolean(EMULATOR) && load(STORE.emulator, false, (v) => typeof v === "boolean");
  $("emulator").closest(".check").hidden = !EMULATOR;
  $("local").checked = load(STORE.local, false, (v) => typeof v === "boolean");
  $("emulator-hint").hidden = !EMULATOR;
  $("budget").value = load(STORE.budget, $("budget").value,
    (v) => (typeof v === "number" || typeof v === "string") && Number.isFinite(Number(v)));
  // ?prompt= fills the box (the extension's context menu opens the page this way); never sends.
  const asked = new URLSearchParams(location.search).get("prompt");
  if (asked) $("prompt").value = asked;
  panelPrompts();
  try {
    state.defaults = JSON.parse(await smallText(await fetch("pool.json"), "pool.json"));
  } catch (e) {
    return fatal({ kind: "load", message: `pool.json could not be loaded: ${e.message}` });
  }
  state.added = (await added.list()).filter((a) => added.modelOf(a.heads)?.id === a.id);
  renderKeys();
  renderPool();
  renderAdded();
  startRouter();

  $("prompt").addEventListener("input", scheduleRoute);
  $("budget").addEventListener("input", () => { showBudget(); route(); });
  $("ask-form").addEventListener("submit", send);
  $("keys").addEventListener("submit", (e) => e.preventDefault());
  $("stop").addEventListener("click", () => state.asking?.abort());
  $("pool-historical").addEventListener("click", toggleHistorical);
  $("pool-fold").addEventListener("click", () => { state.showHistorical = !state.showHistorical; renderPool(); });
  $("new-chat").addEventListener("click", newChat);
  $("pool-reset").addEventListener("click", () => { state.edits = { off: [], on: [], prices: {} }; poolChanged(); });
  $("remember").addEventListener("change", () => {
    if ($("remember").checked) save(STORE.keys, state.keys);
    else localStorage.removeItem(STORE.keys);
  });
  $("emulator").addEventListener("change", () => { save(STORE.emulator, $("emulator").checked); poolChanged(); });
  $("local").addEventListener("change", localChanged);
  $("keys-clear").addEventListener("click", () => {
    state.keys = {};
    $("remember").checked = false;
    localStorage.removeItem(STORE.keys);
    renderKeys();
    keysChanged();
  });
  $("suggest").addEventListener("click", suggestPool);
  $("suggest-use").addEventListener("click", useSuggestion);
  $("add-form").addEventListener("submit", showOutlook);
  $("add-form").addEventListener("input", () => { $("add-start").disabled = true; $("add-outlook").textContent = ""; });
  $("add-base").addEventListener("input", showKeyOrigin);
  $("add-start").addEventListener("click", calibrate);
  $("add-stop").addEventListener("click", () => state.calibrating?.abort());
  $("add-import").addEventListener("change", importHeads);
  $("add-from-card").addEventListener("click", fromCard);
  $("add-card-file").addEventListener("change", loadCard);
  if (OFFLINE) {
    navigator.serviceWorker.addEventListener("message", ({ data }) => {
      if (data?.type === "update") updated(data);
    });
    navigator.serviceWorker.register("sw.js", { type: "module" })
      .catch(() => { /* no offline copy; the page still works */ });
  }
}

main();

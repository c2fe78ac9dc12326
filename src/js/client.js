// RouterWorker: the router in a Worker, with Router's methods each returning a promise. Apart
// from index.js so that a page can start one without importing the glue on its own thread.
import { routerFetch } from "./fetch.js";
import { LoadError } from "./load.js";

/** Router methods a `RouterWorker` forwards. */
const METHODS = ["addHeads", "ask", "bases", "calibrate", "calibrationOutlook", "callable", "curve",
  "curvePoint", "date", "discoverLocal", "keyOrigins", "models", "placeFromCard", "pool", "poolEstimates",
  "predict", "refitHeads", "route", "routeBatch", "servingPool", "serveChat", "setDate", "setPool", "suggestPool",
  "uncallable"];
/** Router's static methods, which a `RouterWorker` offers as its own. */
const STATICS = ["askDefaults", "checkEntry", "observeOutput", "originOf"];

/**
 * A router in a Worker: the methods of `Router`, each returning a promise. Callbacks
 * (`onText`, `onEvent`, `onProgress`) and an `AbortSignal` in the last argument work as they
 * do on the main thread.
 *
 * A worker that fails (a wasm trap leaves the module in an unknown state) rejects what was in
 * flight and every later call, is stopped, and calls `onError`, so the page can start another.
 */
export class RouterWorker {
  #worker;
  #next = 0;
  #pending = new Map();
  #failed = null;
  #onError;

  /**
   * Starts a worker and loads the router in it; the options are `loadRouter`'s.
   *
   * @param {import("./index.js").LoadOptions & import("./index.js").RouterWorkerOptions & { worker?: Worker }} [options]
   */
  static async load({ onProgress, signal, worker, onError, ...options } = {}) {
    // A URL does not cross to a worker, and a relative one means the page's folder.
    if (options.baseUrl !== undefined) options.baseUrl = new URL(options.baseUrl, globalThis.location?.href).href;
    const router = new RouterWorker(worker, { onError });
    try {
      await router.#call("load", [options], { onProgress, signal });
    } catch (e) {
      router.terminate();
      throw e;
    }
    return router;
  }

  /**
   * @param {Worker} [worker]
   * @param {import("./index.js").RouterWorkerOptions} [options]
   */
  constructor(worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" }), { onError } = {}) {
    this.#worker = worker;
    this.#onError = onError;
    worker.addEventListener("message", ({ data }) => this.#answer(data));
    worker.addEventListener("error", (e) => {
      e.preventDefault();
      this.#fail(new Error(`the router's worker failed: ${e.message || "unknown error"}`));
    });
  }

  /**
   * The OpenAI SDK's `fetch`, answered by the router in the worker: the function stays here,
   * each request goes to the worker as `serveChat`.
   *
   * @param {import("./index.js").FetchOptions} [options]
   */
  fetch(options) {
    return routerFetch(this, options);
  }

  /** Stops the worker; calls in flight reject. */
  terminate() {
    this.#fail(new Error("the router's worker was terminated"), { reported: false });
  }

  #fail(error, { reported = true } = {}) {
    if (this.#failed) return;
    this.#failed = error;
    this.#worker.terminate();
    for (const { reject } of this.#pending.values()) reject(error);
    this.#pending.clear();
    if (reported) this.#onError?.(error);
  }

  #answer(data) {
    const call = this.#pending.get(data?.id);
    if (!call) return;
    if (data.callback) return call.callbacks[data.callback]?.(data.value);
    this.#pending.delete(data.id);
    call.signal?.removeEventListener("abort", call.onAbort);
    if ("error" in data) {
      /** @type {Error & { spent?: number }} */
      const error = data.kind === "load" ? new LoadError(data.loadKind, data.error) : new Error(data.error);
      if (data.spent !== undefined) error.spent = data.spent;
      call.reject(error);
    } else call.resolve(data.result);
  }

  /** A router method: an options object (the last argument) keeps its callbacks and signal here. */
  #forward(method, args) {
    const last = args.at(-1);
    const relayed = (v) => typeof v === "function" || v instanceof AbortSignal;
    if (!(last && typeof last === "object" && !Array.isArray(last) && Object.values(last).some(relayed))) {
      return this.#call("call", [method, args]);
    }
    const plain = {};
    const extras = {};
    for (const [key, value] of Object.entries(last)) (relayed(value) ? extras : plain)[key] = value;
    return this.#call("call", [method, [...args.slice(0, -1), plain]], extras);
  }

  static {
    for (const method of METHODS) {
      RouterWorker.prototype[method] = function (...args) {
        return this.#forward(method, args);
      };
    }
    for (const method of STATICS) {
      RouterWorker.prototype[method] = function (...args) {
        return this.#call("static", [method, args]);
      };
    }
  }

  /** Sends `op` with `args`; functions and the signal of `extras` stay here and are relayed. */
  #call(op, args, extras = {}) {
    const id = this.#next++;
    const callbacks = Object.fromEntries(Object.entries(extras).filter(([, value]) => typeof value === "function"));
    const { signal } = extras;
    return new Promise((resolve, reject) => {
      if (this.#failed) return reject(this.#failed);
      if (signal?.aborted) return reject(new Error("stopped"));
      const onAbort = () => this.#worker.postMessage({ id, op: "abort" });
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#pending.set(id, { resolve, reject, callbacks, signal, onAbort });
      this.#worker.postMessage({ id, op, args, callbacks: Object.keys(callbacks), signal: Boolean(signal) });
    });
  }
}

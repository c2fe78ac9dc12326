// The other end of `RouterWorker`: loads the router here and runs the calls the page sends.
import { loadRouter } from "./loader.js";

let router;
/** Router's static methods the page may call. */
const STATICS = ["askDefaults", "checkEntry", "observeOutput", "originOf"];
const controllers = new Map();

const post = (m) => self.postMessage(m);

/** The call's options with its relayed callbacks and signal put back. */
function extras(id, names, signal) {
  const out = {};
  for (const name of names) out[name] = (value) => post({ id, callback: name, value });
  if (signal) {
    const controller = new AbortController();
    controllers.set(id, controller);
    out.signal = controller.signal;
  }
  return out;
}

async function run({ id, op, args, callbacks = [], signal }) {
  if (op === "abort") return controllers.get(id)?.abort();
  try {
    const more = extras(id, callbacks, signal);
    let result;
    if (op === "load") {
      router = await loadRouter({ ...args[0], ...more });
      result = { models: router.models() };
    } else if (op === "call") {
      const [method, params] = args;
      if (!router) throw new Error("the router is not loaded");
      if (typeof router[method] !== "function") throw new Error(`the router has no method ${method}`);
      const last = params.length > 0 ? params.length - 1 : 0;
      const withExtras = Object.keys(more).length ? params.map((p, i) => (i === last ? { ...p, ...more } : p)) : params;
      result = await router[method](...withExtras);
    } else if (op === "static") {
      const [method, params] = args;
      if (!router) throw new Error("the router is not loaded");
      if (!STATICS.includes(method)) throw new Error(`the router has no static method ${method}`);
      result = router.constructor[method](...params);
    } else {
      throw new Error(`unknown operation ${op}`);
    }
    post({ id, result });
  } catch (e) {
    post({ id, error: e?.message ?? String(e), spent: e?.spent, kind: e?.name === "LoadError" ? "load" : undefined,
      loadKind: e?.kind });
    // A wasm trap leaves the module in an unknown state: after answering, fail loudly.
    if (e instanceof WebAssembly.RuntimeError) setTimeout(() => { throw e; });
  } finally {
    controllers.delete(id);
  }
}

self.addEventListener("message", ({ data }) => run(data));

// routoo: pick the LLM that answers a prompt best for a budget, in the browser or Node.
//
//   import { loadRouter } from "routoo";
//   const router = await loadRouter({ onProgress: ({ loaded, total }) => {} });
//   router.route("Prove that √2 is irrational.", { budget: 1 }).choice.model;
//
// `loadRouter` runs the router where it is called; `RouterWorker.load` runs it in a Worker
// with the same methods, each returning a promise.
export * from "./routoo.js";
export { CACHE, LoadError } from "./load.js";
export { loadProbeSet, loadRouter } from "./loader.js";
export { RouterWorker } from "./client.js";
export { routerFetch } from "./fetch.js";

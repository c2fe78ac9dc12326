// loadRouter and loadProbeSet: apart from index.js so that the worker, which imports them,
// does not import the class that starts it.
import init, { Router } from "./routoo.js";
import { CACHE, fetchFiles } from "./load.js";

const WASM = "routoo_bg.wasm";
const BUNDLE = ["models/predictor.json", "models/encoder.onnx", "models/tokenizer.json", "models/neighbours.bin"];

/**
 * Loads the wasm and the bundle the package ships (or those under `baseUrl`), checked and
 * cached, and returns a router on `pool` with `heads` (calibrated models) added. Without a
 * pool it routes over the default pool's models served today; `historical: true` keeps the
 * routing data's models their providers no longer serve.
 */
export async function loadRouter({ baseUrl, pool, heads = [], historical = false, onProgress, signal, cache = CACHE } = {}) {
  const bytes = await fetchFiles([WASM, ...BUNDLE], { baseUrl, onProgress, signal, cache });
  signal?.throwIfAborted();
  await init({ module_or_path: bytes[WASM] });
  const [manifest, encoder, tokenizer, neighbours] = BUNDLE.map((name) => bytes[name]);
  const router = Router.fromBytes(manifest, encoder, tokenizer, neighbours);
  for (const file of heads) router.addHeads(file);
  // The pool last, so it may name the models the heads add.
  if (pool !== undefined) router.setPool(pool);
  else if (!historical) router.setPool(router.servingPool());
  return router;
}

/** The bundle's probe set (the text `router.calibrate` takes as `probeSet`), checked. */
export async function loadProbeSet({ baseUrl, signal, cache = CACHE } = {}) {
  const name = "models/probes.json";
  const bytes = await fetchFiles([name], { baseUrl, signal, cache });
  return new TextDecoder().decode(bytes[name]);
}

// loadRouter and loadProbeSet: apart from index.js so that the worker, which imports them,
// does not import the class that starts it. The JS glue is imported only here, once the
// wasm it belongs to has been fetched and checked.
import FILES from "./files.js";
import { routerFetch } from "./fetch.js";
import { CACHE, LoadError, checkedListing, fetchFiles } from "./load.js";

/** The package's own files: the glue comes with the package, so it is not listed. */
const OWN = {
  router: ["routoo_bg.wasm", "models/predictor.json", "models/encoder.onnx", "models/tokenizer.json",
    "models/neighbours.bin"],
  files: FILES,
};

/**
 * The listed name ending in `suffix` (as a whole path segment), or a LoadError.
 *
 * @param {string[]} names
 * @param {string} suffix
 */
function named(names, suffix) {
  const name = names.find((n) => n === suffix || n.endsWith(`/${suffix}`));
  if (name === undefined) throw new LoadError("checksum", `the file listing names no ${suffix}`);
  return name;
}

/**
 * The bundle's parts as its manifest names them, in the manifest's folder.
 *
 * @param {Record<string, Uint8Array>} bytes
 * @param {string[]} names
 * @returns {[Uint8Array, Uint8Array, Uint8Array, Uint8Array]}
 */
function bundle(bytes, names) {
  const manifest = named(names, "predictor.json");
  let parsed;
  try {
    parsed = JSON.parse(new TextDecoder().decode(bytes[manifest]));
  } catch (e) {
    throw new LoadError("checksum", `${manifest} is not JSON: ${e.message}`);
  }
  const folder = manifest.slice(0, manifest.lastIndexOf("/") + 1);
  const part = (key) => {
    const name = `${folder}${parsed?.[key]?.file}`;
    if (!(name in bytes)) throw new LoadError("checksum", `${manifest} names a ${key} ${name} that the listing's router files lack`);
    return bytes[name];
  };
  return [bytes[manifest], part("encoder"), part("tokenizer"), part("neighbours")];
}

/**
 * A base URL as the listing's names are relative to: the page's (or worker's) folder by default.
 *
 * @param {string | URL | undefined} baseUrl
 */
function listingBase(baseUrl) {
  const here = globalThis.location?.href;
  if (baseUrl === undefined && here === undefined) throw new LoadError("network", "a file listing needs a baseUrl here");
  return new URL(baseUrl ?? "./", here);
}

/**
 * Gives the glue's `Router` class `router.fetch(options)`, the OpenAI SDK's `fetch` (see
 * fetch.js); done when a router is loaded, so that importing the package changes nothing.
 *
 * @param {any} Router
 */
function withFetch(Router) {
  if (Object.hasOwn(Router.prototype, "fetch")) return;
  Object.defineProperty(Router.prototype, "fetch", {
    value(options) {
      return routerFetch(this, options);
    },
    writable: true,
    configurable: true,
  });
}

/**
 * Loads the wasm and the bundle the package ships (or those under `baseUrl`), checked and
 * cached, and returns a router on `pool` with `heads` (calibrated models) added. Without a
 * pool it routes over the default pool's models served today; `historical: true` keeps the
 * routing data's models their providers no longer serve. Prices are those in force today (UTC),
 * scheduled changes included, or on `date` (`YYYY-MM-DD`).
 *
 * `listing` loads another build instead (a site that pins its own files, as the demo does):
 * its `router` files, glue included, at their names under `baseUrl`. The glue is imported
 * from an address that names its digest, so an older copy in the HTTP cache never meets the
 * wasm it was not built with.
 *
 * @param {import("./index.js").LoadOptions} [options]
 * @returns {Promise<import("./routoo.js").Router>}
 */
export async function loadRouter({ baseUrl, listing, pool, heads = [], historical = false, date, onProgress, signal,
  cache = CACHE } = {}) {
  let glue;
  let bytes;
  if (listing === undefined) {
    bytes = await fetchFiles(OWN.router, { baseUrl, onProgress, signal, cache });
    glue = await import("./routoo.js");
  } else {
    const { files, router: names } = checkedListing(listing);
    const base = listingBase(baseUrl);
    const glueName = named(names, "routoo.js");
    const glueUrl = new URL(`${glueName}?sha256=${files[glueName].sha256}`, base);
    bytes = await fetchFiles(names, { baseUrl: base, files, onProgress, signal, cache, urls: { [glueName]: glueUrl } });
    glue = await import(/* @vite-ignore */ glueUrl.href);
  }
  signal?.throwIfAborted();
  const names = Object.keys(bytes);
  await glue.default({ module_or_path: bytes[named(names, "routoo_bg.wasm")] });
  withFetch(glue.Router);
  const router = glue.Router.fromBytes(...bundle(bytes, names));
  for (const file of heads) router.addHeads(file);
  if (date !== undefined) router.setDate(date);
  // The pool last, so it may name the models the heads add.
  if (pool !== undefined) router.setPool(pool);
  else if (!historical) router.setPool(router.servingPool());
  return router;
}

/**
 * The bundle's probe set (the text `router.calibrate` takes as `probeSet`), checked.
 *
 * @param {Pick<import("./index.js").LoadOptions, "baseUrl" | "listing" | "signal" | "cache">} [options]
 */
export async function loadProbeSet({ baseUrl, listing, signal, cache = CACHE } = {}) {
  const { files } = listing === undefined ? OWN : checkedListing(listing);
  const name = named(Object.keys(files), "probes.json");
  const base = listing === undefined ? baseUrl : listingBase(baseUrl);
  const bytes = await fetchFiles([name], { baseUrl: base, files, signal, cache });
  return new TextDecoder().decode(bytes[name]);
}

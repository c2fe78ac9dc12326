// Loading the router: the wasm and the bundle, fetched with byte progress, checked against
// their sha256 and kept in Cache Storage under that digest, so a second load reads nothing
// from the network and a changed or cut-off file is never used.
import FILES from "./files.js";

/** @typedef {{ bytes: number, sha256: string }} FileSpec */
/** @typedef {Pick<Cache, "match" | "put" | "delete">} Store */

/** A file could not be fetched, or failed its checksum. `kind`: "network", "checksum" or "aborted". */
export class LoadError extends Error {
  /**
   * @param {"network" | "checksum" | "aborted"} kind
   * @param {string} message
   */
  constructor(kind, message) {
    super(message);
    this.name = "LoadError";
    this.kind = kind;
  }
}

/** The Cache Storage the package keeps files in, by default. */
export const CACHE = "routoo-blobs";

/** The key a file of this digest is kept under: never a URL anyone serves. */
export const blobKey = (/** @type {string} */ digest) => `https://routoo.invalid/sha256/${digest}`;

// Each file's address is written out in full so that bundlers (Vite, webpack, esbuild with
// the plugin) see it and copy the file into the build.
const PACKAGED = {
  "routoo_bg.wasm": () => new URL("./routoo_bg.wasm", import.meta.url),
  "models/predictor.json": () => new URL("./models/predictor.json", import.meta.url),
  "models/encoder.onnx": () => new URL("./models/encoder.onnx", import.meta.url),
  "models/tokenizer.json": () => new URL("./models/tokenizer.json", import.meta.url),
  "models/neighbours.bin": () => new URL("./models/neighbours.bin", import.meta.url),
  "models/probes.json": () => new URL("./models/probes.json", import.meta.url),
};

/** A sha256 digest as hex. */
export const DIGEST = /^[0-9a-f]{64}$/;
/** Relative paths inside a folder: no scheme, no `..`, no query. */
const NAME = /^(?!.*(?:^|\/)\.\.?(?:\/|$))[A-Za-z0-9_][A-Za-z0-9_./-]*$/;

/**
 * A listing of files to load, `{ files: { name: { bytes, sha256 } }, router: [name] }` (the
 * shape of the demo's build.json): `files` gives each file's size and digest, `router` the
 * files a router is made of, all among `files`. Returns it, or throws a LoadError naming
 * what is wrong.
 *
 * @param {any} listing
 * @returns {import("./index.js").Listing}
 */
export function checkedListing(listing) {
  const bad = (why) => new LoadError("checksum", `the file listing is not usable: ${why}`);
  const files = listing?.files;
  if (files === null || typeof files !== "object" || Array.isArray(files)) throw bad("it has no files");
  for (const [name, spec] of Object.entries(files)) {
    if (!NAME.test(name)) throw bad(`${JSON.stringify(name)} is not a relative path`);
    if (!Number.isSafeInteger(spec?.bytes) || spec.bytes < 0) throw bad(`${name} has no size`);
    if (typeof spec.sha256 !== "string" || !DIGEST.test(spec.sha256)) throw bad(`${name} has no sha256`);
  }
  const router = listing.router;
  if (!Array.isArray(router) || router.length === 0) throw bad("it names no router files");
  const unlisted = router.find((n) => typeof n !== "string" || !Object.hasOwn(files, n));
  if (unlisted !== undefined) throw bad(`its router file ${JSON.stringify(unlisted)} is not among its files`);
  return listing;
}

/**
 * Where `name` is: under `baseUrl` when one is given (a CDN), else beside this module.
 *
 * @param {string} name
 * @param {string | URL} [baseUrl]
 */
export function fileUrl(name, baseUrl) {
  if (baseUrl !== undefined) return new URL(name, new URL(baseUrl, globalThis.location?.href));
  const packaged = PACKAGED[name];
  if (!packaged) throw new LoadError("network", `the package ships no file ${name}`);
  return packaged();
}

/**
 * The SHA-256 of `bytes` as hex, or null where the platform has no Web Crypto (plain http).
 *
 * @param {Uint8Array<ArrayBuffer>} bytes
 */
export async function sha256(bytes) {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) return null;
  const digest = await subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Reads a body, reporting each chunk's size; stops past `limit` bytes.
 *
 * @param {Response | Request} response
 * @param {(bytes: number) => void} onBytes
 * @param {number} limit
 */
export async function readBody(response, onBytes, limit) {
  // An empty file (a bundle without neighbours) may have no body.
  if (!response.body) return new Uint8Array(0);
  const reader = response.body.getReader();
  const chunks = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > limit) {
      await reader.cancel();
      throw new LoadError("checksum", `larger than its listed ${limit} bytes`);
    }
    chunks.push(value);
    onBytes(value.length);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  return bytes;
}

/** A store with Cache Storage's `match`/`put`/`delete` that keeps nothing. @type {Store} */
const NO_CACHE = { match: async () => undefined, put: async () => {}, delete: async () => false };

/**
 * Cache Storage named `name` where the platform has it and the files come over http(s);
 * files read from disk (Node, an extension) need no second copy.
 *
 * @param {string | false} name
 * @param {URL} url
 * @returns {Promise<Store>}
 */
export async function openCache(name, url) {
  if (name === false || !/^https?:$/.test(url.protocol) || !globalThis.caches) return NO_CACHE;
  try {
    return await globalThis.caches.open(name);
  } catch {
    return NO_CACHE; // storage blocked (private mode, an opaque origin)
  }
}

/**
 * @param {URL} url
 * @param {string} name
 * @param {AbortSignal | undefined} signal
 * @param {boolean} fresh
 * @param {number} limit
 * @returns {Promise<Response>}
 */
async function fetchResponse(url, name, signal, fresh, limit) {
  if (url.protocol === "file:") {
    // Node: fetch does not read files. The module name is hidden from browser bundlers.
    const fs = "node:fs/promises";
    const { readFile, stat } = await import(/* @vite-ignore */ fs);
    let size;
    try {
      size = (await stat(url)).size;
    } catch (e) {
      throw new LoadError("network", `${name} could not be read: ${e.message}`);
    }
    // Not read at all past its listed size, like a download.
    if (size > limit) throw new LoadError("checksum", `${name} is larger than its listed ${limit} bytes`);
    try {
      return new Response(await readFile(url));
    } catch (e) {
      throw new LoadError("network", `${name} could not be read: ${e.message}`);
    }
  }
  let response;
  try {
    response = await fetch(url, { cache: fresh ? "reload" : "no-cache", signal });
  } catch (e) {
    if (signal?.aborted) throw new LoadError("aborted", "loading was stopped");
    throw new LoadError("network", `${name} could not be fetched from ${url}: ${e.message}`);
  }
  if (!response.ok) throw new LoadError("network", `${name}: HTTP ${response.status} from ${url}`);
  return response;
}

/**
 * One file, checked: from `cache` when it holds a copy that passes its sha256, else from
 * `url`. A copy that fails is dropped and fetched once more past the HTTP cache; a second
 * failure is an error and the file is not used.
 *
 * @param {Store} cache
 * @param {string} name
 * @param {FileSpec} spec
 * @param {URL} url
 * @param {{ progress?: (bytes: number) => void, signal?: AbortSignal }} [options]
 * @returns {Promise<Uint8Array>}
 */
export async function verified(cache, name, spec, url, { progress = () => {}, signal } = {}) {
  let counted = 0;
  const count = (n) => {
    counted += n;
    progress(n);
  };
  const key = blobKey(spec.sha256);
  for (const fresh of [false, true]) {
    signal?.throwIfAborted();
    let response = fresh ? undefined : await cache.match(key);
    const stored = Boolean(response);
    response ??= await fetchResponse(url, name, signal, fresh, spec.bytes);
    let bytes = null;
    let problem;
    try {
      bytes = await readBody(response, count, spec.bytes);
    } catch (e) {
      if (signal?.aborted) throw new LoadError("aborted", "loading was stopped");
      if (!(e instanceof LoadError)) throw new LoadError("network", `${name} was cut off: ${e.message}`);
      problem = e.message;
    }
    const digest = bytes && (await sha256(bytes));
    // Without Web Crypto the bundle's files are still checked by the router against the
    // digests predictor.json lists; nothing is cached unchecked.
    if (bytes && digest === null) return bytes;
    if (digest === spec.sha256) {
      if (!stored) await cache.put(key, new Response(bytes)).catch(() => {});
      return bytes;
    }
    problem ??= `sha256 ${digest.slice(0, 12)}…, expected ${spec.sha256.slice(0, 12)}…`;
    if (stored) await cache.delete(key);
    progress(-counted);
    counted = 0;
    if (fresh) throw new LoadError("checksum", `${name} failed its checksum (${problem}); it was not used`);
  }
}

/**
 * The files `names` of the package's listing (or `files`, for another bundle), each checked;
 * `onProgress({loaded, total})` as bytes arrive; `urls` gives some files another address.
 * Resolves to `{name: Uint8Array}`.
 *
 * @param {string[]} names
 * @param {{ baseUrl?: string | URL, files?: Record<string, FileSpec>, cache?: string | false,
 *   onProgress?: (progress: import("./index.js").LoadProgress) => void, signal?: AbortSignal,
 *   urls?: Record<string, URL> }} [options]
 * @returns {Promise<Record<string, Uint8Array>>}
 */
export async function fetchFiles(names, { baseUrl, files = FILES, cache = CACHE, onProgress, signal, urls = {} } = {}) {
  for (const name of names) {
    if (!files[name]) throw new LoadError("network", `no file ${name} is listed`);
  }
  const total = names.reduce((n, name) => n + files[name].bytes, 0);
  let loaded = 0;
  let last = 0;
  const report = (n) => {
    loaded += n;
    const now = Date.now();
    if (onProgress && (now - last > 50 || loaded === total)) {
      last = now;
      onProgress({ loaded, total });
    }
  };
  onProgress?.({ loaded: 0, total });
  const at = names.map((name) => urls[name] ?? fileUrl(name, baseUrl));
  const store = await openCache(cache, at[0]);
  const bytes = await Promise.all(names.map((name, i) =>
    verified(store, name, files[name], at[i], { progress: report, signal })));
  return Object.fromEntries(names.map((name, i) => [name, bytes[i]]));
}

// Files by content: build.json names every file of a version with its size and sha256, and
// Cache Storage keeps each file once under its digest. The worker (loading the router) and
// the service worker (pinning a whole version for offline use) share this store, so a file
// is downloaded and checked once, whichever of them needs it first.

export const BLOBS = "routoo-blobs";

/** A version's build.json could not be used, or a file failed to arrive or to check. */
export class LoadError extends Error {
  constructor(kind, message) { super(message); this.kind = kind; }
}

/** The key a file of this digest is kept under: never a URL the page serves. */
export const blobKey = (digest) => `https://routoo.invalid/sha256/${digest}`;

/** Where the service worker keeps the version it serves: its build.json and the host's headers. */
export const CURRENT = "https://routoo.invalid/current";

/** The version the service worker serves: { info, text, headers }, or null. */
export async function pinnedVersion(blobs) {
  const stored = await blobs.match(CURRENT);
  if (!stored) return null;
  try {
    const { text, headers } = await stored.json();
    const info = checkedInfo(text);
    return info ? { info, text, headers: headers ?? {} } : null;
  } catch {
    return null;
  }
}

export async function sha256(bytes) {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Reads a response body, reporting each chunk's size; stops past `limit` bytes. */
export async function read(response, onBytes, limit) {
  // An empty file (the neighbour file of a bundle without neighbours) may have no body.
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
      throw new LoadError("checksum", `larger than the ${limit} bytes build.json gives it`);
    }
    chunks.push(value);
    onBytes(value.length);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) { bytes.set(c, at); at += c.length; }
  return bytes;
}

const DIGEST = /^[0-9a-f]{64}$/;
/** Relative paths inside the page's folder: no scheme, no `..`, no query. */
const NAME = /^(?!.*(?:^|\/)\.\.?(?:\/|$))[A-Za-z0-9_][A-Za-z0-9_./-]*$/;

/**
 * A build.json that names its version and lists files with sizes and sha256 digests, and
 * whose `router` files are among them; else null (an HTML fallback, a truncated copy).
 */
export function checkedInfo(text) {
  let info;
  try { info = JSON.parse(text); } catch { return null; }
  const files = info?.files;
  if (typeof info?.version !== "string" || !DIGEST.test(info.version)) return null;
  if (files === null || typeof files !== "object" || Array.isArray(files)) return null;
  const names = Object.keys(files);
  const ok = names.length > 0 && names.every((n) => NAME.test(n)
    && Number.isSafeInteger(files[n]?.bytes) && files[n].bytes >= 0
    && typeof files[n].sha256 === "string" && DIGEST.test(files[n].sha256));
  const router = info.router;
  const listed = Array.isArray(router) && router.every((n) => Object.hasOwn(files, n));
  return ok && listed ? info : null;
}

/** Cache Storage where the scheme allows it; an extension's files are on disk already. */
export function openBlobs() {
  if (self.location.protocol.startsWith("http")) return caches.open(BLOBS);
  return { match: async () => undefined, put: async () => {}, delete: async () => false, keys: async () => [] };
}

/**
 * One file of a version: from the store when it holds a copy that passes its checksum, else
 * from `url` (the file's address; a versioned one where an old copy may sit in the HTTP
 * cache). A copy that fails is dropped and fetched again once, past the HTTP cache; a second
 * failure is reported and the file is not used.
 */
export async function verified(blobs, name, spec, { url = name, progress = () => {} } = {}) {
  let counted = 0;
  const count = (n) => { counted += n; progress(n); };
  const key = blobKey(spec.sha256);
  for (const fresh of [false, true]) {
    let response = fresh ? null : await blobs.match(key);
    const stored = Boolean(response);
    if (!response) {
      try {
        response = await fetch(url, { cache: fresh ? "reload" : "no-cache" });
      } catch (e) {
        throw new LoadError("network", `${name} could not be fetched: ${e.message}`);
      }
      if (!response.ok) throw new LoadError("network", `${name}: HTTP ${response.status}`);
    }
    let bytes = null;
    let problem;
    try {
      bytes = await read(response, count, spec.bytes);
    } catch (e) {
      if (!(e instanceof LoadError)) throw new LoadError("network", `${name} was cut off: ${e.message}`);
      problem = e.message;
    }
    const digest = bytes && await sha256(bytes);
    if (digest === spec.sha256) {
      if (!stored) await blobs.put(key, new Response(bytes));
      return bytes;
    }
    problem ??= `sha256 ${digest.slice(0, 12)}…, expected ${spec.sha256.slice(0, 12)}…`;
    if (stored) await blobs.delete(key);
    progress(-counted);
    counted = 0;
    if (fresh) throw new LoadError("checksum", `${name} failed its checksum (${problem}); it was not used`);
  }
}

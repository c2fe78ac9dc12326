// Files by content: build.json names every file of a version with its size and sha256, and
// Cache Storage keeps each file once under its digest. The worker (loading the router) and
// the service worker (pinning a whole version for offline use) share this store, so a file
// is downloaded and checked once, whichever of them needs it first.

// The checked fetch and the store's keys are the npm package's own (pkg/load.js): the page
// loads its files exactly as the package does.
import { CACHE as BLOBS, LoadError, blobKey, openCache, verified as checked } from "./pkg/load.js";

export { BLOBS, LoadError, blobKey };

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
export const openBlobs = () => openCache(BLOBS, new URL(self.location.href));

/**
 * One file of a version: from the store when it holds a copy that passes its checksum, else
 * from `url` (the file's address; a versioned one where an old copy may sit in the HTTP
 * cache). A copy that fails is dropped and fetched again once, past the HTTP cache; a second
 * failure is reported and the file is not used.
 */
export const verified = (blobs, name, spec, { url = name, progress } = {}) =>
  checked(blobs, name, spec, new URL(url, self.location.href), { progress });

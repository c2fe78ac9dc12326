// Files by content: build.json names every file of a version with its size and sha256, and
// Cache Storage keeps each file once under its digest. The worker (loading the router) and
// the service worker (pinning a whole version for offline use) share this store, so a file
// is downloaded and checked once, whichever of them needs it first.

// The checked fetch and the store's keys are the npm package's own (pkg/load.js): the page
// loads its files exactly as the package does.
import {
  CACHE as BLOBS, DIGEST, LoadError, blobKey, checkedListing, openCache, readBody, verified as checked,
} from "./pkg/load.js";

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

/**
 * A build.json that names its version and lists files with sizes and sha256 digests, and
 * whose `router` files are among them (the package's file listing); else null (an HTML
 * fallback, a truncated copy).
 */
export function checkedInfo(text) {
  let info;
  try {
    info = checkedListing(JSON.parse(text));
  } catch {
    return null;
  }
  const stamped = info.built === undefined || (typeof info.built === "string" && Number.isFinite(Date.parse(info.built)));
  return typeof info.version === "string" && DIGEST.test(info.version) && stamped ? info : null;
}

/**
 * Whether `next` was built before `current`: a host rolled back. A listing without a stamp
 * predates stamps, so it is older than any stamped one.
 */
export function builtBefore(next, current) {
  if (current?.built === undefined) return false;
  return next.built === undefined || Date.parse(next.built) < Date.parse(current.built);
}

/** Most bytes read of a small file of the page (build.json, pool.json): each is a few kB. */
const MAX_SMALL_FILE_BYTES = 1 << 20;

/** `response`'s body as text, refused past MAX_SMALL_FILE_BYTES. */
export async function smallText(response, name) {
  try {
    return new TextDecoder().decode(await readBody(response, () => {}, MAX_SMALL_FILE_BYTES));
  } catch (e) {
    throw new LoadError("network", `${name} could not be read: ${e.message}`);
  }
}

/** The version the host serves (or the service worker pinned): its build.json, checked. */
export async function hostInfo() {
  let text;
  try {
    const response = await fetch("build.json", { cache: "no-cache" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    text = await smallText(response, "build.json");
  } catch (e) {
    throw new LoadError("network", `build.json could not be fetched: ${e.message}`);
  }
  const info = checkedInfo(text);
  if (!info) throw new LoadError("network", "build.json is not a build listing (the host answered with something else)");
  return info;
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

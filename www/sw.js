// Pins the page to one version. A version is a build.json: every file the page runs (the
// shell, the JS glue, the wasm, the bundle, the pool) with its sha256. The page is served
// from the current version's checked files, online or not. A newer build.json on the host is
// staged in the background: each of its files fetched and checked into the store, and only
// when all have passed does it become current, for the next load. An update cut off or
// half-bad on the host leaves the current version whole. Provider calls are never touched.
import {
  CURRENT, builtBefore, checkedInfo, openBlobs, blobKey, pinnedVersion, smallText, verified, LoadError,
} from "./store.js";

/** Caches of earlier releases of this file. */
const RETIRED = ["routoo-shell-v1", "routoo-files-v1"];

/** The current version, read from the store once per service-worker life, not per request. */
let known = null;
const current = async () => (known ??= await pinnedVersion(await openBlobs()));

/** The headers a host sends with every file of the page (its security policy among them). */
const KEPT = ["content-security-policy", "x-content-type-options", "referrer-policy",
  "cross-origin-opener-policy", "permissions-policy"];

/**
 * Fetches the host's build.json and, when it is another version than the current one, checks
 * every file of it into the store, then makes it current and drops files no longer named.
 * Resolves to { status, version }, status "current" (nothing new), "pinned" (the first
 * version), "updated" (used from the next load) or "older" (refused: built before the current
 * one); rejects with what stopped it.
 */
async function stage() {
  let response;
  try {
    response = await fetch("build.json", { cache: "no-store" });
  } catch (e) {
    throw new LoadError("network", `build.json could not be fetched: ${e.message}`);
  }
  if (!response.ok) throw new LoadError("network", `build.json: HTTP ${response.status}`);
  const text = await smallText(response, "build.json");
  const info = checkedInfo(text);
  if (!info) throw new LoadError("checksum", "the host's build.json is not a build listing");
  const was = await current();
  if (was?.info.version === info.version) return { status: "current", version: info.version };
  // Versions only move forward: an older listing is a host rolled back (or replaying one).
  if (was && builtBefore(info, was.info)) {
    return { status: "older", version: was.info.version, error: `the host offers a version built ` +
      `${info.built ?? "before build stamps"}, older than this one (${was.info.built})` };
  }
  const blobs = await openBlobs();
  // One at a time: an update in the background should not crowd the page's own requests.
  for (const [name, spec] of Object.entries(info.files)) {
    await verified(blobs, name, spec, { url: new URL(name, self.registration.scope).href });
  }
  const headers = Object.fromEntries(KEPT.flatMap((h) => {
    const v = response.headers.get(h);
    return v === null ? [] : [[h, v]];
  }));
  await blobs.put(CURRENT, new Response(JSON.stringify({ text, headers })));
  known = { info, text, headers };
  const keep = new Set(Object.values(info.files).map((f) => blobKey(f.sha256)));
  for (const request of await blobs.keys()) {
    if (request.url !== CURRENT && !keep.has(request.url)) await blobs.delete(request);
  }
  return { status: was ? "updated" : "pinned", version: info.version };
}

/** One staging at a time; a request while one runs shares it. */
let staging = null;
function update() {
  staging ??= stage().finally(() => { staging = null; });
  return staging;
}

const TYPES = { html: "text/html; charset=utf-8", js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8", json: "application/json", wasm: "application/wasm" };

/** The page-relative name of a request for one of the page's own files, else null. */
function nameOf(request) {
  const scope = new URL(self.registration.scope);
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== scope.origin || !url.pathname.startsWith(scope.pathname)) {
    return null;
  }
  return url.pathname.slice(scope.pathname.length) || "index.html";
}

/** The current version's copy of a file of the page, or null to let the network answer. */
async function pinned(name) {
  const version = await current();
  if (!version) return null;
  const type = TYPES[name.split(".").pop()] ?? "application/octet-stream";
  const headers = { ...version.headers, "content-type": type };
  if (name === "build.json") return new Response(version.text, { headers });
  const spec = version.info.files[name];
  if (!spec) return null;
  const blobs = await openBlobs();
  const stored = await blobs.match(blobKey(spec.sha256));
  return stored ? new Response(stored.body, { headers }) : null;
}

self.addEventListener("install", () => self.skipWaiting());

self.addEventListener("activate", (event) => event.waitUntil((async () => {
  for (const name of RETIRED) await caches.delete(name);
  await self.clients.claim();
})()));

self.addEventListener("fetch", (event) => {
  const name = nameOf(event.request);
  if (name === null) return; // provider calls and other origins go straight to the network
  event.respondWith((async () => (await pinned(name)) ?? fetch(event.request))());
});

// The page asks once its router runs (so a first visit downloads each file once), and hears
// how the check went; a version staged now is used from the next load.
self.addEventListener("message", (event) => {
  if (event.data?.type !== "update") return;
  const reply = (m) => event.source?.postMessage({ type: "update", ...m });
  event.waitUntil(update().then(reply, (e) => reply({ status: "failed", error: e.message })));
});

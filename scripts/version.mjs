// What one version of the page is: every file it runs, with its size and sha256, and the
// files the router loads before it can route (the page's progress counts those). The
// service worker serves a version only once all its files have passed, so the JS glue, the
// wasm, the bundle and the pool always come from the same build.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";

/**
 * The page's own files, with the npm package's loader and worker it runs; sw.js is not one
 * (the browser updates it).
 */
export const SHELL = ["index.html", "app.js", "added.js", "worker.js", "store.js", "style.css", "pool.json",
  "pkg/client.js", "pkg/fetch.js", "pkg/files.js", "pkg/load.js", "pkg/loader.js", "pkg/worker.js"];

const digest = (bytes) => createHash("sha256").update(bytes).digest("hex");

/**
 * build.json for the page in `root`. `replace` gives other bytes for some files (a dev
 * server's index.html), so the listing matches what is served. `built` (an ISO date, by
 * default now) orders versions: a page never moves to one built before the one it runs.
 */
export function buildInfo(root, replace = {}, built = new Date().toISOString()) {
  const manifest = JSON.parse(readFileSync(path.join(root, "models/predictor.json"), "utf8"));
  const router = ["pkg/routoo.js", "pkg/routoo_bg.wasm", "models/predictor.json",
    ...[manifest.encoder, manifest.tokenizer, manifest.neighbours].map((f) => `models/${f.file}`)];
  // The probe set is loaded only to calibrate a model, so it is pinned but not preloaded.
  const later = manifest.probes ? [`models/${manifest.probes.file}`] : [];
  const files = {};
  for (const name of [...SHELL, ...router, ...later].sort()) {
    const bytes = replace[name] ?? readFileSync(path.join(root, name));
    files[name] = { bytes: bytes.length, sha256: digest(bytes) };
  }
  // The version names the whole listing: any file changed is another version.
  const version = digest(Object.entries(files).map(([n, f]) => `${f.sha256} ${f.bytes} ${n}\n`).join(""));
  return { version, built, router, files };
}

// Writes www/build.json (the version: size and sha256 of every file the page runs, see
// version.mjs) and www/_headers (the page's security headers, for static hosts).
import { writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { writeHeadersFile, WWW } from "./serve.mjs";
import { buildInfo } from "./version.mjs";

/** Writes root/build.json (stamped `built`, by default now); returns it. */
export function writeBuildInfo(root = WWW, built = undefined) {
  const info = buildInfo(root, {}, built);
  writeFileSync(path.join(root, "build.json"), JSON.stringify(info, null, 2) + "\n");
  return info;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const info = writeBuildInfo();
  const bytes = (names) => names.reduce((n, f) => n + info.files[f].bytes, 0);
  console.log(`www/build.json: version ${info.version.slice(0, 12)}, ${Object.keys(info.files).length} files, ` +
    `${bytes(Object.keys(info.files))} bytes (${bytes(info.router)} for the router)`);
  writeHeadersFile(WWW);
  console.log("www/_headers: the page's security headers, for static hosts");
}

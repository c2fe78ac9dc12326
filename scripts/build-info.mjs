// Writes www/build.json: size and sha256 of every file the page loads before it can route,
// so the page can show download progress as bytes of a known total and check each file.
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { writeHeadersFile } from "./serve.mjs";

const www = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "www");
const manifest = JSON.parse(readFileSync(path.join(www, "models/predictor.json"), "utf8"));
const files = ["pkg/routoo_bg.wasm", "models/predictor.json",
  ...[manifest.encoder, manifest.tokenizer, manifest.neighbours].map((f) => `models/${f.file}`)];
const info = { files: {} };
for (const file of files) {
  const bytes = readFileSync(path.join(www, file));
  info.files[file] = { bytes: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex") };
}
writeFileSync(path.join(www, "build.json"), JSON.stringify(info, null, 2) + "\n");
console.log(`www/build.json: ${files.length} files, ${Object.values(info.files).reduce((n, f) => n + f.bytes, 0)} bytes`);
writeHeadersFile(www);
console.log("www/_headers: the page's security headers, for static hosts");

// Finishes the npm package in pkg/ after wasm-pack: the JS layer (src/js), the default bundle
// (www/models) with a listing of every file's size and sha256 (files.js), the LICENSE, the
// package README and a package.json whose version is Cargo.toml's. `--pack` also writes the
// tarball to target/package and prints its size and files.
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), "..");
export const PKG = path.join(ROOT, "pkg");
const JS = ["index.js", "index.d.ts", "ai-sdk.js", "ai-sdk.d.ts", "client.js", "fetch.js", "loader.js", "load.js", "worker.js"];
/** The bundle's files under the names the package's loader knows them by. */
const BUNDLE = { encoder: "encoder.onnx", tokenizer: "tokenizer.json", neighbours: "neighbours.bin", probes: "probes.json" };
const GLUE = ["routoo.js", "routoo.d.ts", "routoo_bg.wasm", "routoo_bg.wasm.d.ts"];

const digest = (bytes) => createHash("sha256").update(bytes).digest("hex");

export function cargoVersion() {
  return readFileSync(path.join(ROOT, "Cargo.toml"), "utf8").match(/^version = "([^"]+)"/m)[1];
}

/** Every file the tarball must hold, and nothing else (npm adds package.json itself). */
export const SHIPPED = [...JS, "files.js", ...GLUE, "LICENSE", "README.md",
  "models/predictor.json", ...Object.values(BUNDLE).map((f) => `models/${f}`)];

export function assemble() {
  for (const f of GLUE) statSync(path.join(PKG, f)); // wasm-pack ran
  for (const f of JS) copyFileSync(path.join(ROOT, "src", "js", f), path.join(PKG, f));
  copyFileSync(path.join(ROOT, "src", "js", "README.md"), path.join(PKG, "README.md"));
  copyFileSync(path.join(ROOT, "LICENSE"), path.join(PKG, "LICENSE"));

  const models = path.join(ROOT, "www", "models");
  const manifest = JSON.parse(readFileSync(path.join(models, "predictor.json"), "utf8"));
  rmSync(path.join(PKG, "models"), { recursive: true, force: true });
  mkdirSync(path.join(PKG, "models"));
  copyFileSync(path.join(models, "predictor.json"), path.join(PKG, "models", "predictor.json"));
  for (const [part, name] of Object.entries(BUNDLE)) {
    const file = manifest[part]?.file;
    if (file !== name) throw new Error(`predictor.json names its ${part} ${file}; the package's loader expects ${name}`);
    copyFileSync(path.join(models, name), path.join(PKG, "models", name));
  }

  const files = {};
  for (const name of ["routoo_bg.wasm", "models/predictor.json", ...Object.values(BUNDLE).map((f) => `models/${f}`)]) {
    const bytes = readFileSync(path.join(PKG, name));
    files[name] = { bytes: bytes.length, sha256: digest(bytes) };
  }
  writeFileSync(path.join(PKG, "files.js"), "// Written by scripts/package.mjs: each file's size and sha256.\n" +
    `export default ${JSON.stringify(files, null, 2)};\n`);

  const generated = JSON.parse(readFileSync(path.join(PKG, "package.json"), "utf8"));
  const pkg = {
    name: "routoo",
    version: cargoVersion(),
    description: "An LLM router that runs in the browser: predicts which model will answer a prompt well, " +
      "picks the best one for a budget, and calls it with your key.",
    license: "Apache-2.0",
    repository: generated.repository,
    keywords: ["llm", "router", "routing", "wasm", "openai", "anthropic", "gemini", "browser"],
    type: "module",
    main: "./index.js",
    types: "./index.d.ts",
    exports: {
      ".": { types: "./index.d.ts", default: "./index.js" },
      "./ai-sdk": { types: "./ai-sdk.d.ts", default: "./ai-sdk.js" },
      "./worker.js": "./worker.js",
      "./routoo.js": { types: "./routoo.d.ts", default: "./routoo.js" },
      "./models/*": "./models/*",
      "./routoo_bg.wasm": "./routoo_bg.wasm",
      "./package.json": "./package.json",
    },
    files: SHIPPED.filter((f) => !f.startsWith("models/")).concat("models/"),
    // The worker runs for its effect; the rest can be tree-shaken.
    sideEffects: ["./worker.js"],
    engines: { node: ">=20" },
  };
  writeFileSync(path.join(PKG, "package.json"), JSON.stringify(pkg, null, 2) + "\n");
  return pkg;
}

/** Packs pkg/ into target/package; returns {file, size, files}. */
export function pack() {
  const out = path.join(ROOT, "target", "package");
  mkdirSync(out, { recursive: true });
  const [result] = JSON.parse(execFileSync("npm", ["pack", "--json", "--pack-destination", out], { cwd: PKG, encoding: "utf8" }));
  return { file: path.join(out, result.filename), size: result.size, unpacked: result.unpackedSize,
    files: result.files.map((f) => ({ path: f.path, size: f.size })) };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const pkg = assemble();
  console.log(`pkg/: routoo ${pkg.version}, ${SHIPPED.length} files`);
  if (process.argv.includes("--pack")) {
    const t = pack();
    console.log(`${path.relative(ROOT, t.file)}: ${(t.size / 1e6).toFixed(2)} MB packed, ${(t.unpacked / 1e6).toFixed(2)} MB unpacked`);
    for (const f of t.files) console.log(`  ${String(f.size).padStart(10)}  ${f.path}`);
  }
}

// Assembles the Manifest V3 extension in target/extension (or the directory given): the demo
// page and its files, extension/background.js, and a manifest whose version, host
// permissions and page policy come from Cargo.toml and www/index.html's policy.
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { devPage, pagePolicy, WWW } from "./serve.mjs";
import { SHELL } from "./version.mjs";

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), "..");
const PAGE = [...SHELL, "build.json", "pkg", "models"];

/** `dev: true` also grants the provider emulator's origin, for tests and trying it out. */
export function buildExtension(out = path.join(ROOT, "target", "extension"), { dev = false } = {}) {
  const version = readFileSync(path.join(ROOT, "Cargo.toml"), "utf8").match(/^version = "([^"]+)"/m)[1];
  // The page's connect-src: the pool's provider origins (the demo test holds it to exactly
  // that; a dev build adds the emulator's), so the same list grants the host permissions.
  const connect = pagePolicy(WWW, { dev }).match(/connect-src ([^;]+)/)[1].trim().split(/\s+/)
    .filter((s) => s !== "'self'");
  const hosts = connect.map((origin) => `${origin}/*`);
  const manifest = {
    ...JSON.parse(readFileSync(path.join(ROOT, "extension", "manifest.json"), "utf8")),
    version,
    host_permissions: hosts,
    content_security_policy: {
      // An extension page's policy must keep script-src to 'self' (+ wasm); connect-src is the page's.
      extension_pages: `script-src 'self' 'wasm-unsafe-eval'; object-src 'self'; connect-src 'self' ${connect.join(" ")}`,
    },
  };
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  for (const f of PAGE) cpSync(path.join(WWW, f), path.join(out, f), { recursive: true });
  if (dev) writeFileSync(path.join(out, "index.html"), devPage(WWW));
  cpSync(path.join(ROOT, "extension", "background.js"), path.join(out, "background.js"));
  writeFileSync(path.join(out, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const out = buildExtension(args.find((a) => !a.startsWith("--")), { dev: args.includes("--dev") });
  console.log(`extension in ${out}: load it unpacked from chrome://extensions`);
}

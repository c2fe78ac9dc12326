// Assembles the Manifest V3 extension in target/extension (or the directory given): the demo
// page and its files, extension/background.js, and a manifest whose version, host
// permissions and page policy come from Cargo.toml and www/index.html's policy.
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { zipSync } from "fflate";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { devPage, pagePolicy, EMULATOR, WWW } from "./serve.mjs";
import { SHELL } from "./version.mjs";

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), "..");
const PAGE = [...SHELL.filter((f) => !f.startsWith("pkg/")), "build.json", "pkg", "models"];

/** `dev: true` also grants the provider emulator's origin, for tests and trying it out. */
export function buildExtension(out = path.join(ROOT, "target", "extension"), { dev = false } = {}) {
  const version = readFileSync(path.join(ROOT, "Cargo.toml"), "utf8").match(/^version = "([^"]+)"/m)[1];
  // The page's connect-src: the pool's provider origins (the demo test holds it to exactly
  // that; a dev build adds the emulator's), so the same list grants the host permissions.
  const connect = pagePolicy(WWW, { dev }).match(/connect-src ([^;]+)/)[1].trim().split(/\s+/)
    .filter((s) => s !== "'self'");
  // A host permission lets the extension past CORS: a server on this machine that never opted
  // in would get prompts. Local servers are optional, asked for when the user turns them on;
  // a dev build's emulator stays granted.
  const local = (origin) => origin !== EMULATOR && /^http:\/\/(localhost|127\.|\[::1\])/.test(origin);
  const manifest = {
    ...JSON.parse(readFileSync(path.join(ROOT, "extension", "manifest.json"), "utf8")),
    version,
    host_permissions: connect.filter((o) => !local(o)).map((o) => `${o}/*`),
    optional_host_permissions: connect.filter(local).map((o) => `${o}/*`),
    content_security_policy: {
      // An extension page's policy must keep script-src to 'self' (+ wasm); connect-src is the page's.
      extension_pages: `script-src 'self' 'wasm-unsafe-eval'; object-src 'self'; connect-src 'self' ${connect.join(" ")}`,
    },
  };
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  for (const f of PAGE) cpSync(path.join(WWW, f), path.join(out, f), { recursive: true });
  if (dev) writeFileSync(path.join(out, "index.html"), devPage(WWW));
  // The side panel is the same page, marked so that it takes the selections the menu hands over.
  const page = readFileSync(path.join(out, "index.html"), "utf8");
  if (!/<html [^>]*lang=/.test(page)) throw new Error("index.html has no <html lang=...> to mark");
  writeFileSync(path.join(out, "panel.html"), page.replace(/<html /, "<html data-panel "));
  cpSync(path.join(ROOT, "extension", "background.js"), path.join(out, "background.js"));
  writeFileSync(path.join(out, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
  return out;
}

/** Every file under `dir`, as paths relative to it with "/" separators. */
function files(dir, prefix = "") {
  return readdirSync(path.join(dir, prefix), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(dir, `${prefix}${e.name}/`) : [`${prefix}${e.name}`]);
}

/** Writes the zip the Chrome Web Store takes (manifest.json at its root); returns its path. */
export function zipExtension(dir, out) {
  const entries = Object.fromEntries(files(dir).sort().map((f) => [f, readFileSync(path.join(dir, f))]));
  writeFileSync(out, zipSync(entries, { level: 9, mtime: new Date("2026-01-01T00:00:00Z") }));
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const dev = args.includes("--dev");
  const out = buildExtension(args.find((a) => !a.startsWith("--")), { dev });
  console.log(`extension in ${out}: load it unpacked from chrome://extensions`);
  if (!dev) {
    const version = JSON.parse(readFileSync(path.join(out, "manifest.json"), "utf8")).version;
    const zip = zipExtension(out, path.join(ROOT, "target", `routoo-extension-${version}.zip`));
    console.log(`${path.relative(ROOT, zip)}: ${(readFileSync(zip).length / 1e6).toFixed(2)} MB, for the Chrome Web Store`);
  }
}

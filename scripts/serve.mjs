// Serves www/ on 127.0.0.1 (PORT, default 8080). Also imported by the browser tests.
// Every response carries the page's security headers (www/_headers, which static hosts such as
// Netlify and Cloudflare Pages read): the Content-Security-Policy as a header too binds the
// worker, which a <meta> policy does not reach. A dev server (`dev: true`, what `make demo`
// runs) also lets the page reach the provider emulator: it adds the emulator's origin to the
// policy and tells the page where the emulator is; the files in www/ never name it.
import http from "node:http";
import path from "node:path";
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import sirv from "sirv";
import { buildInfo } from "./version.mjs";

export const WWW = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "www");

/** The provider emulator's origin, allowed only by a dev server. */
export const EMULATOR = "http://127.0.0.1:8787";

const META = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/;

/** A policy with `origin` added to its connect-src. */
const withOrigin = (policy, origin) => policy.replace(/connect-src ([^;]+)/, `connect-src $1 ${origin}`);

/** The policy in www/index.html's <meta http-equiv="Content-Security-Policy">, as a header. */
export function pagePolicy(root = WWW, { dev = false } = {}) {
  const html = readFileSync(path.join(root, "index.html"), "utf8");
  const meta = html.match(META);
  if (!meta) throw new Error("www/index.html has no Content-Security-Policy meta tag");
  // frame-ancestors only works as a header; the rest is the same policy.
  const policy = `${meta[1]}; frame-ancestors 'none'`;
  return dev ? withOrigin(policy, EMULATOR) : policy;
}

/** The headers every file of the page is served with. */
export function securityHeaders(root = WWW, options = {}) {
  return {
    "content-security-policy": pagePolicy(root, options),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
  };
}

/** Writes www/_headers, the production headers in the format static hosts read. */
export function writeHeadersFile(root = WWW) {
  const lines = Object.entries(securityHeaders(root)).map(([k, v]) => `  ${k}: ${v}`);
  writeFileSync(path.join(root, "_headers"), `/*\n${lines.join("\n")}\n`);
}

/** index.html as a dev server sends it: the emulator's origin allowed, and announced. */
export function devPage(root = WWW) {
  const html = readFileSync(path.join(root, "index.html"), "utf8");
  return html
    .replace(META, (m, policy) => m.replace(policy, withOrigin(policy, EMULATOR)))
    .replace("</head>", `<meta name="routoo-emulator" content="${EMULATOR}">\n</head>`);
}

/**
 * Starts the server; resolves to { server, url, sent }. Port 0 picks a free port; `sent()`
 * is the bytes written to clients so far (headers included). `policy: false` leaves out the
 * page's headers, for tests of the package on a page of its own; `dev: true` lets the page use
 * the emulator (and lists the index.html it serves in build.json). `fault(req, res)`, for
 * tests, may answer a request itself (or cut it) and return true.
 */
export function serve(port = 0, root = WWW, { policy = true, dev = false, fault = () => false } = {}) {
  const handler = sirv(root, { dev: true, etag: true });
  const headers = policy ? securityHeaders(root, { dev }) : {};
  const server = http.createServer((req, res) => {
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    if (fault(req, res)) return;
    const url = new URL(req.url, "http://x");
    if (dev && (url.pathname === "/" || url.pathname === "/index.html")) {
      res.setHeader("content-type", "text/html; charset=utf-8");
      return res.end(devPage(root));
    }
    if (dev && url.pathname === "/build.json") {
      res.setHeader("content-type", "application/json");
      res.setHeader("cache-control", "no-cache");
      return res.end(JSON.stringify(buildInfo(root, { "index.html": Buffer.from(devPage(root)) })));
    }
    handler(req, res, () => {
      res.statusCode = 404;
      res.end("not found");
    });
  });
  const sockets = new Set();
  let closed = 0;
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => { closed += s.bytesWritten; sockets.delete(s); });
  });
  const sent = () => [...sockets].reduce((n, s) => n + s.bytesWritten, closed);
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      resolve({ server, url: `http://127.0.0.1:${server.address().port}/`, sent });
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { url } = await serve(Number(process.env.PORT ?? 8080), WWW, { dev: true });
  console.log(`routoo demo on ${url} (Ctrl-C to stop; the emulator, if you start it, on ${EMULATOR})`);
}

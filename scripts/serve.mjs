// Serves www/ on 127.0.0.1 (PORT, default 8080). Also imported by the browser tests.
// Every response carries the page's Content-Security-Policy as a header too, so the worker
// (which a <meta> policy does not reach) is bound by it as well.
import http from "node:http";
import path from "node:path";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import sirv from "sirv";

export const WWW = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "www");

/** The policy in www/index.html's <meta http-equiv="Content-Security-Policy">. */
export function pagePolicy(root = WWW) {
  const html = readFileSync(path.join(root, "index.html"), "utf8");
  const meta = html.match(/<meta http-equiv="Content-Security-Policy" content="([^"]+)">/);
  if (!meta) throw new Error("www/index.html has no Content-Security-Policy meta tag");
  // form-action and frame-ancestors only work as a header; the rest is the same policy.
  return `${meta[1]}; frame-ancestors 'none'`;
}

/**
 * Starts the server; resolves to { server, url, sent }. Port 0 picks a free port; `sent()`
 * is the bytes written to clients so far (headers included). `policy: false` leaves out the
 * page's policy header, for tests of the package on a page of its own.
 */
export function serve(port = 0, root = WWW, { policy = true } = {}) {
  const handler = sirv(root, { dev: true, etag: true });
  const header = policy ? pagePolicy(root) : null;
  const server = http.createServer((req, res) => {
    if (header) res.setHeader("content-security-policy", header);
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
  const { url } = await serve(Number(process.env.PORT ?? 8080));
  console.log(`routoo demo on ${url} (Ctrl-C to stop)`);
}

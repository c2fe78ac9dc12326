// Serves www/ on 127.0.0.1 (PORT, default 8080). Also imported by the browser tests.
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import sirv from "sirv";

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "www");

/** Starts the server; resolves to { server, url }. Port 0 picks a free port. */
export function serve(port = 0) {
  const handler = sirv(root, { dev: true, etag: true });
  const server = http.createServer((req, res) => handler(req, res, () => {
    res.statusCode = 404;
    res.end("not found");
  }));
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      resolve({ server, url: `http://127.0.0.1:${server.address().port}/` });
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { url } = await serve(Number(process.env.PORT ?? 8080));
  console.log(`routoo demo on ${url} (Ctrl-C to stop)`);
}

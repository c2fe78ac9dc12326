// Lets the page load offline: the app's own files come from the network when it answers
// (so updates arrive) and from Cache Storage when it does not. The wasm and the bundle are
// cached by worker.js, which checks them; provider calls are never touched.
const SHELL_CACHE = "routoo-shell-v1";
const SHELL = ["./", "index.html", "app.js", "worker.js", "style.css", "pool.json", "pkg/routoo.js"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL_CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  event.respondWith((async () => {
    try {
      const response = await fetch(event.request);
      const shell = SHELL.map((f) => new URL(f, self.registration.scope).href);
      if (response.ok && (event.request.mode === "navigate" || shell.includes(url.href))) {
        const copy = response.clone();
        event.waitUntil(caches.open(SHELL_CACHE).then((c) => c.put(event.request, copy)));
      }
      return response;
    } catch (e) {
      const cached = await caches.match(event.request, { ignoreSearch: true });
      if (cached) return cached;
      throw e;
    }
  })());
});

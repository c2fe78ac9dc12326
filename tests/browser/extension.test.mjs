// The Manifest V3 extension in headless Chromium: loaded unpacked, its toolbar and context-menu
// entry open the packaged page, which routes and asks the emulator like the web demo.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { chromium } from "playwright-core";
import { readFileSync } from "node:fs";
import { unzipSync } from "fflate";
import { buildExtension, zipExtension } from "../../scripts/extension.mjs";
import { start } from "../../scripts/emulator.mjs";

const TMP = mkdtempSync(`${tmpdir()}/routoo-extension-`);
let context, worker, emulator;

before(async () => {
  const dir = buildExtension(`${TMP}/extension`, { dev: true }); // with the emulator's origin
  emulator = await start({ port: 8787 });
  context = await chromium.launchPersistentContext(`${TMP}/profile`, {
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
      `--disable-extensions-except=${dir}`, `--load-extension=${dir}`],
  });
  worker = context.serviceWorkers()[0] ?? await context.waitForEvent("serviceworker", { timeout: 30_000 });
});

after(async () => {
  await context?.close();
  await emulator?.close();
  rmSync(TMP, { recursive: true, force: true });
});

test("the context menu's entry opens the page with the selection as the prompt, and it routes", async () => {
  assert.match(worker.url(), /^chrome-extension:\/\/[a-p]{32}\/background\.js$/);
  const opened = context.waitForEvent("page");
  await worker.evaluate(() => self.openRoutoo("Translate 'good night' into French."));
  const page = await opened;
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.waitForSelector("body[data-ready=true]", { timeout: 120_000 });
  assert.equal(await page.inputValue("#prompt"), "Translate 'good night' into French.");
  // No key and no local server turned on: nothing to choose until the emulator is on.
  await page.waitForFunction(() => /No model can be called yet/.test(document.getElementById("choice").textContent));
  assert.equal(await page.locator("#pool tbody tr").count() > 0, true);

  await page.check("#emulator");
  await page.waitForSelector("#choice[data-model]");
  await page.waitForFunction(() => /openai|anthropic|gemini|local/.test(document.getElementById("choice").textContent));
  await page.click("#send");
  await page.waitForSelector("#answer-meta[data-model]", { timeout: 60_000 });
  assert.match(await page.textContent("#answer"), /Emulated answer [0-9a-f]{8} to: "Translate 'good night'/);
  assert.match(await page.textContent("#answer-meta"), /Answered by .* tokens in, \d+ out · US\$/);
  const origin = worker.url().replace(/\/background\.js$/, ""); // Node's URL gives "null" for this scheme
  const call = emulator.calls.find((c) => c.method === "POST");
  assert.equal(call.headers.origin, origin, "the call came from the extension page");
  await page.screenshot({ path: "target/screenshots/10-extension.png", fullPage: true });
  assert.deepEqual(errors, []);
});

test("the side panel takes the selection, routes it beside the page, and streams the answer", async () => {
  const manifest = JSON.parse(readFileSync(`${TMP}/extension/manifest.json`, "utf8"));
  assert.deepEqual(manifest.side_panel, { default_path: "panel.html" });
  assert.ok(["sidePanel", "storage"].every((p) => manifest.permissions.includes(p)));
  // The context menu's handler, minus opening the panel (headless Chromium has no side panel
  // to show, and opening one needs a user's click): the panel's page then loads, as it would.
  await worker.evaluate(() => self.toPanel("Translate 'thank you' into German."));
  const origin = worker.url().replace(/\/background\.js$/, "");
  const panel = await context.newPage();
  await panel.setViewportSize({ width: 400, height: 900 }); // a side panel's width
  const errors = [];
  panel.on("pageerror", (e) => errors.push(String(e)));
  await panel.goto(`${origin}/panel.html`);
  await panel.waitForSelector("body[data-ready=true]", { timeout: 120_000 });
  await panel.waitForFunction(() => /thank you/.test(document.getElementById("prompt").value), null, { timeout: 10_000 });
  assert.equal(await panel.inputValue("#prompt"), "Translate 'thank you' into German.");
  // A second selection while the panel is open replaces the first.
  await worker.evaluate(() => self.toPanel("Summarise the French Revolution in one line."));
  await panel.waitForFunction(() => /French Revolution/.test(document.getElementById("prompt").value));
  assert.equal(await worker.evaluate(() => chrome.storage.session.get("panelPrompt")).then((r) => r.panelPrompt),
    undefined, "the panel took the selection");
  await panel.check("#emulator");
  await panel.waitForSelector("#choice[data-model]");
  await panel.click("#send");
  await panel.waitForSelector("#answer-meta[data-model]", { timeout: 60_000 });
  assert.match(await panel.textContent("#answer"), /Emulated answer [0-9a-f]{8} to: "Summarise the French Revolution/);
  await panel.screenshot({ path: "target/screenshots/13-side-panel.png", fullPage: true });
  assert.deepEqual(errors, []);
  await panel.close();
});

test("make extension's zip is what the Chrome Web Store takes: the extension's files, manifest.json at its root", () => {
  const dir = buildExtension(`${TMP}/store`);
  const zip = unzipSync(readFileSync(zipExtension(dir, `${TMP}/store.zip`)));
  const names = Object.keys(zip).sort();
  assert.ok(["manifest.json", "index.html", "panel.html", "background.js"].every((n) => names.includes(n)));
  assert.ok(names.some((n) => n.startsWith("models/")) && names.some((n) => n.startsWith("pkg/")));
  const manifest = JSON.parse(new TextDecoder().decode(zip["manifest.json"]));
  assert.equal(manifest.manifest_version, 3);
  assert.doesNotMatch(manifest.content_security_policy.extension_pages, /127\.0\.0\.1:8787/, "a store build names no emulator");
  for (const name of names) assert.deepEqual(zip[name], new Uint8Array(readFileSync(`${dir}/${name}`)), name);
});

test("a server on this machine is no standing host permission: it is asked for when the user turns local models on", async () => {
  const manifest = JSON.parse(readFileSync(buildExtension(`${TMP}/store-local`) + "/manifest.json", "utf8"));
  const local = (p) => /^http:\/\/(localhost|127\.|\[::1\])/.test(p);
  assert.deepEqual(manifest.host_permissions.filter(local), [], "no standing permission for a local port");
  assert.ok(manifest.host_permissions.every((p) => p.startsWith("https://")), manifest.host_permissions.join(" "));
  const pool = JSON.parse(readFileSync("www/pool.json", "utf8"));
  const wanted = [...new Set(pool.models.map((m) => new URL(m.baseUrl)).filter((u) => local(u.href))
    .map((u) => `${u.origin}/*`))].sort();
  assert.deepEqual([...manifest.optional_host_permissions].sort(), wanted);

  // The request path: turning local models on asks for exactly those origins; refused, the
  // switch goes back off and nothing local is callable. (Headless Chromium grants nothing.)
  const origin = worker.url().replace(/\/background\.js$/, "");
  const page = await context.newPage();
  await page.goto(`${origin}/index.html`);
  await page.waitForSelector("body[data-ready=true]", { timeout: 120_000 });
  await page.evaluate(() => {
    window.__asked = [];
    chrome.permissions.request = async (p) => { window.__asked.push(p); return false; };
  });
  await page.click("#local"); // the stub refuses at once, so the box does not stay checked
  await page.waitForFunction(() => window.__asked.length === 1 && !document.getElementById("local").checked);
  const asked = await page.evaluate(() => window.__asked[0].origins);
  const onInPage = [...new Set(pool.models.filter((m) => !m.historical).map((m) => new URL(m.baseUrl))
    .filter((u) => local(u.href)).map((u) => `${u.origin}/*`))];
  assert.deepEqual(asked.sort(), onInPage.sort());
  assert.match(await page.textContent("#notice"), /Local models stay off/);
  await page.close();
});

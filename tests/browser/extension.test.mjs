// The Manifest V3 extension in headless Chromium: loaded unpacked, its toolbar and context-menu
// entry open the packaged page, which routes and asks the emulator like the web demo.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { chromium } from "playwright-core";
import { buildExtension } from "../../scripts/extension.mjs";
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
  await page.waitForSelector("#choice[data-model]");
  assert.equal(await page.locator("#pool tbody tr").count() > 0, true);

  await page.check("#emulator");
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

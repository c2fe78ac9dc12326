// The demo page, as a person uses it: type a prompt, see per-model estimates, move the budget.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { serve } from "../../scripts/serve.mjs";
import { launch } from "./chromium.mjs";

let server, url, browser;

before(async () => {
  ({ server, url } = await serve());
  browser = await launch();
});

after(async () => {
  await browser?.close();
  server?.close();
});

test("the page shows estimates for a typed prompt and follows the budget", async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e));
  await page.goto(url);
  await page.waitForSelector("body[data-ready=true]", { timeout: 60_000 });
  await page.fill("#prompt", "Prove that the square root of 2 is irrational.");
  const rows = page.locator("#estimates tbody tr");
  await page.waitForFunction(() => !document.getElementById("estimates").hidden);
  assert.equal(await rows.count(), 18);
  const chosen = await page.locator("tr.chosen td:nth-child(2)").textContent();
  assert.match(await page.textContent("#choice"), new RegExp(`Choice: ${chosen}`));

  const costAt = async (value) => {
    await page.locator("#budget").fill(String(value));
    return Number(await page.locator("tr.chosen td:nth-child(5)").textContent());
  };
  const cheap = await costAt(-2);
  const rich = await costAt(2);
  assert.ok(cheap <= rich, `budget US$0.01 chose US$${cheap}, US$100 chose US$${rich}`);

  await page.fill("#prompt", "   ");
  assert.match(await page.textContent("#choice"), /Type a prompt/);
  await mkdir("target", { recursive: true });
  await page.fill("#prompt", "Prove that the square root of 2 is irrational.");
  await page.screenshot({ path: "target/demo.png", fullPage: true });
  assert.deepEqual(errors, []);
});

// The demo page as a person uses it, in headless Chromium: load, type, move the budget, send
// to the provider emulator, meet faults, reload offline. The emulator listens on
// 127.0.0.1:8787, the one emulator origin the page's Content-Security-Policy allows.
// Screenshots of each state go to target/screenshots/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { createHash } from "node:crypto";
import { serve, pagePolicy, securityHeaders, EMULATOR, WWW } from "../../scripts/serve.mjs";
import { start } from "../../scripts/emulator.mjs";
import { launch } from "./chromium.mjs";
import { writeBuildInfo } from "../../scripts/build-info.mjs";

const SHOTS = "target/screenshots";
const POOL = JSON.parse(readFileSync(`${WWW}/pool.json`, "utf8"));
const apiModel = (id) => POOL.models.find((m) => m.id === id).apiModel;
const HARD = "Let p be an odd prime. Prove that the sum of the quadratic residues modulo p is divisible by p " +
  "when p > 3, and determine it exactly for p = 3.";

let site, browser, context, page, emulator;
const violations = [];

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  site = await serve(0, WWW, { dev: true }); // the dev server: the page may use the emulator
  emulator = await start({ port: 8787 }).catch((e) => {
    throw new Error(`the demo tests need 127.0.0.1:8787 free for the emulator: ${e.message}`);
  });
  browser = await launch();
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => {
      (window.__violations ??= []).push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  page = await context.newPage();
  page.on("pageerror", (e) => violations.push(`page error: ${e}`));
});

after(async () => {
  await browser?.close();
  site?.server.close();
  await emulator?.close();
});

const shot = (p, name) => p.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });

/** Waits until the page has drawn a route after `action`. */
async function routed(p, action) {
  const before = Number(await p.getAttribute("#choice", "data-routed") ?? 0);
  await action();
  await p.waitForFunction((n) => Number(document.getElementById("choice").dataset.routed ?? 0) > n,
    before, { timeout: 30_000 });
}

/** Loads the page; resolves to the ms from navigation to the first estimate drawn. */
async function firstEstimate(p, url, whileLoading = async () => {}) {
  await p.goto(url);
  await whileLoading();
  await p.waitForSelector("body[data-ready=true]", { timeout: 120_000 });
  await p.waitForSelector("body[data-first-estimate-ms]", { timeout: 30_000 });
  return Number(await p.getAttribute("body", "data-first-estimate-ms"));
}

async function send(p) {
  await p.click("#send");
  // Done when the answer is in and its billed output prices the next route.
  await p.waitForFunction(() => document.getElementById("send").disabled === false &&
    document.getElementById("answer").getAttribute("aria-busy") === "false" &&
    document.getElementById("answer-meta").dataset.observed !== "pending", null, { timeout: 60_000 });
}

test("first load shows progress, then estimates for a typed prompt", async () => {
  await page.addInitScript(() => {
    window.__progress = [];
    new MutationObserver(() => window.__progress.push(document.getElementById("load-status")?.textContent))
      .observe(document, { subtree: true, childList: true, characterData: true });
  });
  const bytes0 = site.sent();
  const cold = await firstEstimate(page, site.url, async () => {
    await page.waitForFunction(() => document.getElementById("load-progress").value > 0 || document.body.dataset.ready);
    await shot(page, "00-loading");
  });
  const coldBytes = site.sent() - bytes0;
  const progress = await page.evaluate(() => window.__progress.filter((t) => /Downloading/.test(t ?? "")));
  assert.ok(progress.length >= 2, `progress shown: ${progress.length} updates`);
  const info = JSON.parse(readFileSync(`${WWW}/build.json`, "utf8"));
  const total = info.router.reduce((n, f) => n + info.files[f].bytes, 0);
  assert.match(progress.at(-1), new RegExp(`Downloading the predictor: [\\d.]+ of ${(total / 1e6).toFixed(1)} MB`));

  await routed(page, () => page.fill("#prompt", "What is the capital of Australia?"));
  const rows = page.locator("#pool tbody tr");
  assert.equal(await rows.count(), POOL.models.length);
  const meters = await page.$$eval("#pool meter", (ms) => ms.map((m) => m.value));
  assert.ok(meters.every((q) => q > 0 && q < 1), "a predicted quality for every model");
  // Prices as they bill today (UTC): a scheduled change in force shows, and a price read from
  // a page other than the provider's says so.
  const today = new Date().toISOString().slice(0, 10);
  for (const m of POOL.models.filter((m) => m.prices?.length || m.priceUnconfirmed)) {
    const row = `#pool tr[data-model="${m.id}"]`;
    const now = [...(m.prices ?? [])].reverse().find((c) => c.from <= today);
    assert.equal(Number(await page.inputValue(`${row} input[aria-label$="input tokens"]`)), now ? now.in : m.priceIn, m.id);
    if (m.priceUnconfirmed) assert.match(await page.textContent(`${row} th`), /price unconfirmed/, m.id);
  }
  // Without keys, and with the servers on this machine off (as they start), nothing can be
  // called: it says what to do, and still predicts.
  assert.match(await page.textContent("#choice"), /No model can be called yet: add an API key/);
  assert.equal(await page.locator("#pool tr.chosen").count(), 0);
  // Turned on with nothing listening, the servers on this machine are asked, and nothing local
  // is offered: the page says what each server needs.
  await routed(page, () => page.check("#local"));
  assert.match(await page.textContent("#local-status"),
    /Nothing answered at http:\/\/127\.0\.0\.1:11434\. Start Ollama with OLLAMA_ORIGINS=http:\/\/127\.0\.0\.1:\d+/);
  assert.equal(await page.locator("#pool tr.chosen").count(), 0, "a local model offered while nothing serves it");
  assert.match(await page.textContent("#choice"), /No model can be called yet/);
  // The historical models fold under one line, last.
  const order = await page.$$eval("#pool tbody tr", (rows) => rows.map((r) => ({ id: r.dataset.model, hidden: r.hidden })));
  const old = new Set(POOL.models.filter((m) => m.historical).map((m) => m.id));
  assert.deepEqual(order.filter((r) => r.hidden).map((r) => r.id).sort(), [...old].sort(), "historical ones folded");
  assert.deepEqual(order.slice(-old.size).map((r) => r.id).sort(), [...old].sort(), "and last");
  assert.equal(await page.textContent("#pool-fold"), `Show the ${old.size} historical models (no longer served)`);
  await page.click("#pool-fold");
  assert.equal(await page.locator("#pool tbody tr[hidden]").count(), 0);
  await page.click("#pool-fold");
  assert.equal(await page.locator("#pool tbody tr[hidden]").count(), old.size);
  const status = await page.textContent(`#pool tr[data-model="${POOL.models[0].id}"] td:last-child`);
  assert.match(status, /No API key for openai/);
  await shot(page, "01-estimates");
  await routed(page, () => page.uncheck("#local"));
  assert.equal(await page.locator("#pool tr.chosen").count(), 0);
  assert.equal(await page.textContent("#local-status"), "");
  const still = await page.$$eval("#pool meter", (ms) => ms.map((m) => m.value));
  assert.ok(still.every((q) => q > 0), "predictions stay on screen");

  // Warm: everything from Cache Storage, the app's files revalidated.
  await page.waitForFunction(async () => (await navigator.serviceWorker.ready).active !== null);
  const bytes1 = site.sent();
  const warm = await firstEstimate(page, site.url);
  const warmBytes = site.sent() - bytes1;
  console.log(`load to first estimate: cold ${cold} ms, ${(coldBytes / 1e6).toFixed(2)} MB sent; ` +
    `warm ${warm} ms, ${(warmBytes / 1e6).toFixed(3)} MB sent`);
  assert.ok(coldBytes >= total, `the cold load fetched the wasm and the bundle (${coldBytes} of ${total} bytes)`);
  assert.ok(warmBytes < 1e6, `a warm load fetched ${warmBytes} bytes`);
});

test("a higher budget never lowers the expected spend, and buys a stronger model", async () => {
  await routed(page, () => page.check("#emulator"));
  // Today's models are uncalibrated, so all look alike: the routing data's models tell them apart.
  assert.equal(await page.textContent("#pool-historical"), "Turn the historical models on");
  await routed(page, () => page.click("#pool-historical"));
  assert.equal(await page.textContent("#pool-historical"), "Turn the historical models off");
  await routed(page, () => page.fill("#prompt", HARD));
  const seen = [];
  for (let v = 0; v <= 1000; v += 100) {
    await routed(page, () => page.locator("#budget").fill(String(v)));
    seen.push({
      v,
      budget: Number(await page.getAttribute("#budget-out", "data-usd")),
      spend: Number(await page.getAttribute("#budget-expect", "data-spend")),
      accuracy: Number(await page.getAttribute("#budget-expect", "data-accuracy")),
      model: await page.getAttribute("#choice", "data-model"),
      cost: Number(await page.getAttribute("#choice", "data-cost")),
      why: await page.textContent("#why"),
    });
    if (v === 0) await shot(page, "02-budget-low");
  }
  await shot(page, "03-budget-high");
  for (const s of seen) assert.ok(s.spend <= s.budget * (1 + 1e-9), `spend ${s.spend} over budget ${s.budget}`);
  // Under the choice, one sentence says why it won.
  for (const s of seen) assert.ok(s.why.startsWith(`${s.model} (predicted`), s.why);
  for (let i = 1; i < seen.length; i++) {
    assert.ok(seen[i].spend >= seen[i - 1].spend, `spend fell from ${seen[i - 1].v} to ${seen[i].v}`);
    assert.ok(seen[i].accuracy >= seen[i - 1].accuracy);
  }
  const [low, high] = [seen[0], seen.at(-1)];
  assert.ok(high.cost > 10 * low.cost, `US$${low.cost} (${low.model}) → US$${high.cost} (${high.model})`);
  const q = async (id) => Number(await page.getAttribute(`#pool tr[data-model="${id}"] meter`, "value"));
  assert.ok(await q(high.model) > await q(low.model), "the rich choice is predicted stronger");
});

test("Send streams an answer from the emulator and shows model, tokens and cost", async () => {
  await routed(page, () => page.locator("#budget").fill("600"));
  await routed(page, () => page.fill("#prompt", "Explain in two sentences why the sky is blue."));
  const chosen = await page.getAttribute("#choice", "data-model");
  await page.evaluate(() => {
    window.__pieces = 0;
    new MutationObserver(() => window.__pieces++).observe(document.getElementById("answer"),
      { childList: true, characterData: true, subtree: true });
  });
  const calls = emulator.calls.length;
  await send(page);
  assert.match(await page.textContent("#answer"), /Emulated answer [0-9a-f]{8} to: "Explain in two/);
  assert.ok(await page.evaluate(() => window.__pieces) > 3, "the answer arrived in pieces");
  const meta = await page.textContent("#answer-meta");
  assert.match(meta, new RegExp(`Answered by ${chosen} \\(\\w+\\) · \\d+ tokens in, \\d+ out · US\\$[\\d.e-]+ \\(estimated US\\$`));
  assert.match(await page.textContent("#session"), /Session spend: US\$0\.\d*[1-9]/, "a spend above zero");
  assert.equal(await page.isHidden("#error"), true);
  assert.ok(emulator.calls.slice(calls).some((c) => c.method === "POST"));
  await shot(page, "04-answer");

  // A follow-up continues the conversation: every turn is sent, and shown above the answer.
  assert.equal(await page.inputValue("#prompt"), "", "the box is free for a follow-up");
  const first = await page.textContent("#answer");
  await routed(page, () => page.fill("#prompt", "Now in one sentence."));
  const before = emulator.calls.length;
  await send(page);
  const sent = emulator.calls.slice(before).find((c) => c.method === "POST" && c.body).body;
  const turns = sent.messages ?? sent.contents;
  assert.equal(turns.length, 3, `the whole conversation was sent: ${JSON.stringify(sent)}`);
  assert.deepEqual(await page.$$eval("#chat li", (lis) => lis.map((li) => [li.className, li.textContent])), [
    ["user", "Explain in two sentences why the sky is blue."], ["assistant", first], ["user", "Now in one sentence."]]);
  await shot(page, "04b-follow-up");
  // New chat forgets it: the next prompt goes alone.
  await page.click("#new-chat");
  assert.equal(await page.isHidden("#chat"), true);
  assert.equal(await page.isDisabled("#new-chat"), true);
  await routed(page, () => page.fill("#prompt", "What is 2+2?"));
  const fresh = emulator.calls.length;
  await send(page);
  const alone = emulator.calls.slice(fresh).find((c) => c.method === "POST" && c.body).body;
  assert.equal((alone.messages ?? alone.contents).length, 1);
  await page.click("#new-chat");
  await routed(page, () => page.fill("#prompt", "Explain in two sentences why the sky is blue."));
});

test("a 401 says so and keeps the prompt; a 500 shows the fallback; Stop stops", async () => {
  // Only OpenAI's models: a refused key leaves nothing else to try.
  for (const m of POOL.models.filter((m) => m.provider !== "openai")) {
    await routed(page, () => page.uncheck(`#pool tr[data-model="${m.id}"] input[type=checkbox]`));
  }
  const prompt = "Write a limerick about routers.";
  await routed(page, () => page.fill("#prompt", prompt));
  emulator.script(apiModel(await page.getAttribute("#choice", "data-model")), ["401"]);
  await send(page);
  const error = await page.textContent("#error");
  assert.match(error, /every model failed: .*refused the API key \(HTTP 401\)/);
  assert.equal(await page.inputValue("#prompt"), prompt, "the prompt stays in the box");
  await shot(page, "05-error-401");

  await routed(page, () => page.click("#pool-reset"));
  const first = await page.getAttribute("#choice", "data-model");
  emulator.script(apiModel(first), ["500", "500", "500"]);
  await send(page);
  const notes = await page.$$eval("#fallbacks li", (li) => li.map((l) => l.textContent));
  assert.equal(notes.length, 3);
  assert.match(notes[0], new RegExp(`${first} failed: .*HTTP 500.*Retrying in 0\\.5 s`));
  assert.match(notes[2], /Falling back to the next model/);
  const answeredBy = await page.getAttribute("#answer-meta", "data-model");
  assert.notEqual(answeredBy, first);
  assert.match(await page.textContent("#answer"), /Emulated answer/);
  await shot(page, "06-fallback");

  // The answer began a conversation and freed the box: start afresh with the prompt.
  // The answer that came back taught the page what its model bills: the choice may move.
  await page.click("#new-chat");
  await routed(page, () => page.fill("#prompt", prompt));
  emulator.script(apiModel(await page.getAttribute("#choice", "data-model")), ["stall"]);
  await page.click("#send");
  await page.waitForFunction(() => /Asking/.test(document.getElementById("answer-meta").textContent));
  await page.click("#stop");
  await page.waitForFunction(() => !document.getElementById("error").hidden);
  assert.match(await page.textContent("#error"), /Stopped\. The prompt is still in the box\./);
  assert.equal(await page.inputValue("#prompt"), prompt);
});

test("a worker that dies is replaced, and the page routes again", async () => {
  // How a wasm trap outside a request surfaces: an uncaught RuntimeError in the worker.
  const workers = page.workers();
  assert.equal(workers.length, 1, "the router's worker");
  await workers[0].evaluate(() => setTimeout(() => { throw new WebAssembly.RuntimeError("unreachable"); }));
  await page.waitForSelector("body[data-restarts='1'][data-ready=true]", { timeout: 60_000 });
  assert.match(await page.textContent("#notice"), /The router stopped unexpectedly and was restarted/);
  assert.equal(await page.isDisabled("#send"), false);
  await routed(page, () => page.fill("#prompt", "What is the boiling point of water in Kelvin?"));
  assert.ok(await page.getAttribute("#choice", "data-model"), "the new worker routes");
});

test("spend caps: a request cap lowers the answer limit or passes models over; a session cap stops sending", async () => {
  await routed(page, () => page.fill("#prompt", "Name the three states of matter."));
  const posts = () => emulator.calls.filter((c) => c.method === "POST").length;
  // Too small for any model's prompt alone: nothing is called, and the reason says so.
  await page.fill("#cap-request", "0.0000001");
  let before = posts();
  await send(page);
  assert.match(await page.textContent("#error"), /not called: it could cost US\$[\d.]+ or more/);
  assert.equal(posts(), before, "no call was made");
  // Room for the prompt's worst case and 100 answer tokens of the chosen model: the answer
  // limit is lowered to 100.
  const chosenId = await page.getAttribute("#choice", "data-model");
  const chosen = POOL.models.find((m) => m.id === chosenId);
  assert.ok(chosen.priceOut > 0, chosen.id);
  const bytes = Buffer.byteLength("Name the three states of matter.") + 16;
  const cap = (bytes * chosen.priceIn + 100.5 * chosen.priceOut) / 1e6; // room for 100, not 101
  const spentBefore = Number(await page.getAttribute("#session", "data-spent") ?? 0);
  await page.fill("#cap-request", String(cap));
  await send(page);
  assert.equal(await page.isHidden("#error"), true, await page.textContent("#error"));
  assert.match(await page.textContent("#answer-meta"), /answer limit lowered to 100 tokens to fit the cap/);
  const spent = Number(await page.getAttribute("#session", "data-spent"));
  assert.ok(spent > spentBefore && spent - spentBefore <= cap * (1 + 1e-9), `${spentBefore} → ${spent}, cap ${cap}`);
  // A session cap already used up: Send says so and calls nothing.
  await page.click("#new-chat");
  await routed(page, () => page.fill("#prompt", "Name the three states of matter."));
  await page.fill("#cap-request", "");
  await page.fill("#cap-session", String(spent));
  before = posts();
  await page.click("#send");
  await page.waitForFunction(() => !document.getElementById("error").hidden);
  assert.match(await page.textContent("#error"), /session cap of US\$[\d.e-]+ is reached/);
  assert.equal(posts(), before);
  await page.fill("#cap-session", "");
});

test("the session's spend counts the thinking a model bills, and its cap holds against it", async () => {
  await page.fill("#cap-request", "");
  await page.fill("#cap-session", "");
  if (await page.isEnabled("#new-chat")) await page.click("#new-chat");
  await routed(page, () => page.fill("#prompt", "Is 91 prime? Think it through."));
  const chosenId = await page.getAttribute("#choice", "data-model");
  const chosen = POOL.models.find((m) => m.id === chosenId);
  const thinking = 900; // within the page's answer limit (1,024), which counts thinking too
  emulator.script(chosen.apiModel, [`think:${thinking}`]);
  const before = Number(await page.getAttribute("#session", "data-spent") ?? 0);
  await send(page);
  assert.equal(await page.isHidden("#error"), true, await page.textContent("#error"));
  const after = Number(await page.getAttribute("#session", "data-spent"));
  const billed = thinking * chosen.priceOut / 1e6;
  assert.ok(after - before >= billed, `spent ${after - before}, thinking alone bills ${billed}`);
  const out = Number((await page.textContent("#answer-meta")).match(/([\d,]+) out/)[1].replace(/,/g, ""));
  assert.ok(out >= thinking, `${out} output tokens shown, ${thinking} of them thinking`);
  // A session cap between what was spent before and after: the thinking used it up.
  await page.fill("#cap-session", String((before + after) / 2));
  if (await page.isEnabled("#new-chat")) await page.click("#new-chat");
  await routed(page, () => page.fill("#prompt", "Is 97 prime?"));
  const posts = emulator.calls.filter((c) => c.method === "POST").length;
  await page.click("#send");
  await page.waitForFunction(() => !document.getElementById("error").hidden);
  assert.match(await page.textContent("#error"), /session cap of US\$[\d.e-]+ is reached/);
  assert.equal(emulator.calls.filter((c) => c.method === "POST").length, posts, "nothing sent past the cap");
  await page.fill("#cap-session", "");
});

test("what a model's answers are billed as output, thinking included, moves its estimate, apart from the emulator's", async () => {
  if (await page.isEnabled("#new-chat")) await page.click("#new-chat");
  const prompt = "Is 89 prime? Think it through.";
  await routed(page, () => page.fill("#prompt", prompt));
  const id = await page.getAttribute("#choice", "data-model");
  const model = POOL.models.find((m) => m.id === id);
  const row = `#pool tr[data-model="${id}"]`;
  const costOf = async () => Number((await page.textContent(`${row} td:nth-child(4)`)).match(/US\$([\d.e-]+)/)[1]);
  const observedText = () => page.evaluate((sel) => document.querySelector(sel)?.textContent ?? "", `${row} small.observed`);
  const stored = (key) => page.evaluate((k) => JSON.parse(localStorage.getItem(k) ?? "{}"), key);
  // Earlier tests' answers may have started a record for this model: it goes on from there.
  const prev = (await stored("routoo.observed-emulator"))[id];
  const stated = model.expectedOutputTokens ?? POOL.expectedOutputTokens ?? 256;
  const expectOf = (r) => (r ? Math.round((0.5 * stated + r.answers * r.meanTokens) / (0.5 + r.answers)) : stated);
  const before = await costOf();
  // An answer far from what the model was expected to write: long thinking, or none.
  const thinking = expectOf(prev) > 500 ? 0 : 900;
  emulator.script(model.apiModel, [thinking ? `think:${thinking}` : "ok"]);
  await send(page);
  assert.equal(await page.isHidden("#error"), true, await page.textContent("#error"));
  const out = Number((await page.textContent("#answer-meta")).match(/([\d,]+) out/)[1].replace(/,/g, ""));
  // The record is kept for the emulator's answers only, never for a provider's model.
  await page.waitForFunction(([m, n]) =>
    JSON.parse(localStorage.getItem("routoo.observed-emulator") ?? "{}")[m]?.answers === n, [id, (prev?.answers ?? 0) + 1]);
  const record = (await stored("routoo.observed-emulator"))[id];
  const mean = prev ? prev.meanTokens + (out - prev.meanTokens) / (prev.answers + 1) : out;
  assert.ok(Math.abs(record.meanTokens - mean) < 1e-6, `mean ${record.meanTokens}, expected ${mean}`);
  assert.equal((await stored("routoo.observed"))[id], undefined);
  // The same prompt again: the estimate follows what the model was billed.
  await routed(page, () => page.fill("#prompt", prompt));
  const writes = await observedText();
  const shown = Number(writes.match(/^([\d,]+) tokens out, from \d+ answers?$/)?.[1].replace(/,/g, ""));
  assert.equal(shown, expectOf(record), writes);
  const after = await costOf();
  assert.notEqual(shown, expectOf(prev), "the answer moved the expected output");
  assert.equal(after > before, shown > expectOf(prev),
    `US$${before} for ${expectOf(prev)} tokens out before its answer, US$${after} for ${shown} after`);
  // Without the emulator the providers' record applies, where nothing was observed.
  await routed(page, () => page.uncheck("#emulator"));
  await routed(page, () => page.fill("#prompt", `${prompt} `));
  assert.equal(await observedText(), "");
  await routed(page, () => page.check("#emulator"));
  if (await page.isEnabled("#new-chat")) await page.click("#new-chat");
});

test("Suggest a pool: at most K models and what each adds; using it leaves only those on", async () => {
  await routed(page, () => page.locator("#budget").fill("500"));
  await page.selectOption("#suggest-k", "3");
  await page.click("#suggest");
  await page.waitForFunction(() => document.querySelectorAll("#suggestion li").length > 0
    || /No suggestion/.test(document.getElementById("suggest-status").textContent));
  const items = await page.$$eval("#suggestion li", (ls) => ls.map((l) => [l.dataset.model, l.textContent]));
  assert.ok(items.length >= 1 && items.length <= 3, JSON.stringify(items));
  for (const [, text] of items) assert.match(text, /adds [\d.]+ points \(then [\d.]+ % at US\$/);
  assert.match(await page.textContent("#suggest-status"), /expected to reach [\d.]+ %/);
  await page.click("#suggest-use");
  const chosen = items.map(([id]) => id).sort();
  await page.waitForFunction((n) => [...document.querySelectorAll("#pool tbody tr")]
    .filter((r) => r.querySelector("input[type=checkbox]").checked).length === n, chosen.length);
  const on = await page.$$eval("#pool tbody tr", (rows) => rows
    .filter((r) => r.querySelector("input[type=checkbox]").checked).map((r) => r.dataset.model));
  assert.deepEqual(on.sort(), chosen);
  await shot(page, "12-suggest");
  await routed(page, () => page.click("#pool-reset"));
});

test("Add a model: the cost first, then probes with progress and Stop; it joins the pool, stays, exports and imports", async () => {
  const PROBES = JSON.parse(readFileSync(`${WWW}/models/probes.json`, "utf8")).probes;
  const knows = (n) => PROBES.slice(0, n).filter((p) => p.benchmark === "mmlu-pro").length;
  await page.check("#emulator");
  await page.fill("#add-id", "reader");
  await page.fill("#add-provider", "openai");
  await page.fill("#add-api", "knows:mmlu-pro");
  // The router says where the key would go, or why a base URL will not do.
  await page.fill("#add-base", "http://api.example.com/v1");
  await page.waitForFunction(() => /will not do: .*http/.test(document.getElementById("add-key-where").textContent));
  await page.fill("#add-base", "https://api.example.com/v1");
  await page.waitForFunction(() => /sent only to https:\/\/api\.example\.com;/.test(
    document.getElementById("add-key-where").textContent));
  await page.fill("#add-in", "1");
  await page.fill("#add-out", "2");
  await page.selectOption("#add-probes", "25");
  const posts = async () => (await (await fetch(`${EMULATOR}/_calls`)).json())
    .filter((c) => c.method === "POST" && c.path.includes("/chat/completions")).length;
  const before = await posts();
  await page.click("#add-estimate");
  await page.waitForFunction(() => /Nothing has been sent/.test(document.getElementById("add-outlook").textContent));
  assert.match(await page.textContent("#add-outlook"), /^25 probes to reader: about US\$[\d.e-]+, at most US\$[\d.e-]+/);
  assert.equal(await posts(), before, "the outlook sends nothing");
  await shot(page, "10-add-outlook");

  // The fourth probe stalls; Stop ends the run and the three graded answers are fitted.
  emulator.script("knows:mmlu-pro", ["ok", "ok", "ok", "stall"]);
  await page.click("#add-start");
  await page.waitForFunction(() => Number(document.getElementById("add-status").dataset.done) >= 3, null, { timeout: 30_000 });
  await page.waitForTimeout(200);
  await page.click("#add-stop");
  await page.waitForFunction(() => /reader calibrated/.test(document.getElementById("add-status").textContent), null, { timeout: 30_000 });
  assert.match(await page.textContent("#add-status"), new RegExp(`${knows(3)} of 3 probes right.*ended early: stopped`));
  await page.waitForSelector('#pool tr[data-model="reader"]', { timeout: 30_000 });

  // Again with all 25: graded exactly as the scripted model answered.
  await page.click("#add-estimate");
  await page.waitForFunction(() => !document.getElementById("add-start").disabled);
  await page.click("#add-start");
  await page.waitForFunction(() => /reader calibrated: \d+ of 25/.test(document.getElementById("add-status").textContent), null, { timeout: 60_000 });
  assert.match(await page.textContent("#add-status"), new RegExp(`${knows(25)} of 25 probes right`));
  await page.waitForFunction((n) => new RegExp(`calibrated: ${n} of 25`)
    .test(document.querySelector('#pool tr[data-model="reader"] th')?.textContent), knows(25), { timeout: 30_000 });
  await shot(page, "11-add-done");

  // It stays: a reload finds it in IndexedDB, and it is routed to like any other model.
  await firstEstimate(page, site.url);
  assert.equal(await page.locator('#added li[data-model="reader"]').count(), 1);
  await routed(page, () => page.fill("#prompt", PROBES.at(-1).prompt));
  assert.ok(await page.locator('#pool tr[data-model="reader"] meter').evaluate((m) => m.value > 0));

  // Exported as the heads file routoo calibrate writes, with the entry as the user gave it.
  const [download] = await Promise.all([page.waitForEvent("download"),
    page.click('#added button[aria-label="Export reader"]')]);
  const file = await download.path();
  const heads = JSON.parse(readFileSync(file, "utf8"));
  assert.equal(heads.format, "routoo-heads");
  assert.equal(heads.heads[0].id, "reader");
  assert.deepEqual([heads.calibrations[0].model.apiModel, heads.calibrations[0].model.baseUrl],
    ["knows:mmlu-pro", "https://api.example.com/v1"]);
  await page.click('#added button[aria-label="Remove reader"]');
  await page.waitForFunction(() => !document.querySelector('#pool tr[data-model="reader"]'));
  // An import says what it calls, where and at what price, and waits for a yes.
  await page.setInputFiles("#add-import", file);
  await page.waitForSelector("#import-confirm:not([hidden])");
  assert.match(await page.textContent("#import-what"),
    /Add reader\? It calls knows:mmlu-pro at https:\/\/api\.example\.com\/v1 \(openai\), at US\$1 in and US\$2 out/);
  await page.click("#import-yes");
  await page.waitForFunction(() => /Imported reader/.test(document.getElementById("add-status").textContent));
  await page.waitForSelector('#pool tr[data-model="reader"]', { timeout: 30_000 });
  // A file from another bundle's space is refused, saying why.
  const foreign = `${file}.foreign.json`;
  writeFileSync(foreign, JSON.stringify({ ...heads, encoder: "0".repeat(64) }));
  await page.setInputFiles("#add-import", foreign);
  await page.click("#import-yes");
  await page.waitForFunction(() => /Not imported/.test(document.getElementById("add-status").textContent));
  assert.match(await page.textContent("#add-status"), /calibrate again with this bundle/);
  // A file may not take a default model's name to call another model, nor lower its price.
  const luna = POOL.models.find((m) => !m.historical && m.priceIn > 0);
  const other = POOL.models.find((m) => m.provider === luna.provider && m.apiModel !== luna.apiModel);
  const posing = (model) => ({ ...heads, heads: [{ ...heads.heads[0], id: luna.id }],
    calibrations: [{ ...heads.calibrations[0], model }] });
  for (const [name, model, says] of [
    ["impostor", { ...luna, apiModel: other.apiModel, baseUrl: other.baseUrl, priceIn: 0, priceOut: 0 }, /needs a name of its own/],
    ["cheaper", { ...luna, priceIn: 0, priceOut: 0 }, /never lowered/],
  ]) {
    const path = `${file}.${name}.json`;
    writeFileSync(path, JSON.stringify(posing(model)));
    await page.evaluate(() => { document.getElementById("add-status").textContent = ""; });
    await page.setInputFiles("#add-import", path);
    await page.waitForFunction(() => /Not imported/.test(document.getElementById("add-status").textContent));
    assert.match(await page.textContent("#add-status"), says, name);
    assert.equal(await page.isHidden("#import-confirm"), true, `${name}: offered for a yes`);
  }
  assert.equal(await page.locator(`#added li[data-model="${luna.id}"]`).count(), 0);
  await page.click('#added button[aria-label="Remove reader"]');
  await page.waitForFunction(() => !document.querySelector('#pool tr[data-model="reader"]'));
});

test("calibration spends under the session cap and counts in the session's spend", async () => {
  await page.check("#emulator");
  for (const [id, value] of [["#add-id", "capped"], ["#add-provider", "openai"], ["#add-api", "knows:mmlu-pro"],
    ["#add-base", "https://api.example.com/v1"], ["#add-in", "1"], ["#add-out", "2"]]) await page.fill(id, value);
  await page.selectOption("#add-probes", "25");
  const posts = async () => (await (await fetch(`${EMULATOR}/_calls`)).json())
    .filter((c) => c.method === "POST" && c.path.includes("/chat/completions")).length;
  const spentNow = async () => Number(await page.getAttribute("#session", "data-spent"));
  const calibrateUnder = async (room) => {
    await page.fill("#cap-session", String((await spentNow()) + room));
    await page.click("#add-estimate");
    await page.waitForFunction(() => !document.getElementById("add-start").disabled);
    await page.evaluate(() => { document.getElementById("add-status").textContent = ""; });
    await page.click("#add-start");
    await page.waitForFunction(() => /capped calibrated|Calibration failed|cap .* is reached/
      .test(document.getElementById("add-status").textContent), null, { timeout: 60_000 });
    return page.textContent("#add-status");
  };
  // Not even one probe's worst case fits: nothing is sent.
  const before = await posts();
  const spent0 = await spentNow();
  assert.match(await calibrateUnder(0.00001), /Calibration failed: .*not called/);
  assert.equal(await posts(), before, "a probe was sent past the session cap");
  assert.equal(await spentNow(), spent0);
  // Room for a few: it ends early at the cap, and what it spent is the session's.
  // Room for a few probes' real cost (about US$0.00014 each here), and never more than their
  // worst case allows.
  const room = 0.0015;
  const status = await calibrateUnder(room);
  assert.match(status, /capped calibrated: \d+ of \d+ probes right, US\$[\d.]+ spent \(ended early/);
  const sent = (await posts()) - before;
  assert.ok(sent > 0 && sent < 25, `${sent} probes sent`);
  const spent1 = await spentNow();
  assert.ok(spent1 > spent0 && spent1 <= spent0 + room + 1e-12, `session spend ${spent0} -> ${spent1}`);
  assert.match(await page.textContent("#session"), new RegExp(`US\\$${spent1.toFixed(6)}`));
  await page.fill("#cap-session", "");
  await page.click('#added button[aria-label="Remove capped"]');
  await page.waitForFunction(() => !document.querySelector('#pool tr[data-model="capped"]'));
});

test("keys stay in memory unless remembered, and clear on request", async () => {
  await page.fill("#key-openai", "sk-demo-test-123");
  assert.equal(await page.evaluate(() => localStorage.getItem("routoo.keys")), null);
  await page.check("#remember");
  assert.match(await page.evaluate(() => localStorage.getItem("routoo.keys")), /sk-demo-test-123/);
  await page.click("#keys-clear");
  assert.equal(await page.evaluate(() => localStorage.getItem("routoo.keys")), null);
  assert.equal(await page.inputValue("#key-openai"), "");
});

test("corrupt or smuggled saved settings are dropped with a notice, and the page still works", async () => {
  const p = await context.newPage();
  p.on("pageerror", (e) => violations.push(`page error: ${e}`));
  const setUp = (items) => p.evaluate((items) => {
    for (const [k, v] of Object.entries(items)) localStorage.setItem(k, v);
  }, items);
  await p.goto(site.url);
  await setUp({ "routoo.pool": JSON.stringify({ off: 5 }), "routoo.keys": "{not json",
    "routoo.budget": JSON.stringify({ x: 1 }),
    "routoo.observed": JSON.stringify({ [POOL.models[0].id]: { answers: 0, meanTokens: 5 } }) });
  await firstEstimate(p, site.url);
  assert.equal(await p.isHidden("#notice"), false);
  const text = await p.textContent("#notice");
  for (const what of ["pool", "keys", "budget", "observed"]) {
    assert.match(text, new RegExp(`Saved ${what} settings were unreadable`));
  }
  assert.equal(await p.evaluate(() => localStorage.getItem("routoo.pool")), null);
  await routed(p, () => p.fill("#prompt", "What is the capital of France?"));
  assert.ok(await p.getAttribute("#choice", "data-model"), "the page routes");
  // A saved edit may change what the page edits (on/off, prices), never where a model lives.
  const id = POOL.models[0].id;
  await setUp({ "routoo.pool": JSON.stringify({ prices: { [id]: { priceIn: 1, baseUrl: "https://evil.example/v1" } } }) });
  await firstEstimate(p, site.url);
  assert.match(await p.textContent("#notice"), /Saved pool settings were unreadable/);
  await p.click("#pool-reset");
  // Well-formed state that used to stop every route: a key for a provider with no official
  // origin, beside a good one, and prices that make every model free.
  const free = Object.fromEntries(POOL.models.map((m) => [m.id, { priceIn: 0, priceOut: 0 }]));
  await setUp({ "routoo.keys": JSON.stringify({ nobody: "k-1", openai: "sk-kept" }),
    "routoo.pool": JSON.stringify({ prices: free }) });
  await firstEstimate(p, site.url);
  assert.match(await p.textContent("#notice"), /A saved key for nobody was dropped: .*no official API origin/);
  assert.deepEqual(JSON.parse(await p.evaluate(() => localStorage.getItem("routoo.keys"))), { openai: "sk-kept" });
  assert.equal(await p.inputValue("#key-openai"), "sk-kept");
  await routed(p, () => p.fill("#prompt", "What is the capital of Peru?"));
  assert.ok(await p.getAttribute("#choice", "data-model"), "the page routes with every model free");
  assert.doesNotMatch(await p.textContent("body"), /NaN/);
  await p.click("#pool-reset");
  await p.evaluate(() => localStorage.removeItem("routoo.keys"));
  await p.close();
});

test("the page is labelled, keyboard-usable, and fits a phone in dark mode", async () => {
  const unlabelled = await page.$$eval("input, textarea, button, meter", (els) =>
    els.filter((e) => !(e.labels?.length || e.getAttribute("aria-label") || e.textContent.trim()))
      .map((e) => e.outerHTML.slice(0, 80)));
  assert.deepEqual(unlabelled, []);
  // Tab from wherever focus is until the skip link, the page's first stop, then on.
  const focused = () => page.evaluate(() => document.activeElement.id || document.activeElement.className);
  for (let i = 0; i < 80 && await focused() !== "skip"; i++) await page.keyboard.press("Tab");
  const order = [await focused()];
  for (let i = 0; i < 3; i++) {
    await page.keyboard.press("Tab");
    order.push(await focused());
  }
  assert.deepEqual(order, ["skip", "prompt", "budget", "send"]);

  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, colorScheme: "dark" });
  const p = await phone.newPage();
  await firstEstimate(p, site.url);
  const fit = await p.evaluate(() => ({
    wide: document.documentElement.scrollWidth, view: window.innerWidth,
    bg: getComputedStyle(document.body).backgroundColor, fg: getComputedStyle(document.body).color,
  }));
  assert.ok(fit.wide <= fit.view, `the page is ${fit.wide} px wide on a ${fit.view} px screen`);
  const lum = (rgb) => {
    const [r, g, b] = rgb.match(/\d+/g).slice(0, 3).map((c) => {
      const s = Number(c) / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  assert.ok(lum(fit.bg) < 0.05, `dark background: ${fit.bg}`);
  const contrast = (a, b) => (Math.max(lum(a), lum(b)) + 0.05) / (Math.min(lum(a), lum(b)) + 0.05);
  assert.ok(contrast(fit.fg, fit.bg) >= 7, `text contrast ${contrast(fit.fg, fit.bg).toFixed(1)}`);
  const muted = await p.evaluate(() => getComputedStyle(document.querySelector(".lede")).color);
  assert.ok(contrast(muted, fit.bg) >= 4.5, `muted text contrast ${contrast(muted, fit.bg).toFixed(1)}`);
  await shot(p, "07-phone-dark");
  await phone.close();
});

test("the Content-Security-Policy allows the pool's providers and nothing else", async () => {
  const policy = pagePolicy(WWW, { dev: true });
  const connect = policy.match(/connect-src ([^;]+)/)[1].trim().split(/\s+/).sort();
  const origins = new Set(["'self'", EMULATOR, ...POOL.models.map((m) => new URL(m.baseUrl).origin)]);
  assert.deepEqual(connect, [...origins].sort(), "the pool's origins, the emulator's (dev), and no other");
  assert.match(policy, /script-src 'self' 'wasm-unsafe-eval'/);
  const blocked = await page.evaluate(async () => {
    try { await fetch("http://127.0.0.1:9/elsewhere"); return "fetched"; } catch { return "blocked"; }
  });
  assert.equal(blocked, "blocked");
  const seen = new Set(await page.evaluate(() => window.__violations ?? []));
  assert.deepEqual([...seen], ["connect-src http://127.0.0.1:9/elsewhere"], "no other violation in any flow");
  assert.deepEqual(violations, []);
});

test("a deployed page names no emulator and ships its security headers", async () => {
  const prod = await serve(0, WWW);
  try {
    const response = await fetch(prod.url);
    const html = await response.text();
    assert.ok(!html.includes(EMULATOR) && !html.includes("routoo-emulator"), "www/index.html names no dev origin");
    const headers = securityHeaders(WWW);
    for (const [name, value] of Object.entries(headers)) assert.equal(response.headers.get(name), value, name);
    assert.match(headers["content-security-policy"], /frame-ancestors 'none'/);
    assert.ok(!headers["content-security-policy"].includes(EMULATOR));
    // The same headers, in the file static hosts read.
    const file = readFileSync(`${WWW}/_headers`, "utf8");
    for (const [name, value] of Object.entries(headers)) assert.ok(file.includes(`  ${name}: ${value}\n`), name);
    const p = await context.newPage();
    await firstEstimate(p, prod.url);
    assert.equal(await p.isHidden("#emulator"), true, "no emulator switch on a deployed page");
    await p.close();
  } finally {
    prod.server.closeAllConnections();
    prod.server.close();
  }
});

/** A copy of www/ in a temporary folder, served by a host the test controls. */
function copyOfPage() {
  const root = mkdtempSync(`${tmpdir()}/routoo-www-`);
  cpSync(WWW, root, { recursive: true });
  return root;
}

/** Waits for the service worker's answer to the page's update check after a load. */
async function updateChecked(p, status) {
  await p.waitForSelector(`body[data-update=${status}]`, { timeout: 120_000 });
}

const closeHost = async (host) => {
  host.server.closeAllConnections();
  await new Promise((done) => host.server.close(done));
};

/**
 * Serves a copy of the page whose pool `edit(pool)` changed, loads it in a fresh context and
 * runs `body(page, pool, root)`; everything is closed and removed after.
 */
async function onCopy(edit, body, serveOptions = {}) {
  const root = copyOfPage();
  const fresh = await browser.newContext();
  let host;
  try {
    const pool = JSON.parse(readFileSync(`${root}/pool.json`, "utf8"));
    await edit(pool);
    writeFileSync(`${root}/pool.json`, JSON.stringify(pool));
    writeBuildInfo(root);
    host = await serve(0, root, serveOptions);
    const p = await fresh.newPage();
    await firstEstimate(p, host.url);
    await body(p, pool, root);
  } finally {
    if (host) await closeHost(host);
    await fresh.close();
    rmSync(root, { recursive: true, force: true });
  }
}

test("historical, borrowed and uncalibrated models: off by default, explained, and one click from calibration", async () => {
  const root = copyOfPage();
  const fresh = await browser.newContext();
  let host;
  try {
    const pool = JSON.parse(readFileSync(`${root}/pool.json`, "utf8"));
    // A historical model, and a labelled one served today to lend its head.
    const old = pool.models.find((m) => m.historical);
    const lender = pool.models.find((m) => !m.uncalibrated && !m.like && !m.scores && m.priceOut > 0);
    // And a local entry's lender, a head one table fitted: trusted only on that table's domain.
    const narrow = pool.models.find((m) => m.like && m.priceOut === 0);
    pool.models.push({ ...lender, id: "lender-next", apiModel: "lender-next", like: lender.id, historical: false },
      { ...lender, id: "narrow-next", apiModel: "narrow-next", like: narrow.like, historical: false },
      { ...lender, id: "mystery", apiModel: "mystery-1", uncalibrated: true, priceDate: "2026-11-30", historical: false });
    writeFileSync(`${root}/pool.json`, JSON.stringify(pool));
    writeBuildInfo(root);
    host = await serve(0, root);
    const p = await fresh.newPage();
    await firstEstimate(p, host.url);
    await routed(p, () => p.fill("#prompt", "Which is larger, 2^10 or 10^3?"));
    const row = (id) => `#pool tr[data-model="${id}"]`;
    assert.equal(await p.isChecked(`${row(old.id)} input[type=checkbox]`), false, "historical starts off");
    assert.match(await p.textContent(`${row(old.id)} th`), /historical: no longer served/);
    assert.match(await p.textContent(`${row("lender-next")} th`), new RegExp(`estimates borrowed from ${lender.id} \\(labelled on [a-z0-9-]+`));
    assert.match(await p.textContent(`${row("narrow-next")} th`),
      new RegExp(`estimates borrowed from ${narrow.like} \\(labelled on [a-z0-9-]+ only; elsewhere \\d+ % its level, \\d+ % an average model's\\)`));
    assert.match(await p.textContent(`${row("mystery")} th`), /uncalibrated: an average model at its price \(US\$[\d.]+ per 1M in \+ 4 out\)/);
    const meter = (id) => p.locator(`${row(id)} meter`).evaluate((m) => m.value);
    assert.equal(await meter("lender-next"), await meter(lender.id), "a borrowed model is estimated as its lender");
    assert.ok((await meter("mystery")) > 0);
    // Turned on, a historical model is routed; the choice survives a reload.
    await p.click("#pool-fold");
    await routed(p, () => p.check(`${row(old.id)} input[type=checkbox]`));
    await firstEstimate(p, host.url);
    assert.equal(await p.isChecked(`${row(old.id)} input[type=checkbox]`), true);
    // Calibrate fills "Add a model" with the entry.
    await p.click('button[aria-label="Calibrate mystery"]');
    assert.deepEqual([await p.inputValue("#add-id"), await p.inputValue("#add-api"), await p.inputValue("#add-in")],
      ["mystery", "mystery-1", String(lender.priceIn)]);
  } finally {
    if (host) await closeHost(host);
    await fresh.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test("on a host that sends only the <meta> policy, the router's worker reaches no port the user did not turn on", async () => {
  const root = copyOfPage();
  const fresh = await browser.newContext();
  const pool = JSON.parse(readFileSync(`${root}/pool.json`, "utf8"));
  const onThisMachine = (m) => /^http:\/\/127\./.test(m.baseUrl);
  const template = pool.models.find((m) => onThisMachine(m) && !m.historical);
  const listening = await start({ listModels: [template.apiModel] }); // a model server outside connect-src
  let host;
  try {
    pool.models = pool.models.filter((m) => !onThisMachine(m));
    pool.models.push({ ...template, baseUrl: `${listening.url}/v1` });
    writeFileSync(`${root}/pool.json`, JSON.stringify(pool));
    writeBuildInfo(root);
    host = await serve(0, root, { policy: false }); // no header: the worker is not bound by the page's policy
    const p = await fresh.newPage();
    await firstEstimate(p, host.url);
    await routed(p, () => p.fill("#prompt", "Prove that the square root of 2 is irrational."));
    assert.doesNotMatch(await p.textContent("#choice"), new RegExp(`\\(${template.provider}\\)`), "a local model offered while off");
    await p.click("#send");
    await p.waitForFunction(() => !document.getElementById("error").hidden ||
      document.getElementById("answer-meta").dataset.model, null, { timeout: 30_000 });
    assert.deepEqual(listening.calls, [], "the worker reached a port nobody turned on");
    // Turned on, the server is probed, then asked.
    await routed(p, () => p.check("#local"));
    await p.click("#send");
    await p.waitForSelector("#answer-meta[data-model]", { timeout: 60_000 });
    const calls = listening.calls.map((c) => `${c.method} ${c.path}`);
    assert.ok(calls.includes("GET /v1/models") && calls.includes("POST /v1/chat/completions"), calls.join(", "));
  } finally {
    if (host) await closeHost(host);
    await listening.close();
    await fresh.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test("a host that answers build.json with an HTML fallback or an oversized one leaves the pinned version in use", async () => {
  const root = copyOfPage();
  const fresh = await browser.newContext();
  let site2;
  try {
    site2 = await serve(0, root);
    const p = await fresh.newPage();
    await firstEstimate(p, site2.url);
    await updateChecked(p, "pinned");
    const version = await p.getAttribute("body", "data-version");
    // A build.json past the 1 MB read limit is refused unread, even one that would parse (the
    // same listing, padded): read whole, it would count as the current version.
    const listing = readFileSync(`${root}/build.json`, "utf8");
    writeFileSync(`${root}/build.json`, listing + " ".repeat(2 << 20));
    await firstEstimate(p, site2.url);
    await updateChecked(p, "failed");
    // The host now sends its index page for build.json, as single-page-app hosts do.
    writeFileSync(`${root}/build.json`, "<!doctype html><html><body>Not here</body></html>");
    await firstEstimate(p, site2.url);
    await updateChecked(p, "failed");
    await p.fill("#key-openai", "sk-held-in-memory"); // a key makes models choosable; routing calls nothing
    await routed(p, () => p.fill("#prompt", "Which planet is largest?"));
    assert.ok(await p.getAttribute("#choice", "data-model"), "the page routes on the pinned version");
    assert.equal(await p.getAttribute("body", "data-version"), version);
  } finally {
    if (site2) await closeHost(site2);
    await fresh.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test("a bundle file that fails its checksum is reported and not used", async () => {
  const root = copyOfPage();
  const fresh = await browser.newContext();
  let host;
  try {
    const file = `${root}/models/tokenizer.json`;
    const bad = readFileSync(file, "utf8").replace("[UNK]", "[UNX]");
    writeFileSync(file, bad);
    host = await serve(0, root);
    const p = await fresh.newPage();
    await p.goto(host.url);
    await p.waitForSelector("body[data-ready=failed]", { timeout: 120_000 });
    assert.match(await p.textContent("#load-status"), /failed their integrity check and were not used/);
    assert.match(await p.textContent("#load-error"), /models\/tokenizer\.json failed its checksum/);
    // The service worker, asked after the failure, meets the same file and pins nothing.
    await updateChecked(p, "failed");
    const kept = await p.evaluate(async (digests) => {
      const store = await caches.open("routoo-blobs");
      const has = async (url) => Boolean(await store.match(url));
      return [await has(`https://routoo.invalid/sha256/${digests.bad}`),
        await has(`https://routoo.invalid/sha256/${digests.good}`), await has("https://routoo.invalid/current")];
    }, { bad: createHash("sha256").update(bad).digest("hex"),
      good: JSON.parse(readFileSync(`${root}/build.json`, "utf8")).files["models/tokenizer.json"].sha256 });
    assert.deepEqual(kept, [false, false, false], "neither the bad copy nor a version naming it was kept");
    await shot(p, "08-checksum");
  } finally {
    if (host) await closeHost(host);
    await fresh.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test("an update cut off or half-bad on the host leaves the pinned version working offline", async () => {
  const root = copyOfPage();
  const fresh = await browser.newContext();
  let cut = null; // a file the host starts sending, then drops the connection
  const fault = (req, res) => {
    if (new URL(req.url, "http://x").pathname !== cut) return false;
    res.writeHead(200, { "content-type": "application/json", "content-length": "100000" });
    res.write("{\"models\": [");
    setTimeout(() => req.socket.destroy(), 50);
    return true;
  };
  let host;
  try {
    host = await serve(0, root, { fault });
    const port = Number(new URL(host.url).port);
    const p = await fresh.newPage();
    await firstEstimate(p, host.url);
    await updateChecked(p, "pinned");
    const a = await p.getAttribute("body", "data-version");
    const first = POOL.models[0].id;
    const price = () => p.inputValue(`#pool tr[data-model="${first}"] input[type=number]`);
    const priceA = await price();

    // Release B changes the pool and the worker; the host cuts the new pool.json off midway.
    const pool = JSON.parse(readFileSync(`${root}/pool.json`, "utf8"));
    pool.models[0].priceIn = 12.345;
    writeFileSync(`${root}/pool.json`, JSON.stringify(pool, null, 2));
    const worker = readFileSync(`${root}/worker.js`, "utf8");
    writeFileSync(`${root}/worker.js`, `${worker}// release B\n`);
    const b = writeBuildInfo(root).version;
    assert.notEqual(a, b);
    cut = "/pool.json";
    await firstEstimate(p, host.url);
    await updateChecked(p, "failed");
    assert.equal(await p.getAttribute("body", "data-version"), a, "still version A after a cut-off update");

    // Half-bad: the host's worker.js is not the one its build.json names.
    cut = null;
    writeFileSync(`${root}/worker.js`, `${worker}// a file from neither release\n`);
    await firstEstimate(p, host.url);
    await updateChecked(p, "failed");
    assert.equal(await p.getAttribute("body", "data-version"), a, "still version A after a half-bad update");
    assert.equal(await price(), priceA, "version A's pool, not B's");

    // Offline, version A loads whole and routes.
    await closeHost(host);
    await firstEstimate(p, host.url);
    await p.fill("#key-openai", "sk-held-in-memory"); // a key makes models choosable; routing calls nothing
    await routed(p, () => p.fill("#prompt", "Offline after a failed update: which model?"));
    assert.ok(await p.getAttribute("#choice", "data-model"));
    assert.equal(await p.getAttribute("body", "data-version"), a);

    // The host mended: B is staged while A runs, announced, and used from the next load.
    writeFileSync(`${root}/worker.js`, `${worker}// release B\n`);
    host = await serve(port, root);
    await firstEstimate(p, host.url);
    await updateChecked(p, "updated");
    assert.equal(await p.getAttribute("body", "data-version"), a);
    assert.match(await p.textContent("#notice"), /A new version of routoo is ready/);
    await firstEstimate(p, host.url);
    assert.equal(await p.getAttribute("body", "data-version"), b);
    assert.equal(Number(await price()), 12.345, "version B's pool");
    // And B alone is kept: A's files that B does not share are gone from the store.
    const stored = await p.evaluate(async () =>
      (await (await caches.open("routoo-blobs")).keys()).map((r) => r.url));
    const info = JSON.parse(readFileSync(`${root}/build.json`, "utf8"));
    const wanted = new Set(Object.values(info.files).map((f) => `https://routoo.invalid/sha256/${f.sha256}`));
    assert.deepEqual(stored.filter((u) => !wanted.has(u)), ["https://routoo.invalid/current"]);

    // The host rolls back to A's files and a listing built before B's: refused, B stays.
    writeFileSync(`${root}/pool.json`, JSON.stringify({ ...pool, models: pool.models.map((m, i) =>
      (i === 0 ? { ...m, priceIn: Number(priceA) } : m)) }, null, 2));
    writeFileSync(`${root}/worker.js`, worker);
    const older = writeBuildInfo(root, new Date(Date.parse(info.built) - 60_000).toISOString()).version;
    assert.notEqual(older, b);
    await firstEstimate(p, host.url);
    await updateChecked(p, "older");
    assert.match(await p.textContent("#notice"), /offers an older version of routoo, which was refused/);
    await firstEstimate(p, host.url);
    assert.equal(await p.getAttribute("body", "data-version"), b, "still B after a rollback");
  } finally {
    if (host?.server.listening) await closeHost(host);
    await fresh.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test("with the page's origin cut, a reload still loads from cache and routes", async () => {
  site.server.closeAllConnections();
  await new Promise((done) => site.server.close(done));
  const gone = await page.evaluate(async (url) => {
    try { await fetch(`${url}not-cached-${Date.now()}`); return "reachable"; } catch { return "cut"; }
  }, site.url);
  assert.equal(gone, "cut");
  await page.reload();
  await page.waitForSelector("body[data-ready=true]", { timeout: 120_000 });
  await routed(page, () => page.fill("#prompt", "Offline: which model would take this?"));
  assert.ok(await page.getAttribute("#choice", "data-model"));
  await shot(page, "09-offline");
});

test("From published scores: a card places a model without a call, and each row says what its estimate rests on", async () => {
  let today;
  await onCopy((pool) => {
    today = pool.models.find((m) => m.uncalibrated && !m.historical);
    // GPQA Diamond: a benchmark whose gap to its family the bundle measured, so its score
    // sets the level in full (a table's own benchmark from an unknown harness moves it less).
    const score = (accuracy) => [{ benchmark: "GPQA Diamond", accuracy, source: "https://example.test/card", date: "2026-11-01" }];
    const entry = { ...today };
    delete entry.uncalibrated;
    pool.models.push({ ...entry, id: "carded-weak", apiModel: "carded-weak", scores: score(0.35) },
      { ...entry, id: "carded-strong", apiModel: "carded-strong", scores: score(0.85) });
    // Two cards by subject, alike on average: one strong in maths, one in history.
    const bySubject = (maths, history) => [["math", maths], ["physics", maths], ["history", history], ["philosophy", history]]
      .map(([subject, accuracy]) => ({ benchmark: "mmlu-pro", subject, accuracy, source: "https://example.test/card", date: "2026-11-01" }));
    pool.models.push({ ...entry, id: "carded-scientist", apiModel: "carded-scientist", scores: bySubject(0.9, 0.3) },
      { ...entry, id: "carded-historian", apiModel: "carded-historian", scores: bySubject(0.3, 0.9) });
  }, async (p, pool, root) => {
    await routed(p, () => p.fill("#prompt", "Which of these best explains why the Treaty of Westphalia mattered? " +
      "(A) it ended the Thirty Years' War (B) it founded the UN (C) it unified Italy (D) it split Korea"));
    const row = (id) => `#pool tr[data-model="${id}"]`;
    const meter = (id) => p.locator(`${row(id)} meter`).evaluate((m) => m.value);
    assert.ok(await meter("carded-strong") > await meter("carded-weak") + 0.2,
      `${await meter("carded-strong")} vs ${await meter("carded-weak")}`);
    // On a history question the card by subject puts the historian ahead.
    assert.ok(await meter("carded-historian") > await meter("carded-scientist") + 0.2,
      `${await meter("carded-historian")} vs ${await meter("carded-scientist")}`);
    assert.match(await p.textContent(`${row("carded-strong")} th`), /placed from published scores: GPQA Diamond 85(\.0)? ?%, 2026-11-01/);
    assert.equal(await p.getAttribute(`${row("carded-strong")} th a`, "href"), "https://example.test/card");
    assert.match(await p.textContent(`${row(today.id)} th`), /uncalibrated: an average model at its price \(US\$[\d.]+ per 1M in \+ 4 out\)/);
    const labelled = pool.models.find((m) => !m.uncalibrated && !m.like && !m.scores && !m.historical);
    if (labelled) assert.match(await p.textContent(`${row(labelled.id)} th`), /labelled: [\d,]+ rows of /);
    assert.match(await p.textContent(`${row("carded-strong")} td.num`), /± /, "the estimate shows its spread");

    // The form: a model of the user's own, placed from a pasted card; nothing is sent.
    const callsBefore = emulator.calls.length;
    const describe = async () => {
      for (const [id, value] of [["#add-id", "my-model"], ["#add-provider", "openai"], ["#add-api", "my-model-1"],
        ["#add-base", "https://api.openai.com/v1"], ["#add-in", "1"], ["#add-out", "4"]]) await p.fill(id, value);
    };
    await describe();
    const card = { model: "my-model", scores: [{ benchmark: "GPQA Diamond", accuracy: 86, source: "https://example.test/gpqa", date: "2026-10-01" }] };
    await p.fill("#add-card", JSON.stringify(card));
    await p.click("#add-from-card");
    await p.waitForFunction(() => /Not placed: .*not a percentage/.test(document.getElementById("add-status").textContent),
      null, { timeout: 10_000 });
    card.scores[0].accuracy = 0.86;
    await p.fill("#add-card", JSON.stringify(card));
    await p.click("#add-from-card");
    await p.waitForFunction(() => /my-model placed from 1 published score \(GPQA Diamond\), without a call/
      .test(document.getElementById("add-status").textContent), null, { timeout: 30_000 });
    await p.waitForSelector(row("my-model"));
    assert.match(await p.textContent(`${row("my-model")} th`), /placed from published scores: GPQA Diamond 86(\.0)? ?%/);
    assert.match(await p.textContent('#added li[data-model="my-model"]'), /placed from 1 published scores, no call/);
    assert.equal(emulator.calls.length, callsBefore, "no call was made");
    // Kept: after a reload the model is there, placed the same way.
    await firstEstimate(p, p.url());
    await p.waitForSelector(row("my-model"));
    assert.match(await p.textContent(`${row("my-model")} th`), /placed from published scores: GPQA Diamond/);
    // Stored as written in another version's space: on load it is placed again in this one's
    // from the card it kept, without a call.
    await p.evaluate(async () => {
      const store = await import("./added.js");
      const mine = (await store.list()).find((a) => a.id === "my-model");
      await store.keep({ ...mine.heads, encoder: "0".repeat(64) });
    });
    await firstEstimate(p, p.url());
    await p.waitForFunction(() => /my-model was placed again for this version from what it kept \(0 probes, a card\), without a call/
      .test(document.body.textContent), null, { timeout: 30_000 });
    await p.waitForSelector(row("my-model"));
    assert.match(await p.textContent(`${row("my-model")} th`), /placed from published scores: GPQA Diamond/);
    assert.equal(emulator.calls.length, callsBefore, "still no call");
    // A card loaded from a file names an unknown benchmark: refused with the known ones.
    const bad = `${root}/card.json`;
    writeFileSync(bad, JSON.stringify({ model: "my-model", scores: [{ benchmark: "Terminal-Bench 4.0", accuracy: 0.5,
      source: "https://example.test/tb", date: "2026-10-01" }] }));
    await describe();
    await p.setInputFiles("#add-card-file", bad);
    await p.waitForFunction(() => /Loaded the card/.test(document.getElementById("add-status").textContent));
    await p.click("#add-from-card");
    await p.waitForFunction(() => /Not placed: .*unknown benchmark.*gpqa-diamond/
      .test(document.getElementById("add-status").textContent), null, { timeout: 10_000 });
    await shot(p, "from-published-scores");
  });
});

test("local models: only what a server on this machine lists is offered, and it is asked under the name it lists", async () => {
  // An Ollama stand-in: it lists a quantised qwen3:8b and a model the pool does not know.
  const server = await start({ listModels: ["qwen3:8b-q4_K_M", "nomic-embed-text:latest"] });
  let listed, unlisted;
  try {
    await onCopy((pool) => {
      const ollama = pool.models.filter((m) => m.provider === "ollama");
      [listed, unlisted] = [ollama.find((m) => m.apiModel === "qwen3:8b"), ollama.find((m) => m.apiModel === "gemma3:4b")];
      for (const m of ollama) m.baseUrl = `${server.url}/v1`;
    }, async (p) => {
    await routed(p, () => p.fill("#prompt", "What is 17 times 23?"));
    await routed(p, () => p.check("#local"));
    const said = await p.textContent(`#local-status li[data-origin="${server.url}"]`);
    assert.match(said, /serves qwen3:8b-q4_K_M: 1 of the pool's models/);
    assert.match(await p.textContent("#local-status"), /Nothing answered at http:\/\/127\.0\.0\.1:1234\. In LM Studio/);
    assert.equal(await p.getAttribute("#choice", "data-model"), listed.id);
    const row = (id) => `#pool tr[data-model="${id}"]`;
    assert.match(await p.textContent(`${row(unlisted.id)} td:last-child`), /not listed by its server/i);
    // The served models come first.
    const first = await p.$eval("#pool tbody tr", (r) => r.dataset.model);
    assert.equal(first, listed.id);
    const before = server.calls.length;
    await send(p);
    const posts = server.calls.slice(before).filter((c) => c.method === "POST");
    assert.deepEqual(posts.map((c) => c.body.model), ["qwen3:8b-q4_K_M"]);
    await shot(p, "local-models");
    }, { policy: false }); // the stand-in's port is not in the page's policy
  } finally {
    await server.close();
  }
});

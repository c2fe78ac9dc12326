// Router.ask in headless Chromium: the wasm package routes a prompt, then calls the provider
// emulator with real cross-origin fetch (CORS preflight included) and streams the answer.
// Three emulators stand for three providers, each on its own origin, so a key sent anywhere
// but its own provider is caught.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { serve, WWW } from "../../scripts/serve.mjs";
import { start } from "../../scripts/emulator.mjs";
import { launch } from "./chromium.mjs";

const KEYS = { openai: "sk-openai-4f9a1c", anthropic: "sk-ant-77d2e0", google: "AIza-gem-5b31e8" };

let server, url, browser, page, emulators, local;
/** KEYS bound to each emulator's origin, as a page binds a key to a custom base URL. */
let BOUND;
const seen = { requests: [], console: [] };

before(async () => {
  // A page of its own, not the demo: no demo policy limits where it may connect.
  ({ server, url } = await serve(0, WWW, { policy: false }));
  emulators = { openai: await start(), anthropic: await start(), google: await start() };
  BOUND = Object.fromEntries(Object.entries(KEYS).map(([p, k]) => [emulators[p].url, k]));
  // The default pool, each provider's models moved to its own emulator; the Gemini emulator
  // also serves every model of the other providers, so all three wire formats are in one pool.
  const pool = JSON.parse(await readFile(new URL("../../www/pool.json", import.meta.url), "utf8"));
  const base = { openai: "/v1", anthropic: "/v1", google: "/v1beta" };
  const onThisMachine = (m) => /^http:\/\/127\./.test(m.baseUrl);
  const localModel = pool.models.find((m) => onThisMachine(m) && !m.historical);
  // A model server on this machine: it lists that model, as Ollama names a quantised copy.
  local = await start({ listModels: [`${localModel.apiModel}-q4_K_M`] });
  pool.models = pool.models.filter((m) => !onThisMachine(m)).map((m) => {
    const provider = ["openai", "anthropic"].includes(m.provider) ? m.provider : "google";
    const apiModel = provider === "google" ? `gemini-emulated-${m.id}` : m.apiModel;
    return { ...m, provider, apiModel, baseUrl: emulators[provider].url + base[provider] };
  });
  pool.models.push({ ...localModel, provider: "local", baseUrl: `${local.url}/v1` });
  browser = await launch();
  page = await browser.newPage();
  page.on("console", (m) => seen.console.push(m.text()));
  page.on("pageerror", (e) => seen.console.push(String(e)));
  page.on("request", async (r) => {
    seen.requests.push({ url: r.url(), headers: await r.allHeaders(), body: r.postData() ?? "" });
  });
  await page.goto(url + "style.css");
  await page.evaluate(async ({ base, pool }) => {
    const mod = await import(base + "pkg/routoo.js");
    await mod.default();
    window.router = await mod.Router.load(base + "models/predictor.json", pool);
  }, { base: url, pool });
});

after(async () => {
  await browser?.close();
  server?.close();
  for (const e of Object.values(emulators ?? {})) await e.close();
  await local?.close();
});

/** Asks in the page; returns {reply, text, events} or {error}. */
function ask(prompt, options, extra = {}) {
  return page.evaluate(async ({ prompt, options, keys, extra }) => {
    const events = [];
    let text = "";
    const controller = new AbortController();
    if (extra.stopAfterMs) setTimeout(() => controller.abort(), extra.stopAfterMs);
    try {
      const reply = await window.router.ask(prompt, options, {
        keys, local: extra.local, maxTokens: extra.maxTokens ?? 64, maxCost: extra.maxCost,
        idleTimeoutMs: extra.idleTimeoutMs, timeoutMs: extra.timeoutMs,
        stream: extra.stream, signal: controller.signal,
        onText: (t) => { text += t; }, onEvent: (e) => events.push(e),
      });
      return { reply, text, events };
    } catch (e) {
      return { error: e.message, isError: e instanceof Error, text, events };
    }
  }, { prompt, options, keys: extra.keys ?? BOUND, extra });
}

const route = (prompt, options) =>
  page.evaluate(({ prompt, options }) => window.router.route(prompt, options), { prompt, options });

const apiModel = (decision, i = 0) =>
  page.evaluate((id) => window.router.pool().models.find((m) => m.id === id).apiModel,
    decision.ranked[i].model);

test("a routed answer streams from the emulator in each wire format", async () => {
  for (const provider of ["openai", "anthropic", "google"]) {
    const options = { budget: 5, providers: [provider] };
    const decision = await route("Explain what a hash map is.", options);
    const r = await ask("Explain what a hash map is.", options);
    assert.ok(r.reply, `${provider}: ${r.error}`);
    assert.equal(r.reply.model, decision.choice.model, provider);
    assert.equal(r.reply.provider, provider);
    assert.match(r.reply.answer.text, /Emulated answer [0-9a-f]{8} to: "Explain what a hash map is\."/);
    assert.equal(r.text, r.reply.answer.text, `${provider}: streamed text adds up to the answer`);
    assert.equal(r.reply.answer.finish, "stop");
    assert.ok(r.reply.answer.usage.inputTokens > 0 && r.reply.answer.usage.outputTokens > 0);
    const model = await page.evaluate((id) => window.router.pool().models.find((m) => m.id === id),
      r.reply.model);
    const u = r.reply.answer.usage;
    assert.ok(Math.abs(r.reply.cost - (u.inputTokens * model.priceIn + u.outputTokens * model.priceOut) / 1e6) < 1e-12);
    assert.ok(r.reply.estimatedCost > 0);
    assert.deepEqual(r.reply.attempts, []);
    assert.deepEqual(r.events.map((e) => e.type), ["calling"]);
    const calls = emulators[provider].calls.filter((c) => c.method === "POST");
    assert.ok(calls.length > 0, `${provider} emulator was called`);
  }
  const preflights = emulators.anthropic.calls.filter((c) => c.method === "OPTIONS");
  assert.ok(preflights.length > 0, "cross-origin calls went through a CORS preflight");
});

test("a conversation is routed and sent whole in each wire format; a malformed one is refused", async () => {
  const chat = [
    { role: "system", content: "Answer in French." },
    { role: "user", content: "What is a hash map?" },
    { role: "assistant", content: "Une table de hachage." },
    { role: "user", content: "Give an example." },
  ];
  for (const provider of ["openai", "anthropic", "google"]) {
    const options = { budget: 5, providers: [provider] };
    const decision = await route(chat, options);
    const before = seen.requests.length;
    const r = await ask(chat, options);
    assert.ok(r.reply, `${provider}: ${r.error}`);
    assert.equal(r.reply.model, decision.choice.model, provider);
    const sent = seen.requests.slice(before).filter((q) => q.url.startsWith(emulators[provider].url) && q.body);
    const body = JSON.parse(sent.at(-1).body);
    if (provider === "openai") assert.deepEqual(body.messages, chat);
    if (provider === "anthropic") {
      assert.equal(body.system, "Answer in French.");
      assert.deepEqual(body.messages, chat.slice(1));
    }
    if (provider === "google") {
      assert.deepEqual(body.systemInstruction, { parts: [{ text: "Answer in French." }] });
      assert.deepEqual(body.contents.map((c) => [c.role, c.parts[0].text]),
        [["user", "What is a hash map?"], ["model", "Une table de hachage."], ["user", "Give an example."]]);
    }
  }
  // Every turn is priced: the same question alone costs less.
  const alone = await route("Give an example.", { budget: 5 });
  const whole = await route(chat, { budget: 5 });
  assert.ok(whole.choice.cost.inputTokens > alone.choice.cost.inputTokens);
  const bad = await page.evaluate(() => {
    try {
      window.router.route([{ role: "user", content: "hi" }, { role: "assistant", content: "hello" }]);
      return "no error";
    } catch (e) {
      return e.message;
    }
  });
  assert.match(bad, /invalid conversation: the last turn is not the user's/);
  const asked = await ask([{ role: "robot", content: "hi" }], {});
  assert.match(asked.error, /invalid conversation/);
});

test("ask with tools: a call, its result and a schema answer round trip in each wire format", async () => {
  const tools = [{ type: "function", function: { name: "lookup", parameters: { type: "object",
    properties: { query: { type: "string" } } } } }];
  const question = { role: "user", content: "Which planet is largest?" };
  for (const provider of ["openai", "anthropic", "google"]) {
    const options = { budget: 5, providers: [provider] };
    for (const stream of [true, false]) {
      const first = await ask({ messages: [question], tools }, options, { stream });
      assert.ok(first.reply, `${provider}: ${first.error}`);
      assert.equal(first.reply.answer.finish, "toolCalls", provider);
      const [call] = first.reply.answer.toolCalls;
      assert.equal(call.function.name, "lookup");
      assert.deepEqual(JSON.parse(call.function.arguments), { query: "Which planet is largest?" });
      const second = await ask({ messages: [question, { role: "assistant", content: null, tool_calls: [call] },
        { role: "tool", tool_call_id: call.id, content: "Jupiter" }], tools }, options, { stream });
      assert.ok(second.reply, `${provider}: ${second.error}`);
      assert.match(second.reply.answer.text, /^The tool said: .*Jupiter/, provider);
    }
    const schema = { type: "object", properties: { planet: { type: "string" } }, required: ["planet"] };
    const json = await ask({ messages: [question], response_format: { type: "json_schema",
      json_schema: { name: "planet", schema } } }, options);
    assert.ok(json.reply, `${provider}: ${json.error}`);
    assert.equal(typeof JSON.parse(json.reply.answer.text).planet, "string");
  }
  const misspelt = await ask({ messages: [question], tool: tools }, {});
  assert.match(misspelt.error, /no field "tool"/);
});

test("streams decode as the spec says in every format: BOM and bare CR, no end marker, an error mid-way", async () => {
  for (const provider of ["openai", "anthropic", "google"]) {
    const options = { budget: 5, providers: [provider] };
    const prompt = "Explain what a linked list is.";
    const model = await apiModel(await route(prompt, options));
    const clean = await ask(prompt, options);
    assert.ok(clean.reply, `${provider}: ${clean.error}`);
    for (const fault of ["bom-cr", "no-end"]) {
      emulators[provider].script(model, [fault]);
      const r = await ask(prompt, options);
      assert.ok(r.reply, `${provider} ${fault}: ${r.error}`);
      assert.equal(r.reply.answer.text, clean.reply.answer.text, `${provider} ${fault}`);
      assert.equal(r.text, clean.reply.answer.text, `${provider} ${fault}: shown once`);
      assert.equal(r.reply.answer.finish, "stop");
      assert.deepEqual(r.reply.attempts, [], `${provider} ${fault}: not retried`);
    }
    emulators[provider].script(model, ["error-mid"]);
    const r = await ask(prompt, options);
    assert.ok(r.isError, `${provider}: an error event mid-way fails the call`);
    assert.match(r.error, /^the answer broke off after it had begun: .*the provider stopped with an error: .*(error|overloaded)/i);
    assert.ok(r.text.length > 0 && clean.reply.answer.text.startsWith(r.text),
      `${provider}: the text shown is a prefix of the answer, shown once`);
    assert.deepEqual(r.events.map((e) => e.type), ["calling", "failed"], `${provider}: no retry, no fallback`);
  }
});

test("a trickling, an endless and a huge answer each end with a clear error", async () => {
  const options = { budget: 5, providers: ["openai"] };
  const prompt = "Write the longest story you can.";
  const model = await apiModel(await route(prompt, options));
  // Never idle, never done: the call's overall deadline ends it, then the retries' do.
  emulators.openai.script(model, ["trickle", "trickle", "trickle"]);
  const slow = await ask(prompt, options, { timeoutMs: 800 });
  assert.ok(slow.reply, slow.error);
  assert.deepEqual(slow.reply.attempts.map((a) => a.error),
    Array(3).fill("the provider did not answer within 800ms"));
  emulators.openai.script(model, ["endless"]);
  const endless = await ask(prompt, options);
  assert.ok(endless.isError);
  // It ignores the answer limit: cut where 64 tokens' worth of text (64 bytes each, 4 KiB more) ends.
  assert.match(endless.error, /broke off after it had begun: .*went past the answer limit of 64 tokens/);
  assert.ok(endless.text.length <= 64 * 64 + 4096, `${endless.text.length} characters shown`);
  emulators.openai.script(model, ["huge"]);
  const huge = await ask(prompt, options, { stream: false });
  assert.ok(huge.reply, huge.error);
  assert.match(huge.reply.attempts[0].error, /the answer is larger than 8388608 bytes/);
});

test("a 429 is retried after retry-after, then succeeds", async () => {
  const options = { budget: 5, providers: ["openai"] };
  const decision = await route("What is 17 * 23?", options);
  emulators.openai.script(await apiModel(decision), ["429"]);
  const r = await ask("What is 17 * 23?", options);
  assert.ok(r.reply, r.error);
  assert.equal(r.reply.model, decision.choice.model);
  assert.equal(r.reply.attempts.length, 1);
  assert.match(r.reply.attempts[0].error, /rate limited.*retry after 1\.0 s/);
  const [first, failed, again] = r.events;
  assert.deepEqual([first.type, failed.type, again.type], ["calling", "failed", "calling"]);
  assert.equal(failed.next, "retry");
  assert.equal(failed.waitMs, 1000, "the wait the emulator's retry-after asked for");
  assert.equal(again.retry, 1);
});

test("a model that keeps failing with 500 falls back to the next ranked model", async () => {
  const options = { budget: 5, providers: ["anthropic", "google"] };
  const decision = await route("Summarise the plot of Hamlet.", options);
  emulators[decision.ranked[0].provider].script(await apiModel(decision), ["500", "500", "500"]);
  const r = await ask("Summarise the plot of Hamlet.", options);
  assert.ok(r.reply, r.error);
  assert.equal(r.reply.model, decision.ranked[1].model, "the second-ranked model answered");
  assert.equal(r.reply.attempts.length, 3, "two retries, then the fallback");
  assert.ok(r.reply.attempts.every((a) => a.model === decision.choice.model && /HTTP 500/.test(a.error)));
  assert.deepEqual(r.events.filter((e) => e.type === "failed").map((e) => e.next),
    ["retry", "retry", "fallback"]);
  assert.equal(r.text, r.reply.answer.text);
});

test("Stop cancels a stalled stream; a quiet provider times out and is retried", async () => {
  const options = { budget: 5, providers: ["openai"] };
  const decision = await route("Tell me a long story.", options);
  const model = await apiModel(decision);
  emulators.openai.script(model, ["stall"]);
  const stopped = await ask("Tell me a long story.", options, { stopAfterMs: 300 });
  assert.equal(stopped.error, "stopped");
  assert.ok(stopped.isError);

  emulators.openai.script(model, ["stall"]);
  const r = await ask("Tell me a long story.", options, { idleTimeoutMs: 400 });
  assert.ok(r.reply, r.error);
  assert.match(r.reply.attempts[0].error, /did not answer within 400ms/);
  assert.equal(r.reply.model, decision.choice.model);
});

test("errors are JS Errors that name every failed call", async () => {
  const bad = await page.evaluate(async () => {
    try {
      await window.router.ask("hi", {}, { keys: { openai: 42 } });
    } catch (e) { return e.message; }
  });
  assert.match(bad, /keys.*must map provider names or origins to key strings/);
  const empty = await page.evaluate(() => {
    const p = window.router.ask("   ", {}, {});
    return p.then(() => "resolved", (e) => `${p instanceof Promise} ${e instanceof Error} ${e.message}`);
  });
  assert.match(empty, /^true true .*empty/, "bad input rejects the promise, never throws");
  const options = { budget: 5, providers: ["openai"] };
  const decision = await route("Why is the sky blue?", options);
  emulators.openai.script(await apiModel(decision), ["401"]);
  const r = await ask("Why is the sky blue?", options);
  assert.ok(r.isError, "rejected with an Error");
  assert.match(r.error, /^every model failed: .*refused the API key \(HTTP 401\)/);
  assert.equal(r.events.filter((e) => e.type === "calling").length, 1,
    "a refused key is not retried, nor tried with the provider's other models");
});

test("a key given for a provider's name goes to its official origin only, never to a pool's host", async () => {
  // The pool says "openai" but points at the emulator: the OpenAI key must not follow it, and
  // a port on this machine gets no prompt either: not turned on, it is not even probed; turned
  // on, it did not answer a probe as a model server.
  const before = emulators.openai.calls.length;
  const r = await ask("Why is the sky blue?", { budget: 5, providers: ["openai"] }, { keys: KEYS });
  assert.ok(r.isError);
  assert.match(r.error, /no model (of the pool )?can take this/);
  assert.deepEqual(emulators.openai.calls.slice(before), [], "a port not turned on was reached");
  const on = await ask("Why is the sky blue?", { budget: 5, providers: ["openai"] },
    { keys: KEYS, local: [emulators.openai.url] });
  assert.match(on.error, /no model (of the pool )?can take this/);
  const calls = emulators.openai.calls.slice(before);
  assert.ok(calls.some((c) => c.method === "GET" && c.path === "/v1/models"), "the port was probed");
  assert.deepEqual(calls.filter((c) => c.method === "POST"), [], "no prompt went there");
  for (const c of calls) {
    assert.ok(!JSON.stringify(c.headers).includes(KEYS.openai), "the OpenAI key reached the emulator");
  }
});

test("a server on this machine that answers the probe is called, with no key, once turned on", async () => {
  const off = await ask("What is a compiler?", { budget: 5, providers: ["local"] }, { keys: {} });
  assert.match(off.error, /no model (of the pool )?can take this/);
  assert.deepEqual(local.calls, [], "a local server not turned on was probed or called");
  const r = await ask("What is a compiler?", { budget: 5, providers: ["local"] }, { keys: {}, local: [local.url] });
  assert.ok(r.reply, r.error);
  assert.equal(r.reply.provider, "local");
  const calls = local.calls.map((c) => `${c.method} ${c.path}`);
  const post = calls.indexOf("POST /v1/chat/completions");
  assert.ok(post > 0 && calls.slice(0, post).includes("GET /v1/models"), `probed before the prompt: ${calls}`);
  assert.match(local.calls[post].body.model, /-q4_K_M$/, "sent under the name the server lists");
});

test("a key with an invisible character is refused with a clear error, and the call settles", async () => {
  const r = await ask("Why is the sky blue?", { budget: 5 },
    { keys: { ...BOUND, [emulators.anthropic.url]: "sk-ant\u200b77d2e0" } });
  assert.ok(r.isError);
  assert.match(r.error, /key for http:\/\/127\.0\.0\.1:\d+ has a character an HTTP header cannot carry \(U\+200B at position 7\)/);
  assert.ok(!r.error.includes("sk-ant"), "the error shows no key");
});

test("no key reaches another origin, a log line or an error", async () => {
  const origins = Object.fromEntries(Object.entries(emulators).map(([p, e]) => [p, e.url]));
  const headerOf = { openai: "authorization", anthropic: "x-api-key", google: "x-goog-api-key" };
  const leaks = [];
  // Requests as the browser sent them, and as each emulator received them (preflights too).
  const all = [...seen.requests.map((r) => ({ where: "browser", ...r })),
    ...Object.entries(emulators).flatMap(([p, e]) => e.calls.map((c) => ({
      where: `emulator ${p}`, url: origins[p] + c.path, headers: c.headers, body: "" })))];
  assert.ok(all.length > 20);
  for (const r of all) {
    for (const [provider, key] of Object.entries(KEYS)) {
      for (const [name, value] of Object.entries(r.headers)) {
        if (!String(value).includes(key)) continue;
        const ok = r.url.startsWith(origins[provider] + "/") && name.toLowerCase() === headerOf[provider];
        if (!ok) leaks.push(`${provider} key in header ${name} of ${r.where} ${r.url}`);
      }
      if (r.url.includes(key) || r.body.includes(key)) leaks.push(`${provider} key in ${r.url}`);
    }
  }
  const text = JSON.stringify(seen.console);
  for (const [provider, key] of Object.entries(KEYS)) {
    if (text.includes(key)) leaks.push(`${provider} key in the console`);
  }
  // What the page gets back: replies, events and errors.
  const outputs = JSON.stringify([
    await ask("Name three primes.", { budget: 5 }),
    await page.evaluate(async ({ keys, origin }) => {
      try { await window.router.ask("hi", { providers: ["openai"] }, { keys: { ...keys, [origin]: "bad" } }); } catch (e) { return e.message; }
    }, { keys: BOUND, origin: emulators.openai.url }),
  ]);
  for (const [provider, key] of Object.entries(KEYS)) {
    if (outputs.includes(key)) leaks.push(`${provider} key in a reply or error`);
  }
  assert.deepEqual(leaks, []);
  // And each key did reach its own provider.
  for (const [provider, key] of Object.entries(KEYS)) {
    assert.ok(emulators[provider].calls.some((c) => String(c.headers[headerOf[provider]]).includes(key)),
      `${provider} received its key`);
  }
});

test("a redirect is refused unfollowed, in every format, and the call falls back", async () => {
  for (const [provider, path] of [["openai", "/v1/chat/completions"], ["anthropic", "/v1/messages"],
    ["google", "/v1beta/models/m:streamGenerateContent"]]) {
    for (const status of [302, 307]) {
      const options = { budget: 5, providers: [provider] };
      const decision = await route("Name a prime above 100.", options);
      const elsewhere = provider === "openai" ? emulators.anthropic : emulators.openai;
      const before = elsewhere.calls.length;
      emulators[provider].script(await apiModel(decision), [`redirect:${status}:${elsewhere.url}${path}`]);
      const r = await ask("Name a prime above 100.", options);
      const attempts = r.reply?.attempts ?? [];
      assert.match(attempts[0]?.error ?? r.error, /answered with a redirect.*refused: a key never follows one/,
        `${provider} ${status}`);
      assert.equal(r.events.filter((e) => e.type === "calling" && e.model === decision.choice.model).length, 1,
        `${provider} ${status}: not retried`);
      assert.deepEqual(elsewhere.calls.slice(before).filter((c) => c.method !== "GET"), [],
        `${provider} ${status}: the redirect was followed`);
    }
  }
});

test("a key echoed in a provider's error is masked", async () => {
  const options = { budget: 5, providers: ["anthropic"] };
  const decision = await route("Name a prime above 200.", options);
  emulators.anthropic.script(await apiModel(decision), ["echo-key", "echo-key", "echo-key"]);
  const r = await ask("Name a prime above 200.", options);
  const words = JSON.stringify(r);
  assert.match(words, /unknown model for key <redacted>/);
  assert.ok(!words.includes(KEYS.anthropic), "the key was shown");
});

test("thinking tokens count once in every format, and a stream past its limit is cut at its worst case", async () => {
  for (const provider of ["openai", "anthropic", "google"]) {
    const options = { budget: 5, providers: [provider] };
    const decision = await route("Is 91 prime?", options);
    const model = await apiModel(decision);
    const plain = await ask("Is 91 prime?", options, { maxTokens: 60_000 });
    emulators[provider].script(model, ["think:50000"]);
    const thought = await ask("Is 91 prime?", options, { maxTokens: 60_000 });
    assert.ok(thought.reply, thought.error);
    assert.equal(thought.reply.answer.usage.outputTokens, plain.reply.answer.usage.outputTokens + 50_000, provider);
    emulators[provider].script(model, ["overlong"]);
    const cap = 0.05;
    const over = await ask("Is 91 prime?", options, { maxTokens: 496, maxCost: cap });
    assert.ok(over.isError, provider);
    assert.match(over.error, /past the answer limit of \d+ tokens/, provider);
    assert.ok(over.text.length <= 496 * 64 + 4096, `${provider}: ${over.text.length} bytes shown`);
  }
});

test("the router prices the pool for its date (UTC), scheduled changes included, and setDate moves it", async () => {
  const scheduled = (await page.evaluate(() => window.router.pool().models)).filter((m) => m.prices?.length);
  assert.ok(scheduled.length > 0, "the default pool schedules a price change");
  const today = new Date().toISOString().slice(0, 10);
  assert.equal(await page.evaluate(() => window.router.date()), today);
  const { id, prices: [change] } = scheduled[0];
  const priced = (day) => page.evaluate(({ day, id }) => {
    window.router.setDate(day);
    const m = window.router.pool().models.find((x) => x.id === id);
    return [m.priceIn, m.priceOut];
  }, { day, id });
  const before = new Date(Date.parse(change.from) - 86_400_000).toISOString().slice(0, 10);
  assert.notDeepEqual(await priced(before), [change.in, change.out], `before ${change.from}`);
  assert.deepEqual(await priced(change.from), [change.in, change.out]);
  const bad = await page.evaluate(() => { try { window.router.setDate("1 Dec"); return "accepted"; } catch (e) { return e.message; } });
  assert.match(bad, /write it as YYYY-MM-DD/);
  assert.equal(await page.evaluate(() => window.router.date()), change.from, "a refused date changes nothing");
  await priced(today);
});

// The npm package as developers meet it: the packed tarball installed into fresh projects (a
// Vite 8 app built with `vite build`, a plain static page, a Worker, Node 20, a --strict
// TypeScript consumer), each routing a prompt and streaming an answer from the emulator.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { start } from "../../scripts/emulator.mjs";
import { cargoVersion, pack, SHIPPED } from "../../scripts/package.mjs";
import { serve } from "../../scripts/serve.mjs";
import { launch } from "./chromium.mjs";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const PROMPT = "Prove that the square root of 2 is irrational.";
let tarball, emulator, browser, project;

/** A fresh project with the tarball installed (no registry needed: it has no dependencies). */
function install(dir) {
  writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--no-package-lock", tarball.file],
    { cwd: dir, stdio: "pipe", timeout: 60_000 });
}

/** Two labelled models on the emulator, and a key for its origin only. */
function config() {
  const model = (id, provider, priceIn, priceOut) => ({ id, provider, apiModel: id, baseUrl: `${emulator.url}/v1`,
    priceIn, priceOut, contextWindow: 128000, latencyMs: 4000 });
  return {
    pool: { models: [model("gpt-4o-mini-2024-07-18", "openai", 0.15, 0.6),
      model("claude-3-5-sonnet-20241022", "anthropic", 3, 15)] },
    keys: { [emulator.url]: "emulator" },
  };
}

before(async () => {
  tarball = pack();
  emulator = await start({ port: 0 });
  browser = await launch();
  project = mkdtempSync(path.join(tmpdir(), "routoo-consumer-"));
  install(project);
  writeFileSync(path.join(project, "config.js"), `export const { pool, keys } = ${JSON.stringify(config())};\n`);
});

after(async () => {
  await browser?.close();
  await emulator?.close();
  if (project) rmSync(project, { recursive: true, force: true });
});

test("the tarball holds the package's files and nothing else, with its licence and README", () => {
  console.log(`# tarball ${path.basename(tarball.file)}: ${(tarball.size / 1e6).toFixed(2)} MB packed, ` +
    `${(tarball.unpacked / 1e6).toFixed(2)} MB unpacked, ${tarball.files.length} files`);
  assert.deepEqual(tarball.files.map((f) => f.path).sort(), [...SHIPPED, "package.json"].sort());
  const pkg = JSON.parse(readFileSync(path.join(project, "node_modules/routoo/package.json"), "utf8"));
  assert.equal(pkg.version, cargoVersion());
  assert.equal(pkg.license, "Apache-2.0");
  assert.equal(pkg.exports["."].types, "./index.d.ts");
  assert.ok(pkg.description && pkg.repository && pkg.keywords.length && pkg.sideEffects, "publishable metadata");
  assert.match(readFileSync(path.join(project, "node_modules/routoo/LICENSE"), "utf8"), /Apache License\s+Version 2\.0/);
  const readme = readFileSync(path.join(project, "node_modules/routoo/README.md"), "utf8");
  for (const part of ["npm install routoo", "loadRouter", "RouterWorker", "Content-Security-Policy"]) {
    assert.ok(readme.includes(part), `the README covers ${part}`);
  }
});

test("Node 20: loadRouter reads the package's own files, routes, and streams an answer", async () => {
  writeFileSync(path.join(project, "node.mjs"), `
import { loadRouter } from "routoo";
import { pool, keys } from "./config.js";
const t0 = performance.now();
let progress = 0;
const router = await loadRouter({ pool, onProgress: ({ loaded }) => { progress = loaded; } });
const choice = router.route(${JSON.stringify(PROMPT)}, { budget: 1 }).choice.model;
const firstRoute = performance.now() - t0;
let text = "";
const reply = await router.ask(${JSON.stringify(PROMPT)}, { budget: 1 }, { keys, onText: (t) => { text += t; } });
const shipped = await loadRouter();
const today = shipped.pool().models.every((m) => !m.historical);
console.log(JSON.stringify({ firstRoute, progress, choice, text, model: reply.model, today }));
`);
  // Not execFileSync: the emulator answering it runs in this process.
  const run = async () => JSON.parse((await promisify(execFile)("node", ["node.mjs"],
    { cwd: project, encoding: "utf8", timeout: 120_000 })).stdout);
  const cold = await run();
  const warm = await run();
  console.log(`# Node: first route ${cold.firstRoute.toFixed(0)} ms cold, ${warm.firstRoute.toFixed(0)} ms warm`);
  assert.ok(cold.progress > 4e6, `progress counted the files' bytes (${cold.progress})`);
  assert.ok(["gpt-4o-mini-2024-07-18", "claude-3-5-sonnet-20241022"].includes(cold.choice));
  assert.equal(cold.model, cold.choice);
  assert.match(cold.text, /^Emulated answer [0-9a-f]{8} to: "Prove that the square root/);
  assert.equal(cold.today, true, "without a pool, only models served today");
});

test("Node 20: loadRouter loads a build from a listing, and refuses a listing it cannot use", async () => {
  writeFileSync(path.join(project, "listing.mjs"), `
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { loadRouter, LoadError } from "routoo";
const base = new URL("./node_modules/routoo/", import.meta.url);
const router = ["routoo.js", "routoo_bg.wasm", "models/predictor.json", "models/encoder.onnx",
  "models/tokenizer.json", "models/neighbours.bin"];
const files = Object.fromEntries(router.map((name) => {
  const bytes = readFileSync(new URL(name, base));
  return [name, { bytes: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex") }];
}));
const loaded = await loadRouter({ listing: { files, router }, baseUrl: base, historical: true });
const choice = loaded.route(${JSON.stringify(PROMPT)}, { budget: 1 }).choice.model;
const digest = "0".repeat(64);
const refused = [];
for (const listing of [
  { files: { "../routoo.js": { bytes: 1, sha256: digest } }, router: ["../routoo.js"] },
  { files: { "routoo.js": { bytes: 1, sha256: "not hex" } }, router: ["routoo.js"] },
  { files: { "routoo.js": { bytes: 1, sha256: digest } }, router: ["routoo.js", "unlisted.wasm"] },
  { files: { ...files, "routoo.js": { ...files["routoo.js"], sha256: digest } }, router },
]) {
  try {
    await loadRouter({ listing, baseUrl: base });
    refused.push(null);
  } catch (e) {
    refused.push({ load: e instanceof LoadError, kind: e.kind, message: e.message });
  }
}
console.log(JSON.stringify({ choice, models: loaded.models().length, refused }));
`);
  const { stdout } = await promisify(execFile)("node", ["listing.mjs"], { cwd: project, encoding: "utf8", timeout: 120_000 });
  const { choice, models, refused } = JSON.parse(stdout);
  assert.ok(models > 10 && typeof choice === "string", "the listed build routes");
  assert.deepEqual(refused.map((r) => r && [r.load, r.kind]), Array(4).fill([true, "checksum"]));
  assert.match(refused[0].message, /"\.\.\/routoo\.js" is not a relative path/);
  assert.match(refused[1].message, /routoo\.js has no sha256/);
  assert.match(refused[2].message, /router file "unlisted\.wasm" is not among its files/);
  assert.match(refused[3].message, /routoo\.js failed its checksum/);
});

/** Loads `page` until it reports; resolves to its result and the ms it took. */
async function runPage(page, url) {
  const errors = [];
  const onError = (e) => errors.push(String(e));
  page.on("pageerror", onError);
  await page.goto(url);
  const handle = await page.waitForFunction(() => window.__result ?? window.__error, null, { timeout: 120_000 });
  page.off("pageerror", onError);
  const result = await handle.jsonValue();
  assert.equal(typeof result, "object", `the page failed: ${result} ${errors.join("; ")}`);
  assert.deepEqual(errors, []);
  return result;
}

const CONSUMER_PAGE = (importFrom, mode) => `<!doctype html>
<meta charset="utf-8"><title>routoo consumer</title>
<script type="module">
import { loadRouter, RouterWorker } from "${importFrom}";
import { pool, keys } from "./config.js";
try {
  const t0 = performance.now();
  let progress = 0;
  const onProgress = ({ loaded }) => { progress = loaded; };
  const router = ${mode === "worker" ? "await RouterWorker.load({ pool, onProgress })" : "await loadRouter({ pool, onProgress })"};
  const choice = (await router.route(${JSON.stringify(PROMPT)}, { budget: 1 })).choice.model;
  const firstRoute = performance.now() - t0;
  let text = "";
  let pieces = 0;
  const reply = await router.ask(${JSON.stringify(PROMPT)}, { budget: 1 },
    { keys, onText: (t) => { text += t; pieces++; } });
  // The OpenAI SDK's fetch, called as the SDK calls it (the worker's stays on this side).
  const served = await router.fetch({ keys, budget: 1 })("https://api.openai.com/v1/chat/completions", {
    method: "POST", headers: { authorization: "Bearer routoo", "content-type": "application/json" },
    body: JSON.stringify({ model: "routoo/auto", stream: true, messages: [{ role: "user", content: ${JSON.stringify(PROMPT)} }] }) });
  const sse = await served.text();
  const fetched = { status: served.status, model: served.headers.get("x-routoo-model"),
    type: served.headers.get("content-type"), events: sse.split("\\n\\n").filter(Boolean).length,
    done: sse.trimEnd().endsWith("data: [DONE]") };
  window.__result = { firstRoute, progress, choice, text, pieces, model: reply.model, fetched };
} catch (e) {
  window.__error = e.message;
}
</script>`;

for (const mode of ["main", "worker"]) {
  const name = mode === "worker" ? "a Worker (RouterWorker)" : "a plain static page";
  test(`${name}: routes and streams, and loads warm from Cache Storage`, async () => {
    const file = `${mode}.html`;
    writeFileSync(path.join(project, file), CONSUMER_PAGE("./node_modules/routoo/index.js", mode));
    const site = await serve(0, project, { policy: false });
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      const cold = await runPage(page, site.url + file);
      const before = site.sent();
      const warm = await runPage(page, site.url + file);
      const warmBytes = site.sent() - before;
      console.log(`# ${name}: first route ${cold.firstRoute.toFixed(0)} ms cold, ${warm.firstRoute.toFixed(0)} ms warm ` +
        `(${(warmBytes / 1e3).toFixed(0)} kB sent warm)`);
      assert.ok(cold.progress > 4e6);
      assert.equal(cold.model, cold.choice);
      assert.match(cold.text, /^Emulated answer [0-9a-f]{8} to: "Prove that the square root/);
      assert.ok(cold.pieces > 1, "the answer streamed in pieces");
      assert.deepEqual({ ...cold.fetched, events: cold.fetched.events > 3 },
        { status: 200, model: cold.choice, type: "text/event-stream; charset=utf-8", events: true, done: true });
      assert.ok(warmBytes < 1e6, `a warm load read the bundle from Cache Storage (${warmBytes} bytes sent)`);
    } finally {
      await context.close();
      site.server.close();
    }
  });
}

test("a Vite 8 app runs the README's quick start, built with vite build and served from dist/", async () => {
  const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
  const quick = readme.match(/<!-- quick start:[^>]*-->\n```js\n([\s\S]*?)```/)?.[1];
  assert.ok(quick, "the README marks its quick start");
  // The README's lines, with the emulator's pool and key in place of a real provider's.
  const main = 'import { pool, keys } from "./config.js";\n' + quick
    .replace("loadRouter({ ", "loadRouter({ pool, ")
    .replace(/\{ keys: \{[^}]*\}, /, "{ keys, ");
  assert.notEqual(main, quick);
  writeFileSync(path.join(project, "main.js"), main);
  writeFileSync(path.join(project, "index.html"),
    '<!doctype html>\n<meta charset="utf-8"><title>vite consumer</title>\n<script type="module" src="./main.js"></script>\n');
  const vite = path.join(ROOT, "node_modules", ".bin", "vite");
  execFileSync(vite, ["build", "--logLevel", "warn"], { cwd: project, stdio: "pipe" });
  const site = await serve(0, path.join(project, "dist"), { policy: false });
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const logs = [];
    const errors = [];
    page.on("console", (m) => logs.push(m.text()));
    page.on("pageerror", (e) => errors.push(String(e)));
    const answered = async () => {
      const t0 = Date.now();
      await page.goto(site.url);
      await page.waitForFunction(() => /Emulated answer/.test(document.body.textContent), null, { timeout: 120_000 });
      return Date.now() - t0;
    };
    const cold = await answered();
    const before = site.sent();
    const warm = await answered();
    console.log(`# Vite app: answer streamed ${cold} ms after navigation cold, ${warm} ms warm ` +
      `(${((site.sent() - before) / 1e3).toFixed(0)} kB sent warm)`);
    assert.ok(site.sent() - before < 1e6, "a warm load read the files from Cache Storage");
    const chosen = logs.find((l) => /^(gpt-4o-mini|claude-3-5-sonnet)/.test(l));
    assert.ok(chosen, `the route's choice was logged: ${logs.join(" | ")}`);
    assert.ok(logs.some((l) => /^\d+ of \d+ bytes$/.test(l)), "progress was reported");
    assert.match(await page.textContent("body"), /Emulated answer [0-9a-f]{8} to: "Prove that the square root/);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
    site.server.close();
  }
});

/** tsc --strict over `text` as a file of the consumer project: its errors, or "". */
function tsc(text, file = "consumer.ts", { skipLibCheck = false } = {}) {
  writeFileSync(path.join(project, file), text);
  try {
    execFileSync(path.join(ROOT, "node_modules", ".bin", "tsc"), ["--noEmit", "--strict", "--target", "es2022",
      "--module", "esnext", "--moduleResolution", "bundler", "--lib", "es2022,esnext.disposable,dom",
      "--skipLibCheck", String(skipLibCheck), file], { cwd: project, encoding: "utf8", stdio: "pipe" });
    return "";
  } catch (e) {
    return e.stdout || e.message;
  }
}

/** `main` as `<name>.html` of the consumer project, built by Vite into its own folder and served. */
function viteSite(name, main) {
  writeFileSync(path.join(project, `${name}.js`), main);
  writeFileSync(path.join(project, `${name}.html`),
    `<!doctype html>\n<meta charset="utf-8"><title>${name} consumer</title>\n<script type="module" src="./${name}.js"></script>\n`);
  const vite = path.join(ROOT, "node_modules", ".bin", "vite");
  writeFileSync(path.join(project, `vite.${name}.config.js`),
    `export default { build: { rollupOptions: { input: ["${name}.html"] } } };\n`);
  execFileSync(vite, ["build", "--logLevel", "warn", "--config", `vite.${name}.config.js`, "--outDir", `dist-${name}`],
    { cwd: project, stdio: "pipe" });
  return serve(0, path.join(project, `dist-${name}`), { policy: false });
}

test("a Vite 8 app runs the README's OpenAI SDK quick start: the real openai package, streamed through router.fetch", async () => {
  const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
  const quick = readme.match(/<!-- quick start \(OpenAI SDK\):[^>]*-->\n```js\n([\s\S]*?)```/)?.[1];
  assert.ok(quick, "the README marks its OpenAI SDK quick start");
  // The SDK at the version the repository pins, from the registry.
  const version = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")).devDependencies.openai;
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--no-package-lock", `openai@${version}`],
    { cwd: project, stdio: "pipe", timeout: 120_000 });
  const main = 'import { pool, keys } from "./config.js";\n' + quick
    .replace("loadRouter()", "loadRouter({ pool })")
    .replace(/keys: \{[^}]*\}/, "keys");
  assert.ok(!/sk-…/.test(main), "the README's keys were replaced");
  const site = await viteSite("openai", main);
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const logs = [];
    const errors = [];
    const sent = [];
    page.on("console", (m) => logs.push(m.text()));
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("request", async (r) => sent.push({ url: r.url(), headers: await r.allHeaders() }));
    await page.goto(`${site.url}openai.html`);
    await page.waitForFunction(() => /Emulated answer/.test(document.body.textContent), null, { timeout: 120_000 });
    assert.match(await page.textContent("body"), /Emulated answer [0-9a-f]{8} to: "Prove that the square root/);
    const routed = logs.find((l) => /^(gpt-4o-mini|claude-3-5-sonnet)/.test(l));
    assert.ok(routed, `the route's model and why were logged: ${logs.join(" | ")}`);
    assert.match(routed, /^\S+ \S+ .*(budget|quality)/);
    assert.deepEqual(errors, []);
    // On the wire: the provider calls went to the emulator with its key alone, and nothing
    // went to OpenAI's own host or carried the SDK's placeholder key or headers.
    const calls = sent.filter((r) => r.url.startsWith(emulator.url));
    assert.ok(calls.some((r) => /\/v1\/(chat\/completions|messages)$/.test(new URL(r.url).pathname)), "a provider was called");
    assert.ok(!sent.some((r) => /openai\.com/.test(r.url)), "nothing went to api.openai.com");
    for (const r of sent) {
      const headers = Object.entries(r.headers);
      assert.ok(!headers.some(([k]) => k.startsWith("x-stainless")), `${r.url} carried x-stainless headers`);
      assert.ok(!headers.some(([, v]) => /Bearer routoo\b/.test(v)), `${r.url} carried the SDK's placeholder key`);
    }
  } finally {
    await context.close();
    site.server.close();
  }
});

test("a Vite 8 app runs the README's AI SDK quick start: the real ai package streaming through routoo/ai-sdk", async () => {
  const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
  const quick = readme.match(/<!-- quick start \(AI SDK\):[^>]*-->\n```js\n([\s\S]*?)```/)?.[1];
  assert.ok(quick, "the README marks its AI SDK quick start");
  // The SDK at the versions the repository pins, from the registry.
  const pinned = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")).devDependencies;
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--no-package-lock", `ai@${pinned.ai}`, `zod@${pinned.zod}`],
    { cwd: project, stdio: "pipe", timeout: 120_000 });
  const main = 'import { pool, keys } from "./config.js";\n' + quick
    .replace(/createRoutoo\(\{ keys: \{[^}]*\} \}\)/, "createRoutoo({ keys, pool })");
  assert.notEqual(main.indexOf("createRoutoo({ keys, pool })"), -1, "the README's keys were replaced");
  const site = await viteSite("ai-sdk", main);
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const logs = [];
    const errors = [];
    page.on("console", (m) => logs.push(m.text()));
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(`${site.url}ai-sdk.html`);
    await page.waitForFunction(() => /Emulated answer/.test(document.body.textContent), null, { timeout: 120_000 });
    const logged = await (async () => {
      for (let i = 0; i < 100 && !logs.some((l) => /^(gpt-4o-mini|claude-3-5-sonnet)/.test(l)); i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      return logs.find((l) => /^(gpt-4o-mini|claude-3-5-sonnet)/.test(l));
    })();
    assert.ok(logged, `the route and usage were logged: ${logs.join(" | ")}`);
    assert.match(logged, /^(\S+) \1 .* \d+$/);
    assert.match(await page.textContent("body"), /Emulated answer [0-9a-f]{8} to: "Prove that the square root/);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
    site.server.close();
  }
  // The provider's types meet the AI SDK's own (the ai package's declarations are its to
  // check: skipLibCheck), and a misspelt policy field does not compile.
  const typed = `import { generateText, streamText } from "ai";
import { createRoutoo } from "routoo/ai-sdk";
const routoo = await createRoutoo({ keys: { openai: "sk" }, policy: { budget: 1 } });
const streamed = streamText({ model: routoo("auto", { minQuality: 0.5 }), prompt: "Hi" });
const { text } = await generateText({ model: routoo("gpt-6-luna"), prompt: "Hi", providerOptions: { routoo: { maxCost: 0.01 } } });
console.log(streamed, text.length);
`;
  assert.equal(tsc(typed, "ai-consumer.ts", { skipLibCheck: true }), "");
  assert.match(tsc(typed.replace("minQuality: 0.5", "minQualty: 0.5"), "ai-consumer.ts", { skipLibCheck: true }), /minQualty/);
});

test("a Vite 8 app in Chromium runs both SDKs against three providers: text, tools, a schema, fallback, abort, a cap, keys on their own origins", async () => {
  // The SDKs are in the project already (the quick-start tests installed them).
  const keyOf = { openai: "sk-oa-emulated-1", anthropic: "sk-an-emulated-2", gemini: "AIza-ge-emulated-3" };
  const emu = { openai: await start({ port: 0 }), anthropic: await start({ port: 0 }), gemini: await start({ port: 0 }) };
  try {
    const model = (id, provider, api, price, base) => ({ id, provider, apiModel: api, baseUrl: emu[provider].url + base,
      priceIn: price, priceOut: price, contextWindow: 128000, latencyMs: 4000, uncalibrated: true,
      supports: ["tools", "structuredOutput"] });
    const pool = { models: [model("oa-small", "openai", "oa-small", 0.2, "/v1"),
      model("an-mid", "anthropic", "an-mid", 1, "/v1"), model("ge-big", "gemini", "ge-big", 3, "/v1beta"),
      model("flaky", "openai", "always-500", 9, "/v1"), model("stalled", "anthropic", "stall-forever", 0.1, "/v1")] };
    const keys = Object.fromEntries(Object.entries(emu).map(([p, e]) => [e.url, keyOf[p]]));
    writeFileSync(path.join(project, "scenario.config.js"), `export const pool = ${JSON.stringify(pool)};
export const keys = ${JSON.stringify(keys)};\n`);
    const site = await viteSite("scenario", `import OpenAI from "openai";
import { generateText, jsonSchema, stepCountIs, streamText, tool } from "ai";
import { loadRouter } from "routoo";
import { createRoutoo } from "routoo/ai-sdk";
import { pool, keys } from "./scenario.config.js";
const messages = [{ role: "user", content: "Which planet is largest?" }];
try {
  const router = await loadRouter({ pool });
  const openai = new OpenAI({ apiKey: "sk-sdk-placeholder-91", dangerouslyAllowBrowser: true,
    fetch: router.fetch({ keys, maxTokens: 64 }) });
  const routoo = await createRoutoo({ router, keys, maxTokens: 64 });
  const out = { formats: {} };
  for (const id of ["oa-small", "an-mid", "ge-big"]) {
    const stream = await openai.chat.completions.create({ model: "routoo/" + id, stream: true, messages });
    let text = "";
    for await (const c of stream) text += c.choices[0]?.delta?.content ?? "";
    const asked = [];
    const lookup = tool({ inputSchema: jsonSchema({ type: "object", properties: { query: { type: "string" } } }),
      execute: async ({ query }) => { asked.push(query); return { planet: "Jupiter" }; } });
    const withTool = await generateText({ model: routoo(id), messages, tools: { lookup }, stopWhen: stepCountIs(3) });
    const json = await openai.chat.completions.create({ model: "routoo/" + id, messages,
      response_format: { type: "json_schema", json_schema: { name: "p", schema: { type: "object",
        properties: { planet: { type: "string" } } } } } });
    out.formats[id] = { text, tool: withTool.text, asked, json: JSON.parse(json.choices[0].message.content) };
  }
  const fallback = streamText({ model: routoo("auto", { models: ["flaky", "oa-small"] }), messages });
  out.fallback = { text: await fallback.text, route: (await fallback.providerMetadata).routoo };
  const controller = new AbortController();
  const stalled = streamText({ model: routoo("stalled"), messages, abortSignal: controller.signal });
  setTimeout(() => controller.abort(), 300);
  const t0 = performance.now();
  let pieces = 0;
  try { for await (const _ of stalled.textStream) pieces++; } catch (e) { out.abortError = e.name; }
  out.abort = { ms: performance.now() - t0, pieces };
  const capped = await openai.chat.completions.create({ model: "routoo/auto", messages,
    routoo: { maxCost: 1e-9 } }).catch((e) => ({ status: e.status, message: e.message }));
  out.cap = capped;
  window.__result = out;
} catch (e) {
  window.__error = String(e?.stack ?? e);
}
`);
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      const errors = [];
      page.on("pageerror", (e) => errors.push(String(e)));
      await page.goto(`${site.url}scenario.html`);
      const handle = await page.waitForFunction(() => window.__result ?? window.__error, null, { timeout: 180_000 });
      const out = await handle.jsonValue();
      assert.equal(typeof out, "object", `the page failed: ${out}`);
      for (const [id, r] of Object.entries(out.formats)) {
        assert.match(r.text, /^Emulated answer [0-9a-f]{8} to: "Which planet is largest\?"/, id);
        assert.deepEqual(r.asked, ["Which planet is largest?"], id);
        assert.match(r.tool, /^The tool said: .*Jupiter/, id);
        assert.equal(typeof r.json.planet, "string", id);
      }
      assert.equal(out.fallback.route.answeredBy, "oa-small");
      assert.ok(out.fallback.route.attempts.length >= 1 && out.fallback.route.attempts.every((a) => a.model === "flaky"));
      assert.match(out.fallback.text, /Emulated answer/);
      assert.ok(out.abort.ms < 10_000 && out.abort.pieces === 0, JSON.stringify(out.abort));
      assert.equal(out.cap.status, 502);
      assert.match(out.cap.message, /every model failed/);
      assert.deepEqual(errors, []);
      // On the wire: each provider got its own key and nothing else; the SDK's did not leave.
      const header = { openai: "authorization", anthropic: "x-api-key", gemini: "x-goog-api-key" };
      for (const [provider, e] of Object.entries(emu)) {
        const posts = e.calls.filter((c) => c.method === "POST");
        assert.ok(posts.length > 0, `${provider} was called`);
        for (const c of e.calls) {
          const values = Object.values(c.headers).join(" ");
          assert.ok(!values.includes("sk-sdk-placeholder-91"), `${provider}: the SDK's key arrived`);
          assert.ok(!Object.keys(c.headers).some((k) => k.startsWith("x-stainless")), `${provider}: x-stainless`);
          for (const [other, key] of Object.entries(keyOf)) {
            if (other !== provider) assert.ok(!values.includes(key), `${other}'s key reached ${provider}`);
          }
        }
        for (const c of posts) assert.ok(String(c.headers[header[provider]]).includes(keyOf[provider]), provider);
      }
    } finally {
      await context.close();
      site.server.close();
    }
  } finally {
    for (const e of Object.values(emu)) await e.close();
  }
});

test("a --strict TypeScript consumer compiles against the tarball's types; a misspelt option does not", () => {
  const source = `import { loadRouter, RouterWorker, type LoadOptions } from "routoo";
const options: LoadOptions = { onProgress: ({ loaded, total }) => console.log(loaded / total), cache: false };
const router = await loadRouter(options);
const reply = await router.ask("Hi", { budget: 1 }, { keys: { openai: "sk" }, maxTokens: 64 });
const n: number = reply.spent;
const viaFetch: typeof fetch = router.fetch({ keys: { openai: "sk" }, budget: 1, minQuality: 0.5, maxCost: 0.01 });
const inWorker = await RouterWorker.load({ historical: true });
const viaWorker: typeof fetch = inWorker.fetch({ models: ["gpt-6-luna"] });
const models: string[] = await inWorker.models();
inWorker.terminate();
console.log(n, models.length, viaFetch, viaWorker);
`;
  assert.equal(tsc(source), "");
  assert.match(tsc(source.replace("onProgress:", "onProgres:")), /onProgres/);
  assert.match(tsc(source.replace("minQuality: 0.5", "minQualty: 0.5")), /minQualty/);
});

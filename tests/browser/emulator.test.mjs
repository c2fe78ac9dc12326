// The provider emulator over real HTTP on loopback: three wire formats, CORS, SSE, faults.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { start } from "../../scripts/emulator.mjs";

// A table in the shared data's format, so the test needs nothing outside the repository.
const DATA = mkdtempSync(`${tmpdir()}/routoo-emulator-`);
const RECORDED_PROMPT = "A robe takes 2 bolts of blue fiber and half that much white fiber.\nHow many bolts?";
const RECORDED_ANSWER = "It takes 2 + 1 = 3 bolts, \"in total\".\n#### 3";
writeFileSync(`${DATA}/gsm8k.csv`,
  "id,benchmark,subject,prompt,gpt-4-1106-preview,gpt-4-1106-preview|cost,gpt-4-1106-preview|response\n" +
  `gsm8k.0,gsm8k,,"${RECORDED_PROMPT}",1,0.001,"${RECORDED_ANSWER.replaceAll('"', '""')}"\n`);

let emulator;
before(async () => { emulator = await start({ dataDir: DATA }); });
after(async () => { await emulator?.close(); rmSync(DATA, { recursive: true, force: true }); });

const KEY = "emulator-test-key-123";
const requests = {
  openai: (model, prompt, stream) => ({
    path: "/v1/chat/completions",
    headers: { authorization: `Bearer ${KEY}` },
    body: { model, stream, messages: [{ role: "user", content: prompt }] },
  }),
  anthropic: (model, prompt, stream) => ({
    path: "/v1/messages",
    headers: { "x-api-key": KEY, "anthropic-version": "2023-06-01" },
    body: { model, stream, max_tokens: 64, messages: [{ role: "user", content: prompt }] },
  }),
  gemini: (model, prompt, stream) => ({
    path: `/v1beta/models/${model}:${stream ? "streamGenerateContent?alt=sse" : "generateContent"}`,
    headers: { "x-goog-api-key": KEY },
    body: { contents: [{ role: "user", parts: [{ text: prompt }] }] },
  }),
};

async function call(format, model, prompt, stream, init = {}) {
  const r = requests[format](model, prompt, stream);
  return fetch(emulator.url + r.path, {
    method: "POST",
    headers: { "content-type": "application/json", ...r.headers },
    body: JSON.stringify(r.body),
    ...init,
  });
}

/** Text of a streamed answer, read event by event as each format defines it. */
function textOf(format, sse) {
  const events = sse.split("\n\n").map((block) => block.split("\n")
    .filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n")).filter(Boolean);
  assert.ok(events.length > 1, "more than one event");
  let text = "";
  for (const data of events) {
    if (data === "[DONE]") continue;
    const v = JSON.parse(data);
    if (format === "openai") text += v.choices[0]?.delta?.content ?? "";
    if (format === "anthropic" && v.type === "content_block_delta") text += v.delta.text;
    if (format === "gemini") text += v.candidates[0].content.parts.map((p) => p.text).join("");
  }
  return text;
}

test("each format answers whole and streamed, the same text", async () => {
  for (const format of Object.keys(requests)) {
    const whole = await (await call(format, "m-1", "What is routing?", false)).json();
    const text = format === "openai" ? whole.choices[0].message.content
      : format === "anthropic" ? whole.content[0].text
        : whole.candidates[0].content.parts[0].text;
    assert.match(text, /Emulated answer [0-9a-f]{8} to: "What is routing\?"/);
    const res = await call(format, "m-1", "What is routing?", true);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/event-stream");
    assert.equal(textOf(format, await res.text()), text, format);
  }
});

test("recorded answers are replayed for known prompts", async () => {
  assert.equal(emulator.answers, 1);
  const res = await call("openai", "gpt-4-1106-preview", RECORDED_PROMPT, false);
  const body = await res.json();
  assert.equal(body.choices[0].message.content, RECORDED_ANSWER);
  assert.ok(body.usage.completion_tokens > 0);
  const streamed = await call("anthropic", "another-model", RECORDED_PROMPT, true);
  assert.equal(textOf("anthropic", await streamed.text()), RECORDED_ANSWER);
});

test("CORS preflight allows the providers' headers from any page", async () => {
  const res = await fetch(emulator.url + "/v1/messages", {
    method: "OPTIONS",
    headers: { origin: "http://127.0.0.1:8080", "access-control-request-method": "POST",
      "access-control-request-headers": "x-api-key,anthropic-dangerous-direct-browser-access" },
  });
  assert.equal(res.status, 204);
  assert.equal(res.headers.get("access-control-allow-origin"), "http://127.0.0.1:8080");
  assert.match(res.headers.get("access-control-allow-headers"), /anthropic-dangerous-direct-browser-access/);
  assert.match(res.headers.get("access-control-expose-headers"), /retry-after/);
});

test("scripted faults: 401, 429 with retry-after, 500, cut and stall", async () => {
  const bad = await call("anthropic", "m-2", "hi", false, {
    headers: { "content-type": "application/json", "x-api-key": "bad" } });
  assert.equal(bad.status, 401);
  assert.equal((await bad.json()).error.type, "authentication_error");

  emulator.script("m-3", ["429", "500", "ok"]);
  const limited = await call("gemini", "m-3", "hi", false);
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get("retry-after"), "1");
  assert.equal((await limited.json()).error.status, "RESOURCE_EXHAUSTED");
  assert.equal((await call("gemini", "m-3", "hi", false)).status, 500);
  assert.equal((await call("gemini", "m-3", "hi", false)).status, 200);

  const cut = await call("openai", "cut-model", "hi", true);
  await assert.rejects(cut.text(), "a cut stream fails mid-body");

  const abort = new AbortController();
  const stalled = await call("anthropic", "stall-model", "hi", true, { signal: abort.signal });
  assert.equal(stalled.status, 200);
  const reading = stalled.text();
  setTimeout(() => abort.abort(), 200);
  await assert.rejects(reading, /abort/i);
});

test("every call is logged with its headers, so tests can check where keys went", async () => {
  await call("openai", "m-4", "log me", false);
  const logged = emulator.calls.filter((c) => c.path === "/v1/chat/completions");
  assert.ok(logged.length > 0);
  assert.equal(logged.at(-1).headers.authorization, `Bearer ${KEY}`);
});

test("a port already taken fails start() at once, with the reason", async () => {
  const first = await start({ port: 0 });
  try {
    const port = Number(new URL(first.url).port);
    await assert.rejects(start({ port }), /EADDRINUSE/);
  } finally {
    await first.close();
  }
});

// The OpenAI SDK (the real `openai` package, pinned in package.json) over `router.fetch`, in
// Node: each of the three wire formats answers whole and streamed in OpenAI's shapes, the
// route comes back in headers, fallbacks and spend caps hold with the SDK's own retries
// counted, an abort stops the call, and neither the SDK's key nor its headers reach a provider.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { start } from "../../scripts/emulator.mjs";
import { emulatedModels } from "./sdk-pool.mjs";
import { loadRouter } from "../../pkg/index.js";

const PROMPT = "Name the largest planet of the solar system.";
const SDK_KEY = "sk-sdk-never-sent-7c1e";
let emulator, router, keys, pool;

before(async () => {
  emulator = await start({ port: 0 });
  pool = { models: emulatedModels(emulator.url) };
  keys = { [emulator.url]: "emulator-key" };
  router = await loadRouter({ pool, cache: false });
});

after(async () => {
  await emulator?.close();
});

/** A client whose every request goes through the router; the SDK's retries left at their default. */
const client = (options = {}) => new OpenAI({ apiKey: SDK_KEY, baseURL: "https://api.openai.invalid/v1",
  fetch: router.fetch({ keys, maxTokens: 64, ...options }) });

const posts = () => emulator.calls.filter((c) => c.method === "POST");

test("each wire format answers whole in OpenAI's shape, usage included, the route in headers and body", async () => {
  for (const m of pool.models) {
    const { data, response } = await client().chat.completions
      .create({ model: `routoo/${m.id}`, messages: [{ role: "user", content: PROMPT }] }).withResponse();
    assert.equal(data.object, "chat.completion");
    assert.equal(data.model, m.id);
    assert.match(data.choices[0].message.content, /Emulated answer/);
    assert.equal(data.choices[0].message.role, "assistant");
    assert.equal(data.choices[0].finish_reason, "stop");
    assert.ok(data.usage.prompt_tokens > 0 && data.usage.completion_tokens > 0, JSON.stringify(data.usage));
    assert.equal(data.usage.total_tokens, data.usage.prompt_tokens + data.usage.completion_tokens);
    assert.equal(response.headers.get("x-routoo-model"), m.id);
    assert.equal(response.headers.get("x-routoo-provider"), m.provider);
    assert.equal(data.routoo.answeredBy, m.id);
    assert.ok(data.routoo.spent > 0);
  }
});

test("each wire format streams OpenAI chunks: role first, the text in pieces, a finish reason, usage, [DONE]", async () => {
  for (const m of pool.models) {
    const stream = await client().chat.completions.create({ model: `routoo/${m.id}`, stream: true,
      stream_options: { include_usage: true }, messages: [{ role: "user", content: PROMPT }] });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const texts = chunks.flatMap((c) => c.choices.map((ch) => ch.delta?.content ?? "")).filter(Boolean);
    assert.ok(texts.length > 1, `${m.id}: the answer came in pieces (${texts.length})`);
    assert.match(texts.join(""), /^Emulated answer [0-9a-f]{8} to: /);
    assert.equal(chunks[0].choices[0].delta.role, "assistant");
    assert.ok(chunks.every((c) => c.object === "chat.completion.chunk" && c.id === chunks[0].id));
    assert.equal(chunks.at(-2).choices[0].finish_reason, "stop");
    const usage = chunks.at(-1);
    assert.deepEqual(usage.choices, []);
    assert.ok(usage.usage.completion_tokens > 0, `${m.id}: usage ${JSON.stringify(usage.usage)}`);
  }
});

test("routoo/auto routes under the fetch's policy, the body's routoo field overriding it, and says why", async () => {
  const { data, response } = await client({ budget: 1 }).chat.completions.create({
    model: "routoo/auto", messages: [{ role: "system", content: "Be brief." }, { role: "user", content: PROMPT }],
    temperature: 0.3,
  }).withResponse();
  const chosen = response.headers.get("x-routoo-model");
  assert.ok(pool.models.some((m) => m.id === chosen), chosen);
  const why = decodeURIComponent(response.headers.get("x-routoo-why"));
  assert.ok(why.startsWith(chosen), why);
  assert.equal(response.headers.get("x-routoo-ignored"), "temperature");
  assert.equal(data.routoo.ranked.length, 3);
  assert.equal(data.routoo.why, why);
  // The body's policy: only the Anthropic-format model may be chosen.
  const pinned = await client({ budget: 1 }).chat.completions.create({ model: "routoo/auto",
    messages: [{ role: "user", content: PROMPT }], routoo: { models: ["an-mid"] } });
  assert.equal(pinned.model, "an-mid");
  assert.deepEqual(pinned.routoo.excluded.map((e) => e.model).sort(), ["ge-big", "oa-small"]);
});

test("a 500 falls back down the ranking, and the SDK adds no retry of its own", async () => {
  const before = posts().length;
  emulator.script("ge-big", ["500", "500", "500", "500", "500", "500"]);
  const { data, response } = await client().chat.completions.create({ model: "routoo/auto",
    messages: [{ role: "user", content: PROMPT }] }).withResponse();
  emulator.script("ge-big", []);
  assert.equal(response.headers.get("x-routoo-model"), "ge-big", "no budget: the priciest is predicted best");
  assert.notEqual(data.model, "ge-big");
  assert.ok(data.routoo.attempts.length >= 1 && data.routoo.attempts.every((a) => a.model === "ge-big"));
  assert.equal(posts().length - before, data.routoo.attempts.length + 1, "one POST per attempt and one answer");
});

test("when every model fails the SDK gets one 502, and makes no more calls than routoo's own plan", async () => {
  for (const m of pool.models) emulator.script(m.id, Array(10).fill("500"));
  const before = posts().length;
  const error = await client().chat.completions
    .create({ model: "routoo/auto", messages: [{ role: "user", content: PROMPT }] }).catch((e) => e);
  const made = posts().length - before;
  for (const m of pool.models) emulator.script(m.id, []);
  assert.ok(error instanceof OpenAI.APIError, String(error));
  assert.equal(error.status, 502);
  assert.match(error.message, /every model failed/);
  // The same ask run directly: the plan's number of calls.
  for (const m of pool.models) emulator.script(m.id, Array(10).fill("500"));
  const direct = posts().length;
  await router.ask(PROMPT, {}, { keys, maxTokens: 64 }).catch(() => {});
  const plan = posts().length - direct;
  for (const m of pool.models) emulator.script(m.id, []);
  assert.equal(made, plan, `through the SDK ${made} calls, routoo's plan ${plan}`);
});

test("a spend cap too small for any call stops the request before anything is sent", async () => {
  const before = posts().length;
  const error = await client().chat.completions.create({ model: "routoo/auto",
    messages: [{ role: "user", content: PROMPT }], routoo: { maxCost: 1e-9 } }).catch((e) => e);
  assert.ok(error instanceof OpenAI.APIError, String(error));
  assert.equal(error.status, 502);
  assert.match(error.message, /cap|US\$/);
  assert.equal(posts().length, before, "no call went out");
  // The same policy field in ask's route options, and the tighter of it and ask's own cap.
  for (const [options, call] of [[{ maxCost: 1e-9 }, {}], [{ maxCost: 1 }, { maxCost: 1e-9 }]]) {
    const refused = await router.ask(PROMPT, options, { keys, maxTokens: 64, ...call }).catch((e) => e);
    assert.match(String(refused?.message), /every model failed/);
  }
  assert.equal(posts().length, before, "no call went out");
});

test("aborting stops a streamed answer: the SDK ends the stream, as it does for OpenAI itself", async () => {
  emulator.script("oa-small", ["trickle"]);
  const controller = new AbortController();
  const events = [];
  const stream = await client({ onEvent: (e) => events.push(e) }).chat.completions.create({
    model: "routoo/oa-small", stream: true, messages: [{ role: "user", content: PROMPT }] },
  { signal: controller.signal });
  setTimeout(() => controller.abort(), 300);
  const chunks = [];
  const t0 = Date.now();
  // The SDK swallows an abort inside a stream and ends it (its Stream does so for OpenAI too).
  for await (const chunk of stream) chunks.push(chunk);
  emulator.script("oa-small", []);
  assert.ok(Date.now() - t0 < 10_000, "the stream ended soon after the abort");
  assert.deepEqual(chunks, [], "the trickling model sent no text");
  assert.deepEqual(events.map((e) => e.type), ["calling"], "no retry or fallback after the abort");
  // A request aborted before it starts is refused at once.
  const error = await client().chat.completions.create({ model: "routoo/auto",
    messages: [{ role: "user", content: PROMPT }] }, { signal: AbortSignal.abort() }).catch((e) => e);
  assert.ok(error instanceof OpenAI.APIUserAbortError, String(error));
});

test("what the router cannot do, or a model it does not know, is a clear 4xx the SDK does not retry", async () => {
  const before = posts().length;
  const legacy = await client().chat.completions.create({ model: "routoo/auto",
    messages: [{ role: "user", content: PROMPT }],
    functions: [{ name: "f", parameters: { type: "object" } }] }).catch((e) => e);
  assert.equal(legacy.status, 400);
  assert.match(legacy.message, /functions/);
  const unknown = await client().chat.completions.create({ model: "gpt-4o",
    messages: [{ role: "user", content: PROMPT }] }).catch((e) => e);
  assert.equal(unknown.status, 404);
  assert.match(unknown.message, /routoo\/auto/);
  const below = await client().chat.completions.create({ model: "routoo/auto",
    messages: [{ role: "user", content: PROMPT }], routoo: { minQuality: 0.999 } }).catch((e) => e);
  assert.equal(below.status, 422);
  assert.match(below.message, /closest/);
  const typo = await client({ budgett: 1 }).chat.completions.create({ model: "routoo/auto",
    messages: [{ role: "user", content: PROMPT }] }).catch((e) => e);
  assert.equal(typo.status, 400);
  assert.match(typo.message, /budgett/);
  assert.equal(posts().length, before);
});

const TOOLS = [{ type: "function", function: { name: "lookup", description: "Looks things up",
  parameters: { type: "object", properties: { query: { type: "string" } } } } }];

/** The SDK's chunks folded into one message, tool calls included. */
async function folded(stream) {
  const message = { role: "assistant", content: "", tool_calls: [] };
  let finish = null;
  for await (const chunk of stream) {
    const choice = chunk.choices[0];
    if (!choice) continue;
    message.content += choice.delta.content ?? "";
    for (const t of choice.delta.tool_calls ?? []) {
      const call = message.tool_calls[t.index] ??= { id: t.id, type: "function", function: { name: "", arguments: "" } };
      call.function.name += t.function?.name ?? "";
      call.function.arguments += t.function?.arguments ?? "";
      if (t.extra_content) call.extra_content = t.extra_content;
    }
    finish = choice.finish_reason ?? finish;
  }
  return { message, finish };
}

test("a tool call and its result round trip through the SDK in each format, whole and streamed", async () => {
  for (const m of pool.models) {
    for (const stream of [false, true]) {
      const ask = async (messages) => {
        const body = { model: `routoo/${m.id}`, messages, tools: TOOLS, stream };
        if (!stream) {
          const answer = await client().chat.completions.create(body);
          return { message: answer.choices[0].message, finish: answer.choices[0].finish_reason };
        }
        return folded(await client().chat.completions.create(body));
      };
      const question = [{ role: "user", content: PROMPT }];
      const first = await ask(question);
      assert.equal(first.finish, "tool_calls", `${m.id} ${stream}`);
      const [call] = first.message.tool_calls;
      assert.equal(call.function.name, "lookup");
      assert.deepEqual(JSON.parse(call.function.arguments), { query: PROMPT.slice(0, 40) });
      // The assistant's message goes back as the SDK gave it (Gemini's signature included).
      const second = await ask([...question, first.message,
        { role: "tool", tool_call_id: call.id, content: JSON.stringify({ planet: "Jupiter" }) }]);
      assert.equal(second.finish, "stop", `${m.id} ${stream}`);
      assert.match(second.message.content, /^The tool said: .*Jupiter/, `${m.id} ${stream}`);
    }
  }
});

test("a JSON-schema answer in each format, and tools go only to models that take them", async () => {
  const schema = { type: "object", properties: { planet: { type: "string" }, moons: { type: "integer" } },
    required: ["planet", "moons"], additionalProperties: false };
  for (const m of pool.models) {
    const answer = await client().chat.completions.create({ model: `routoo/${m.id}`,
      messages: [{ role: "user", content: PROMPT }],
      response_format: { type: "json_schema", json_schema: { name: "planet", schema } } });
    const value = JSON.parse(answer.choices[0].message.content);
    assert.equal(value.moons, 42, m.id);
    assert.equal(typeof value.planet, "string");
  }
  // A pool entry without `supports` is left out of a request with tools, saying why.
  const plain = await loadRouter({ pool: { models: [...pool.models.slice(0, 2),
    { ...pool.models[2], supports: undefined }] }, cache: false });
  const sdk = new OpenAI({ apiKey: SDK_KEY, baseURL: "https://api.openai.invalid/v1", fetch: plain.fetch({ keys }) });
  const routed = await sdk.chat.completions.create({ model: "routoo/auto", tools: TOOLS,
    messages: [{ role: "user", content: PROMPT }] });
  const left = routed.routoo.excluded.find((e) => e.model === "ge-big");
  assert.match(left.reason, /tool calls/);
  assert.ok(routed.routoo.ranked.every((c) => c.model !== "ge-big"));
});

test("neither the SDK's apiKey nor its Authorization or x-stainless headers reach a provider", () => {
  assert.ok(posts().length > 10);
  for (const call of emulator.calls) {
    const headers = Object.entries(call.headers ?? {});
    assert.ok(!headers.some(([, v]) => String(v).includes(SDK_KEY)), `${call.path} carried the SDK's key`);
    assert.ok(!headers.some(([k]) => k.toLowerCase().startsWith("x-stainless")), `${call.path} carried x-stainless`);
  }
});

test("shown thinking comes back as reasoning_content, streamed and whole, in each format", async () => {
  for (const m of pool.models) {
    emulator.script(m.id, ["reason"]);
    const stream = await client().chat.completions.create({ model: `routoo/${m.id}`, stream: true,
      messages: [{ role: "user", content: PROMPT }] });
    let thought = "";
    let text = "";
    for await (const chunk of stream) {
      thought += chunk.choices[0]?.delta?.reasoning_content ?? "";
      text += chunk.choices[0]?.delta?.content ?? "";
    }
    assert.equal(thought, "Let me think it through first.", m.id);
    assert.match(text, /^Emulated answer/);
    emulator.script(m.id, ["reason"]);
    const whole = await client().chat.completions.create({ model: `routoo/${m.id}`,
      messages: [{ role: "user", content: PROMPT }] });
    assert.equal(whole.choices[0].message.reasoning_content, "Let me think it through first.", m.id);
  }
});

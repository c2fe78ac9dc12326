// The AI SDK (the real `ai` package, pinned in package.json) over `routoo/ai-sdk`, in Node:
// streamText and generateText in the three wire formats, the route in providerMetadata, a
// per-call policy, fallback, the SDK's retries counted, a spend cap, an abort, and what
// routoo cannot do yet refused by name.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { generateText, jsonSchema, Output, stepCountIs, streamText, tool } from "ai";
import { start } from "../../scripts/emulator.mjs";
import { emulatedModels } from "./sdk-pool.mjs";
import { createRoutoo, RoutooError } from "../../pkg/ai-sdk.js";

const PROMPT = "Name the largest planet of the solar system.";
let emulator, routoo, keys, pool;

before(async () => {
  emulator = await start({ port: 0 });
  pool = { models: emulatedModels(emulator.url) };
  keys = { [emulator.url]: "emulator-key" };
  routoo = await createRoutoo({ keys, pool, cache: false, maxTokens: 64 });
});

after(async () => {
  await emulator?.close();
});

const posts = () => emulator.calls.filter((c) => c.method === "POST");
const messages = [{ role: "user", content: PROMPT }];

test("streamText streams from each wire format, with usage and the route in providerMetadata", async () => {
  for (const m of pool.models) {
    const result = streamText({ model: routoo(m.id), messages });
    const pieces = [];
    for await (const piece of result.textStream) pieces.push(piece);
    assert.ok(pieces.length > 1, `${m.id}: the answer came in pieces`);
    assert.match(pieces.join(""), /^Emulated answer [0-9a-f]{8} to: /);
    const usage = await result.usage;
    assert.ok(usage.inputTokens > 0 && usage.outputTokens > 0, `${m.id}: ${JSON.stringify(usage)}`);
    assert.equal(await result.finishReason, "stop");
    const { routoo: route } = await result.providerMetadata;
    assert.equal(route.answeredBy, m.id);
    assert.equal(route.model, m.id);
    assert.equal((await result.response).headers["x-routoo-model"], m.id);
  }
});

test("generateText routes auto under the model's policy and says why; providerOptions.routoo overrides it", async () => {
  const result = await generateText({ model: routoo("auto", { budget: 1 }), system: "Be brief.", messages,
    temperature: 0.2 });
  assert.match(result.text, /Emulated answer/);
  const route = result.providerMetadata.routoo;
  assert.ok(route.why.startsWith(route.model), route.why);
  assert.equal(route.ranked.length, 3);
  assert.equal(result.response.modelId, route.answeredBy);
  assert.ok(result.warnings.some((w) => w.feature === "temperature"), JSON.stringify(result.warnings));
  assert.ok(result.usage.totalTokens > 0);
  const pinned = await generateText({ model: routoo("auto", { budget: 1 }), messages,
    providerOptions: { routoo: { models: ["an-mid"] } } });
  assert.equal(pinned.providerMetadata.routoo.answeredBy, "an-mid");
});

test("a 500 falls back down the ranking inside one AI SDK call", async () => {
  emulator.script("ge-big", Array(6).fill("500"));
  const result = streamText({ model: routoo("auto"), messages });
  const text = await result.text;
  emulator.script("ge-big", []);
  const route = (await result.providerMetadata).routoo;
  assert.equal(route.model, "ge-big", "no budget: the priciest is predicted best");
  assert.notEqual(route.answeredBy, "ge-big");
  assert.ok(route.attempts.length >= 1);
  assert.match(text, /Emulated answer/);
});

test("when every model fails, the AI SDK's own retries add no provider call", async () => {
  const plan = async (run) => {
    for (const m of pool.models) emulator.script(m.id, Array(10).fill("500"));
    const before = posts().length;
    const error = await run().catch((e) => e);
    for (const m of pool.models) emulator.script(m.id, []);
    return { made: posts().length - before, error };
  };
  const viaSdk = await plan(() => generateText({ model: routoo("auto"), messages }));
  const direct = await plan(() => routoo.router.ask(PROMPT, {}, { keys, maxTokens: 64 }));
  assert.match(String(viaSdk.error?.message), /every model failed/);
  assert.ok(direct.error instanceof Error);
  assert.equal(viaSdk.made, direct.made, `through the AI SDK ${viaSdk.made} calls, routoo's plan ${direct.made}`);
});

test("a spend cap in providerOptions stops the call before anything is sent", async () => {
  const before = posts().length;
  const error = await generateText({ model: routoo("auto"), messages,
    providerOptions: { routoo: { maxCost: 1e-9 } } }).catch((e) => e);
  assert.match(String(error?.message), /every model failed.*(cap|US\$)/);
  assert.equal(posts().length, before);
});

test("an abort ends a streamed call", async () => {
  emulator.script("oa-small", ["trickle"]);
  const controller = new AbortController();
  const result = streamText({ model: routoo("oa-small"), messages, abortSignal: controller.signal });
  setTimeout(() => controller.abort(), 300);
  const t0 = Date.now();
  const pieces = [];
  const error = await (async () => {
    for await (const piece of result.textStream) pieces.push(piece);
  })().catch((e) => e);
  emulator.script("oa-small", []);
  assert.ok(Date.now() - t0 < 10_000, "the stream ended soon after the abort");
  assert.deepEqual(pieces, []);
  assert.ok(error === undefined || error.name === "AbortError", String(error));
});

/** A tool the AI SDK runs itself; it records what it was asked. */
function lookup(asked) {
  return tool({ description: "Looks things up",
    inputSchema: jsonSchema({ type: "object", properties: { query: { type: "string" } } }),
    execute: async ({ query }) => {
      asked.push(query);
      return { planet: "Jupiter" };
    } });
}

test("a tool call, the SDK running the tool and the answer to its result, in each format, streamed and whole", async () => {
  for (const m of pool.models) {
    for (const run of ["generateText", "streamText"]) {
      const asked = [];
      const options = { model: routoo(m.id), messages, tools: { lookup: lookup(asked) }, stopWhen: stepCountIs(3) };
      let text, steps;
      if (run === "generateText") ({ text, steps } = await generateText(options));
      else {
        const result = streamText(options);
        text = await result.text;
        steps = await result.steps;
      }
      assert.deepEqual(asked, [PROMPT.slice(0, 40)], `${m.id} ${run}`);
      assert.equal(steps.length, 2, `${m.id} ${run}`);
      assert.equal(steps[0].finishReason, "tool-calls");
      assert.equal(steps[0].toolCalls[0].toolName, "lookup");
      assert.match(text, /^The tool said: .*Jupiter/, `${m.id} ${run}: ${text}`);
    }
  }
});

test("structured output follows the schema in each format", async () => {
  for (const m of pool.models) {
    const { output } = await generateText({ model: routoo(m.id), messages,
      output: Output.object({ schema: jsonSchema({ type: "object", properties: { planet: { type: "string" },
        moons: { type: "integer" } }, required: ["planet", "moons"] }) }) });
    assert.equal(output.moons, 42, m.id);
    assert.equal(typeof output.planet, "string");
  }
});

test("files and unknown models are refused by name, and nothing is sent", async () => {
  const before = posts().length;
  const file = await generateText({ model: routoo("auto"), messages: [{ role: "user", content: [
    { type: "text", text: PROMPT }, { type: "file", data: new Uint8Array([1, 2]), mediaType: "image/png" }] }] })
    .catch((e) => e);
  assert.match(String(file?.message), /file part/);
  const unknown = await generateText({ model: routoo("gpt-4o"), messages }).catch((e) => e);
  assert.match(String(unknown?.message), /routoo\/auto/);
  assert.equal(posts().length, before);
  assert.ok(new RoutooError("x") instanceof Error);
});

test("shown thinking streams as reasoning parts, apart from the text, in each format", async () => {
  for (const m of pool.models) {
    emulator.script(m.id, ["reason"]);
    const result = streamText({ model: routoo(m.id), messages });
    const parts = [];
    for await (const part of result.fullStream) parts.push(part.type);
    assert.equal(await result.reasoningText, "Let me think it through first.", m.id);
    assert.match(await result.text, /^Emulated answer/);
    assert.ok(parts.indexOf("reasoning-delta") < parts.indexOf("text-delta"), `${m.id}: ${parts.join(",")}`);
    emulator.script(m.id, ["reason"]);
    const whole = await generateText({ model: routoo(m.id), messages });
    assert.equal(whole.reasoningText, "Let me think it through first.", `${m.id} whole`);
  }
});

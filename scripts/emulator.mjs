// A provider emulator on 127.0.0.1 for tests and for trying routoo without keys. It speaks
// OpenAI Chat Completions (`/v1/chat/completions`), Anthropic Messages (`/v1/messages`) and
// Gemini (`/v1beta/models/{m}:generateContent` / `:streamGenerateContent?alt=sse`), with CORS
// (preflight included) and SSE streaming. Answers come from the recorded model responses in
// ../shared/data (gsm8k.csv, routerbench.csv) when the prompt matches one, else a deterministic
// placeholder.
//
// Faults, per API model name, in order: POST /_script {"model": "m", "faults": ["429", "500",
// "401", "stall", "cut", "no-end", "error-mid", "bom-cr", "trickle", "endless", "huge", "ok"]}
// queues them; "redirect:307:URL" answers with that redirect, "echo-key" refuses the call with
// an error that quotes the key, "overlong" ignores the answer limit (twenty times as many
// tokens, usage counted as it goes) and "think:N" bills N thinking tokens as each provider
// reports them (OpenAI and Anthropic inside the output count, Gemini as thoughtsTokenCount);
// "reason" shows thinking before the answer (OpenAI-compatible `reasoning_content`,
// Anthropic's thinking block, Gemini's thought part); "refuse" answers 200 with a refusal (OpenAI `refusal`, Anthropic stop_reason "refusal",
// Gemini finishReason SAFETY); a name starting with `always-401`, `always-500`, `stall` or `cut` fails every
// call. Any key is accepted except a missing one or "bad".
// GET /_calls lists every request (method, path, header names and values) for leak checks.
// Tools: a request that offers tools gets a call to the first (or the one its tool choice
// names) with arguments {"query": the prompt's first 40 characters}, whole or streamed in each
// format (Gemini's with a thought signature, which must come back with the call); a request
// whose last turn is a tool's result gets "The tool said: <result>"; one that asks for an
// answer schema gets JSON that follows it.
// A model named `knows:B1+B2` is a scripted student for calibration: asked one of the bundle's
// probes (www/models/probes.json, as `routoo calibrate` words it), it gives the reference
// answer when the probe's benchmark is among B1, B2, … and a wrong one otherwise; an entry
// `benchmark/subject` (e.g. `knows:mmlu-pro/math+mmlu-pro/law`) knows that subject alone.
//
//   node scripts/emulator.mjs [--port 8787] [--list-models a,b]   prints the URL it listens on
import http from "node:http";
import { readFileSync, existsSync } from "node:fs";
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import { parse } from "csv-parse/sync";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** prompt -> {model: response} from the tables that recorded responses. */
function recorded(dataDir) {
  const answers = new Map();
  for (const name of ["gsm8k.csv", "routerbench.csv"]) {
    const path = `${dataDir}/${name}`;
    if (!existsSync(path)) continue;
    for (const row of parse(readFileSync(path), { columns: true, relax_quotes: false })) {
      const byModel = {};
      for (const [col, value] of Object.entries(row)) {
        if (col.endsWith("|response") && value) byModel[col.slice(0, -"|response".length)] = value;
      }
      if (Object.keys(byModel).length) answers.set(row.prompt.trim(), byModel);
    }
  }
  return answers;
}

/** probe message -> probe, for the scripted students. */
function probeMessages() {
  const path = `${ROOT}/www/models/probes.json`;
  const messages = new Map();
  if (!existsSync(path)) return messages;
  const set = JSON.parse(readFileSync(path, "utf8"));
  for (const p of set.probes) messages.set(`${p.prompt.trimEnd()}\n\n${set.instructions[p.grading]}`, p);
  return messages;
}

/** A scripted student's answer to a probe: right on the benchmarks (or subjects) it knows,
 * wrong elsewhere. */
function student(model, probe) {
  const known = model.slice("knows:".length).split("+");
  const knows = known.includes(probe.benchmark) || known.includes(`${probe.benchmark}/${probe.subject}`);
  let answer = probe.answer;
  if (!knows) {
    if (probe.grading === "choice") answer = "ABCDEFGHIJ"[("ABCDEFGHIJ".indexOf(answer) + 1) % 10];
    else if (probe.grading === "number") answer = String(Number(answer.replace(/,/g, "")) + 1);
    else answer = "'not the output'";
  }
  const shown = probe.grading === "choice" ? `(${answer})` : answer;
  return `Working through it step by step.\nThe answer is ${shown}`;
}

function placeholder(prompt) {
  const hash = createHash("sha256").update(prompt).digest("hex").slice(0, 8);
  const start = prompt.trim().slice(0, 40).replace(/\s+/g, " ");
  return `Emulated answer ${hash} to: "${start}". No real model was called.`;
}

const tokens = (text) => Math.max(1, Math.ceil(text.length / 4));

function pieces(text) {
  const out = [];
  for (let i = 0; i < text.length; i += 12) out.push(text.slice(i, i + 12));
  return out.length ? out : [""];
}

/** The SSE events of a streamed answer in each format. */
const streams = {
  openai(model, text, prompt, thinking = 0) {
    const chunk = (delta, finish, usage = null) => ({
      id: "chatcmpl-emulator", object: "chat.completion.chunk", created: 0, model,
      choices: finish === undefined ? [] : [{ index: 0, delta, finish_reason: finish }], usage,
    });
    return [
      chunk({ role: "assistant", content: "" }, null),
      ...pieces(text).map((p) => chunk({ content: p }, null)),
      chunk({}, "stop"),
      chunk(undefined, undefined, {
        prompt_tokens: tokens(prompt), completion_tokens: tokens(text) + thinking,
        total_tokens: tokens(prompt) + tokens(text) + thinking,
        completion_tokens_details: { reasoning_tokens: thinking },
      }),
    ].map((c) => ({ data: JSON.stringify(c) })).concat([{ data: "[DONE]" }]);
  },
  anthropic(model, text, prompt, thinking = 0) {
    const ev = (event, data) => ({ event, data: JSON.stringify({ type: event, ...data }) });
    return [
      ev("message_start", { message: { id: "msg_emulator", type: "message", role: "assistant",
        model, content: [], stop_reason: null,
        usage: { input_tokens: tokens(prompt), output_tokens: 1 } } }),
      ev("content_block_start", { index: 0, content_block: { type: "text", text: "" } }),
      ev("ping", {}),
      ...pieces(text).map((p) => ev("content_block_delta",
        { index: 0, delta: { type: "text_delta", text: p } })),
      ev("content_block_stop", { index: 0 }),
      ev("message_delta", { delta: { stop_reason: "end_turn" },
        usage: { output_tokens: tokens(text) + thinking } }),
      ev("message_stop", {}),
    ];
  },
  gemini(model, text, prompt, thinking = 0, cumulative = false) {
    const parts = pieces(text);
    // Gemini counts usage as it goes; the emulator's other answers report the total at once.
    const sofar = (i) => cumulative ? tokens(parts.slice(0, i + 1).join("")) : tokens(text);
    return parts.map((p, i) => ({ data: JSON.stringify({
      candidates: [{ content: { parts: [{ text: p }], role: "model" }, index: 0,
        ...(i === parts.length - 1 ? { finishReason: "STOP" } : {}) }],
      usageMetadata: { promptTokenCount: tokens(prompt), candidatesTokenCount: sofar(i),
        thoughtsTokenCount: thinking, totalTokenCount: tokens(prompt) + sofar(i) + thinking },
      modelVersion: model,
    }) }));
  },
};

/** One text event of each format, for the endless stream. */
const endlessEvent = {
  openai: (t) => `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: t }, finish_reason: null }] })}\n\n`,
  anthropic: (t) => `event: content_block_delta\ndata: ${JSON.stringify({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text: t } })}\n\n`,
  gemini: (t) => `data: ${JSON.stringify({ candidates: [{ content: { parts: [{ text: t }], role: "model" }, index: 0 }] })}\n\n`,
};

/** An error event in the middle of a stream, as each provider sends one. */
const midStreamError = {
  openai: { data: JSON.stringify({ error: { message: "The server had an error while processing your request.", type: "server_error" } }) },
  anthropic: { event: "error", data: JSON.stringify({ type: "error", error: { type: "overloaded_error", message: "Overloaded" } }) },
  gemini: { data: JSON.stringify({ error: { code: 503, message: "The model is overloaded.", status: "UNAVAILABLE" } }) },
};

/** The whole (non-streamed) answer in each format. */
const whole = {
  openai: (model, text, prompt, thinking = 0) => ({
    id: "chatcmpl-emulator", object: "chat.completion", created: 0, model,
    choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: "stop" }],
    usage: { prompt_tokens: tokens(prompt), completion_tokens: tokens(text) + thinking,
      total_tokens: tokens(prompt) + tokens(text) + thinking,
      completion_tokens_details: { reasoning_tokens: thinking } },
  }),
  anthropic: (model, text, prompt, thinking = 0) => ({
    id: "msg_emulator", type: "message", role: "assistant", model,
    content: [{ type: "text", text }], stop_reason: "end_turn", stop_sequence: null,
    usage: { input_tokens: tokens(prompt), output_tokens: tokens(text) + thinking },
  }),
  gemini: (model, text, prompt, thinking = 0) => ({
    candidates: [{ content: { parts: [{ text }], role: "model" }, finishReason: "STOP", index: 0 }],
    usageMetadata: { promptTokenCount: tokens(prompt), candidatesTokenCount: tokens(text),
      thoughtsTokenCount: thinking, totalTokenCount: tokens(prompt) + tokens(text) + thinking },
    modelVersion: model,
  }),
};

/** A tool call's events (streamed, the arguments in two pieces) and whole answer, per format. */
const toolCall = {
  stream: {
    openai(model, call, prompt) {
      const chunk = (delta, finish, usage = null) => ({ id: "chatcmpl-emulator", object: "chat.completion.chunk",
        created: 0, model, choices: finish === undefined ? [] : [{ index: 0, delta, finish_reason: finish }], usage });
      const args = JSON.stringify(call.args);
      const half = Math.floor(args.length / 2);
      return [
        chunk({ role: "assistant", content: null, tool_calls: [{ index: 0, id: call.id, type: "function",
          function: { name: call.name, arguments: "" } }] }, null),
        chunk({ tool_calls: [{ index: 0, function: { arguments: args.slice(0, half) } }] }, null),
        chunk({ tool_calls: [{ index: 0, function: { arguments: args.slice(half) } }] }, null),
        chunk({}, "tool_calls"),
        chunk(undefined, undefined, { prompt_tokens: tokens(prompt), completion_tokens: tokens(args),
          total_tokens: tokens(prompt) + tokens(args) }),
      ].map((c) => ({ data: JSON.stringify(c) })).concat([{ data: "[DONE]" }]);
    },
    anthropic(model, call, prompt) {
      const ev = (event, data) => ({ event, data: JSON.stringify({ type: event, ...data }) });
      const args = JSON.stringify(call.args);
      const half = Math.floor(args.length / 2);
      return [
        ev("message_start", { message: { id: "msg_emulator", type: "message", role: "assistant", model, content: [],
          stop_reason: null, usage: { input_tokens: tokens(prompt), output_tokens: 1 } } }),
        ev("content_block_start", { index: 0, content_block: { type: "tool_use", id: call.id, name: call.name, input: {} } }),
        ev("content_block_delta", { index: 0, delta: { type: "input_json_delta", partial_json: args.slice(0, half) } }),
        ev("content_block_delta", { index: 0, delta: { type: "input_json_delta", partial_json: args.slice(half) } }),
        ev("content_block_stop", { index: 0 }),
        ev("message_delta", { delta: { stop_reason: "tool_use" }, usage: { output_tokens: tokens(args) } }),
        ev("message_stop", {}),
      ];
    },
    gemini(model, call, prompt) {
      return [{ data: JSON.stringify(toolCall.whole.gemini(model, call, prompt)) }];
    },
  },
  whole: {
    openai: (model, call, prompt) => ({
      id: "chatcmpl-emulator", object: "chat.completion", created: 0, model,
      choices: [{ index: 0, message: { role: "assistant", content: null, tool_calls: [{ id: call.id, type: "function",
        function: { name: call.name, arguments: JSON.stringify(call.args) } }] }, finish_reason: "tool_calls" }],
      usage: { prompt_tokens: tokens(prompt), completion_tokens: 9, total_tokens: tokens(prompt) + 9 },
    }),
    anthropic: (model, call, prompt) => ({
      id: "msg_emulator", type: "message", role: "assistant", model,
      content: [{ type: "tool_use", id: call.id, name: call.name, input: call.args }], stop_reason: "tool_use",
      stop_sequence: null, usage: { input_tokens: tokens(prompt), output_tokens: 9 },
    }),
    // Gemini sends no call id, and a thought signature it wants back with the call.
    gemini: (model, call, prompt) => ({
      candidates: [{ content: { role: "model", parts: [{ functionCall: { name: call.name, args: call.args },
        thoughtSignature: "sig-emulator" }] }, finishReason: "STOP", index: 0 }],
      usageMetadata: { promptTokenCount: tokens(prompt), candidatesTokenCount: 9, totalTokenCount: tokens(prompt) + 9 },
      modelVersion: model,
    }),
  },
};

/** A value that follows a JSON Schema, for answers asked to: strings say who answered. */
function fill(schema, model) {
  switch (schema?.type) {
    case "object":
      return Object.fromEntries(Object.entries(schema.properties ?? {}).map(([k, s]) => [k, fill(s, model)]));
    case "array": return [fill(schema.items, model)];
    case "number": case "integer": return 42;
    case "boolean": return true;
    case "string": return schema.enum?.[0] ?? `emulated by ${model}`;
    default: return null;
  }
}

/**
 * What a request's tools ask of the emulator: a call to the first tool offered (or the one
 * the request names) when the last turn is not a tool's result; the result's text when it is;
 * an answer that follows the schema when one is asked for. `error` when a Gemini call comes
 * back without the thought signature Gemini gave it.
 */
function tooling(format, body) {
  const out = {};
  if (format === "openai") {
    const names = (body.tools ?? []).map((t) => t.function?.name);
    const choice = body.tool_choice;
    const last = body.messages?.at(-1);
    if (last?.role === "tool") out.result = `${last.content}`;
    else if (names.length && choice !== "none") out.call = choice?.function?.name ?? names[0];
    out.schema = body.response_format?.json_schema?.schema;
  } else if (format === "anthropic") {
    const names = (body.tools ?? []).map((t) => t.name);
    const last = body.messages?.at(-1);
    const result = Array.isArray(last?.content) ? last.content.find((b) => b.type === "tool_result") : undefined;
    if (result) out.result = typeof result.content === "string" ? result.content : JSON.stringify(result.content);
    else if (names.length && body.tool_choice?.type !== "none") out.call = body.tool_choice?.name ?? names[0];
    out.schema = body.output_config?.format?.schema;
  } else {
    const names = (body.tools ?? []).flatMap((t) => (t.functionDeclarations ?? []).map((d) => d.name));
    const config = body.toolConfig?.functionCallingConfig;
    const last = body.contents?.at(-1);
    const response = last?.parts?.find((p) => p.functionResponse)?.functionResponse;
    if (response) out.result = JSON.stringify(response.response);
    else if (names.length && config?.mode !== "NONE") out.call = config?.allowedFunctionNames?.[0] ?? names[0];
    const unsigned = (body.contents ?? []).some((c) => c.parts?.some((p) => p.functionCall && p.thoughtSignature !== "sig-emulator"));
    if (unsigned) out.error = "Function call is missing a thought_signature in functionCall parts.";
    out.schema = body.generationConfig?.responseJsonSchema;
  }
  return out;
}

/** Thinking a model shows before its answer ("reason"), as each format carries it. */
const THOUGHT = "Let me think it through first.";
const shownThinking = {
  whole(format, answer, on) {
    if (!on) return answer;
    if (format === "openai") answer.choices[0].message.reasoning_content = THOUGHT;
    if (format === "anthropic") answer.content.unshift({ type: "thinking", thinking: THOUGHT, signature: "sig-think" });
    if (format === "gemini") answer.candidates[0].content.parts.unshift({ text: THOUGHT, thought: true });
    return answer;
  },
  events(format, events) {
    if (format === "openai") {
      const e = { data: JSON.stringify({ choices: [{ index: 0, delta: { reasoning_content: THOUGHT }, finish_reason: null }] }) };
      return [events[0], e, ...events.slice(1)];
    }
    if (format === "anthropic") {
      const ev = (event, data) => ({ event, data: JSON.stringify({ type: event, ...data }) });
      return [events[0], ev("content_block_start", { index: 1, content_block: { type: "thinking", thinking: "" } }),
        ev("content_block_delta", { index: 1, delta: { type: "thinking_delta", thinking: THOUGHT } }),
        ev("content_block_stop", { index: 1 }), ...events.slice(1)];
    }
    const e = { data: JSON.stringify({ candidates: [{ content: { parts: [{ text: THOUGHT, thought: true }], role: "model" },
      index: 0 }] }) };
    return [e, ...events];
  },
};

/** Each format's error body. */
function errorBody(format, status, message) {
  if (format === "anthropic") {
    const type = { 401: "authentication_error", 429: "rate_limit_error", 529: "overloaded_error" }[status] ?? "api_error";
    return { type: "error", error: { type, message } };
  }
  if (format === "gemini") {
    const s = { 401: "UNAUTHENTICATED", 429: "RESOURCE_EXHAUSTED" }[status] ?? "INTERNAL";
    return { error: { code: status, message, status: s } };
  }
  return { error: { message, type: status === 429 ? "rate_limit_exceeded" : "server_error", code: null } };
}

const CORS_HEADERS = "authorization, content-type, x-api-key, anthropic-version, " +
  "anthropic-dangerous-direct-browser-access, x-goog-api-key";

/** Parses the route: which format, which model, streamed or not. */
function route(method, url, body) {
  const path = url.pathname;
  if (/\/chat\/completions$/.test(path)) {
    return { format: "openai", model: body.model, stream: !!body.stream,
      limit: body.max_completion_tokens ?? body.max_tokens,
      prompt: body.messages?.map((x) => x.content ?? "").join("\n") ?? "" };
  }
  if (/\/messages$/.test(path)) {
    return { format: "anthropic", model: body.model, stream: !!body.stream, limit: body.max_tokens,
      prompt: body.messages?.map((x) => typeof x.content === "string" ? x.content
        : (x.content ?? []).map((b) => b.text ?? "").join("")).join("\n") ?? "" };
  }
  const m = path.match(/\/models\/([^/:]+):(generateContent|streamGenerateContent)$/);
  if (m) {
    return { format: "gemini", model: decodeURIComponent(m[1]),
      stream: m[2] === "streamGenerateContent", limit: body.generationConfig?.maxOutputTokens,
      prompt: body.contents?.flatMap((c) => c.parts?.map((p) => p.text ?? "") ?? []).join("\n") ?? "" };
  }
  return null;
}

function keyOf(format, headers) {
  if (format === "anthropic") return headers["x-api-key"];
  if (format === "gemini") return headers["x-goog-api-key"];
  const auth = headers.authorization ?? "";
  return auth.startsWith("Bearer ") ? auth.slice(7) : undefined;
}

/** Starts the emulator; resolves to {url, close, calls, script}. */
/**
 * `listModels` also answers `GET /v1/models`, as a local OpenAI-compatible server does (what
 * a page or the CLI asks before it sends a prompt to this machine): `true` lists one model,
 * `local-model`; an array lists those names (e.g. Ollama's `qwen3:8b-q4_K_M`).
 */
export async function start({ port = 0, dataDir = `${ROOT}/../shared/data`, listModels = false } = {}) {
  const answers = recorded(dataDir);
  const probes = probeMessages();
  const queues = new Map();
  const calls = [];
  const sockets = new Set();
  const server = http.createServer(async (req, res) => {
    const origin = req.headers.origin ?? "*";
    res.setHeader("access-control-allow-origin", origin);
    res.setHeader("vary", "origin");
    res.setHeader("access-control-expose-headers", "retry-after, retry-after-ms");
    const url = new URL(req.url, "http://127.0.0.1");
    const call = { method: req.method, path: url.pathname + url.search, headers: { ...req.headers } };
    calls.push(call);
    if (req.method === "OPTIONS") {
      res.writeHead(204, { "access-control-allow-methods": "POST, GET, OPTIONS",
        "access-control-allow-headers": CORS_HEADERS, "access-control-max-age": "600" });
      return res.end();
    }
    if (req.method === "GET" && url.pathname === "/_calls") {
      res.writeHead(200, { "content-type": "application/json" });
      return res.end(JSON.stringify(calls));
    }
    if (listModels && req.method === "GET" && url.pathname === "/v1/models") {
      res.writeHead(200, { "content-type": "application/json", "access-control-allow-origin": "*" });
      const names = Array.isArray(listModels) ? listModels : ["local-model"];
      return res.end(JSON.stringify({ object: "list", data: names.map((id) => ({ id, object: "model" })) }));
    }
    let raw = "";
    for await (const chunk of req) raw += chunk;
    let body;
    try { body = raw ? JSON.parse(raw) : {}; } catch {
      res.writeHead(400, { "content-type": "application/json" });
      return res.end(JSON.stringify({ error: { message: "the body is not JSON" } }));
    }
    if (raw) call.body = body; // for tests of what a request carried
    if (req.method === "POST" && url.pathname === "/_script") {
      queues.set(body.model, [...(body.faults ?? [])]);
      res.writeHead(204);
      return res.end();
    }
    const r = req.method === "POST" ? route(req.method, url, body) : null;
    if (!r || !r.model) {
      res.writeHead(404, { "content-type": "application/json" });
      return res.end(JSON.stringify(errorBody("openai", 404, `no route ${req.method} ${url.pathname}`)));
    }
    const fail = (status, message, extra = {}) => {
      res.writeHead(status, { "content-type": "application/json", ...extra });
      res.end(JSON.stringify(errorBody(r.format, status, message)));
    };
    const key = keyOf(r.format, req.headers);
    const queued = queues.get(r.model)?.shift();
    const fault = queued ?? ["always-401", "always-500", "stall", "cut"]
      .find((f) => r.model.startsWith(f))?.replace("always-", "");
    // A local server (listModels) needs no key, as llama.cpp or Ollama do.
    if (fault?.startsWith("redirect:")) {
      const [, status, ...to] = fault.split(":");
      res.writeHead(Number(status), { location: to.join(":"), "content-type": "text/plain" });
      return res.end("moved");
    }
    if (fault === "echo-key") return fail(400, `unknown model for key ${key}`);
    if ((!key && !listModels) || key === "bad" || fault === "401") return fail(401, "invalid x-api-key: the emulator refuses this key");
    if (fault === "429") return fail(429, "rate limit reached, retry shortly", { "retry-after": "1" });
    if (fault === "500") return fail(500, "the emulator failed on purpose");
    if (fault === "stall") {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.flushHeaders();
      return; // never answers; the client must time out or abort
    }
    if (fault === "trickle") {
      // A comment every 50 ms, forever: never idle, never done; only a deadline ends it.
      res.writeHead(200, { "content-type": "text/event-stream" });
      const tick = setInterval(() => res.write(": still thinking\n\n"), 50);
      res.on("close", () => clearInterval(tick));
      return;
    }
    if (fault === "endless") {
      // Text events as fast as the client reads them, forever.
      res.writeHead(200, { "content-type": "text/event-stream" });
      const event = endlessEvent[r.format]("all work and no play ".repeat(50));
      let open = true;
      res.on("close", () => { open = false; });
      while (open) {
        if (!res.write(event)) await new Promise((done) => { res.once("drain", done); res.once("close", done); });
      }
      return;
    }
    if (fault === "huge" && !r.stream) {
      res.writeHead(200, { "content-type": "application/json" });
      return res.end(JSON.stringify(whole[r.format](r.model, "x".repeat(9 << 20), r.prompt)));
    }
    if (fault === "refuse") {
      // A 200 that declines, as each provider writes one.
      const said = "I can't help with that.";
      const refusal = {
        openai: { whole: { id: "chatcmpl-emulator", object: "chat.completion", created: 0, model: r.model,
          choices: [{ index: 0, message: { role: "assistant", content: null, refusal: said }, finish_reason: "stop" }],
          usage: { prompt_tokens: tokens(r.prompt), completion_tokens: 6, total_tokens: tokens(r.prompt) + 6 } },
        events: [{ choices: [{ index: 0, delta: { role: "assistant", refusal: said }, finish_reason: null }] },
          { choices: [{ index: 0, delta: {}, finish_reason: "stop" }] }].map((c) => ({ data: JSON.stringify(c) }))
          .concat([{ data: "[DONE]" }]) },
        anthropic: { whole: { id: "msg_emulator", type: "message", role: "assistant", model: r.model, content: [],
          stop_reason: "refusal", usage: { input_tokens: tokens(r.prompt), output_tokens: 6 } },
        events: [
          { event: "message_start", data: JSON.stringify({ type: "message_start", message: { content: [],
            usage: { input_tokens: tokens(r.prompt), output_tokens: 1 } } }) },
          { event: "message_delta", data: JSON.stringify({ type: "message_delta", delta: { stop_reason: "refusal" },
            usage: { output_tokens: 6 } }) },
          { event: "message_stop", data: JSON.stringify({ type: "message_stop" }) }] },
        gemini: { whole: { candidates: [{ finishReason: "SAFETY", index: 0 }],
          usageMetadata: { promptTokenCount: tokens(r.prompt), candidatesTokenCount: 0 } },
        events: [{ data: JSON.stringify({ candidates: [{ finishReason: "SAFETY", index: 0 }],
          usageMetadata: { promptTokenCount: tokens(r.prompt), candidatesTokenCount: 0 } }) }] },
      }[r.format];
      if (!r.stream) {
        res.writeHead(200, { "content-type": "application/json" });
        return res.end(JSON.stringify(refusal.whole));
      }
      res.writeHead(200, { "content-type": "text/event-stream" });
      for (const e of refusal.events) res.write((e.event ? `event: ${e.event}\n` : "") + `data: ${e.data}\n\n`);
      return res.end();
    }
    const tools = tooling(r.format, body);
    if (tools.error) return fail(400, tools.error);
    if (tools.call) {
      const call = { id: r.format === "anthropic" ? "toolu_emulator_1" : "call_emulator_1", name: tools.call,
        args: { query: r.prompt.trim().slice(0, 40) } };
      if (!r.stream) {
        res.writeHead(200, { "content-type": "application/json" });
        return res.end(JSON.stringify(toolCall.whole[r.format](r.model, call, r.prompt)));
      }
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      for (const e of toolCall.stream[r.format](r.model, call, r.prompt)) {
        res.write((e.event ? `event: ${e.event}\n` : "") + `data: ${e.data}\n\n`);
      }
      return res.end();
    }
    const recordedAnswer = answers.get(r.prompt.trim());
    const probe = r.model.startsWith("knows:") ? probes.get(r.prompt) : undefined;
    const overlong = fault === "overlong";
    // Twenty times the limit's tokens (4 characters a token, as `tokens` counts them).
    const text = overlong ? "word ".repeat(Math.ceil((r.limit ?? 1024) * 16))
      : tools.schema ? JSON.stringify(fill(tools.schema, r.model))
      : tools.result !== undefined ? `The tool said: ${tools.result}`
      : probe ? student(r.model, probe)
      : recordedAnswer ? (recordedAnswer[r.model] ?? Object.values(recordedAnswer)[0]) : placeholder(r.prompt);
    const thinking = fault?.startsWith("think:") ? Number(fault.slice("think:".length)) : 0;
    if (!r.stream) {
      res.writeHead(200, { "content-type": "application/json" });
      return res.end(JSON.stringify(shownThinking.whole(r.format, whole[r.format](r.model, text, r.prompt, thinking),
        fault === "reason")));
    }
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    let events = streams[r.format](r.model, text, r.prompt, thinking, overlong);
    if (fault === "reason") events = shownThinking.events(r.format, events);
    const half = Math.max(1, Math.floor(events.length / 2));
    // "no-end": no [DONE] / message_stop after the finish reason; "error-mid": the provider's
    // own error event after half the answer; "bom-cr": a byte order mark and bare-CR lines.
    if (fault === "no-end") events = events.filter((e) => e.data !== "[DONE]" && e.event !== "message_stop");
    if (fault === "error-mid") events = [...events.slice(0, half), midStreamError[r.format]];
    const upTo = fault === "cut" ? half : events.length;
    const nl = fault === "bom-cr" ? "\r" : "\n";
    res.write((fault === "bom-cr" ? "\ufeff" : "") + `: emulator stream${nl}${nl}`);
    for (const e of events.slice(0, upTo)) {
      res.write((e.event ? `event: ${e.event}${nl}` : "") + `data: ${e.data}${nl}${nl}`);
      if (res.destroyed) break; // the client cut it
      if (!overlong) await new Promise((done) => setTimeout(done, 2));
      else if (!res.writableNeedDrain) continue;
      else await new Promise((done) => { res.once("drain", done); res.once("close", done); });
    }
    if (fault === "cut") return res.socket?.destroy();
    res.end();
  });
  server.on("connection", (s) => { sockets.add(s); s.on("close", () => sockets.delete(s)); });
  // A port already taken (a leftover `make emulator`) fails here, at once, with the reason.
  await new Promise((ok, fail) => {
    server.once("error", fail);
    server.listen(port, "127.0.0.1", () => { server.off("error", fail); ok(); });
  });
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    calls,
    answers: answers.size,
    script: (model, faults) => queues.set(model, [...faults]),
    close: () => new Promise((ok) => { for (const s of sockets) s.destroy(); server.close(ok); }),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf("--port");
  const port = i > 0 ? Number(process.argv[i + 1]) : Number(process.env.EMULATOR_PORT ?? 8787);
  const j = process.argv.indexOf("--list-models");
  const listModels = j > 0 ? process.argv[j + 1].split(",").filter(Boolean) : false;
  const emulator = await start({ port, listModels });
  console.log(`provider emulator on ${emulator.url} (${emulator.answers} recorded prompts)`);
  console.log(`  OpenAI ${emulator.url}/v1   Anthropic ${emulator.url}/v1   Gemini ${emulator.url}/v1beta`);
}

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
// reports them (OpenAI and Anthropic inside the output count, Gemini as thoughtsTokenCount); a name starting with `always-401`, `always-500`, `stall` or `cut` fails every
// call. Any key is accepted except a missing one or "bad".
// GET /_calls lists every request (method, path, header names and values) for leak checks.
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
      prompt: body.messages?.map((x) => x.content).join("\n") ?? "" };
  }
  if (/\/messages$/.test(path)) {
    return { format: "anthropic", model: body.model, stream: !!body.stream, limit: body.max_tokens,
      prompt: body.messages?.map((x) => typeof x.content === "string" ? x.content : "").join("\n") ?? "" };
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
    const recordedAnswer = answers.get(r.prompt.trim());
    const probe = r.model.startsWith("knows:") ? probes.get(r.prompt) : undefined;
    const overlong = fault === "overlong";
    // Twenty times the limit's tokens (4 characters a token, as `tokens` counts them).
    const text = overlong ? "word ".repeat(Math.ceil((r.limit ?? 1024) * 16))
      : probe ? student(r.model, probe)
      : recordedAnswer ? (recordedAnswer[r.model] ?? Object.values(recordedAnswer)[0]) : placeholder(r.prompt);
    const thinking = fault?.startsWith("think:") ? Number(fault.slice("think:".length)) : 0;
    if (!r.stream) {
      res.writeHead(200, { "content-type": "application/json" });
      return res.end(JSON.stringify(whole[r.format](r.model, text, r.prompt, thinking)));
    }
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    let events = streams[r.format](r.model, text, r.prompt, thinking, overlong);
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

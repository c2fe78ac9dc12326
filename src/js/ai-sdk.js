// routoo as an AI SDK provider (text, shown thinking and tool calls, streamed or whole): `createRoutoo(options)` returns `routoo(modelId, policy)`, a
// language model of the AI SDK's v4 specification (`@ai-sdk/provider` 4). Each call is turned
// into a Chat Completions request and answered by the router's own `fetch` (fetch.js), so
// routing, the wire formats, retries, fallbacks, spend caps and aborts are the same as for
// `ask` and the OpenAI SDK; here only shapes are translated.
import { routerFetch } from "./fetch.js";
import { loadRouter } from "./loader.js";

/** Errors the AI SDK must not retry (it retries only its own retryable call errors): routoo
 *  has retried and fallen back already. */
export class RoutooError extends Error {
  /**
   * @param {string} message
   * @param {{ status?: number, code?: string, route?: object }} [details]
   */
  constructor(message, { status, code, route } = {}) {
    super(message);
    this.name = "RoutooError";
    this.status = status;
    this.code = code;
    this.route = route;
  }
}

/** Call settings the router does not pass on: the warning the AI SDK shows for each. */
const NOT_PASSED_ON = ["temperature", "topP", "topK", "presencePenalty", "frequencyPenalty", "seed",
  "stopSequences", "reasoning"];

/** A tool result's output as the text a tool turn carries. */
function resultText(output) {
  switch (output?.type) {
    case "text": case "error-text": return output.value;
    case "json": case "error-json": return JSON.stringify(output.value);
    case "execution-denied": return output.reason ?? "the tool call was denied";
    case "content": return output.value.map((p) => (p.type === "text" ? p.text : "")).join("");
    default: throw new RoutooError(`routoo cannot send a tool result of type ${output?.type}`, { code: "unsupported" });
  }
}

/**
 * An AI SDK prompt (`LanguageModelV4Prompt`) as Chat Completions messages: text, tool calls
 * (Gemini's signature from the call's `providerOptions.routoo.signature`) and tool results;
 * what routoo cannot send (files) throws, naming it.
 *
 * @param {any[]} prompt
 */
export function chatMessages(prompt) {
  const unsupported = (part, role) =>
    new RoutooError(`routoo cannot send a ${part.type} part in a ${role} message`, { code: "unsupported" });
  return prompt.flatMap((message) => {
    switch (message.role) {
      case "system":
        return [{ role: "system", content: message.content }];
      case "user":
        return [{ role: "user", content: message.content.map((part) => {
          if (part.type === "text") return part.text;
          throw unsupported(part, "user");
        }).join("") }];
      case "assistant": {
        let content = "";
        const calls = [];
        for (const part of message.content) {
          if (part.type === "text") content += part.text;
          else if (part.type === "tool-call") {
            const signature = part.providerOptions?.routoo?.signature;
            calls.push({ id: part.toolCallId, type: "function", function: { name: part.toolName,
              arguments: typeof part.input === "string" ? part.input : JSON.stringify(part.input ?? {}) },
            ...(typeof signature === "string" ? { extra_content: { google: { thought_signature: signature } } } : {}) });
          } else if (part.type !== "reasoning" && part.type !== "tool-result") throw unsupported(part, "assistant");
        }
        return [{ role: "assistant", content, ...(calls.length ? { tool_calls: calls } : {}) }];
      }
      case "tool":
        return message.content.filter((part) => part.type === "tool-result")
          .map((part) => ({ role: "tool", tool_call_id: part.toolCallId, content: resultText(part.output) }));
      default:
        throw new RoutooError(`routoo cannot send ${message.role} messages`, { code: "unsupported" });
    }
  });
}

/** The AI SDK's tools and tool choice as Chat Completions fields. */
function toolFields(tools, toolChoice) {
  if (!tools?.length) return {};
  const provider = tools.find((t) => t.type !== "function");
  if (provider) throw new RoutooError(`routoo cannot route provider tools (${provider.id ?? provider.name})`, { code: "unsupported" });
  const choice = !toolChoice ? "auto"
    : toolChoice.type === "tool" ? { type: "function", function: { name: toolChoice.toolName } }
    : toolChoice.type;
  return {
    tools: tools.map((t) => ({ type: "function", function: { name: t.name,
      ...(t.description ? { description: t.description } : {}), parameters: t.inputSchema } })),
    tool_choice: choice,
  };
}

/** The AI SDK's response format as Chat Completions' `response_format`. */
function formatField(format) {
  if (format?.type !== "json") return {};
  if (!format.schema) return { response_format: { type: "json_object" } };
  return { response_format: { type: "json_schema", json_schema: { name: format.name ?? "answer",
    ...(format.description ? { description: format.description } : {}), schema: format.schema } } };
}

/** A tool call of an OpenAI message as the AI SDK's `tool-call` content. */
function toolCallPart(call) {
  const signature = call.extra_content?.google?.thought_signature;
  return { type: "tool-call", toolCallId: call.id, toolName: call.function.name, input: call.function.arguments || "{}",
    ...(signature ? { providerMetadata: { routoo: { signature } } } : {}) };
}

/** The AI SDK's finish reason for an OpenAI one. */
function finishReason(raw) {
  const unified = { stop: "stop", length: "length", content_filter: "content-filter", tool_calls: "tool-calls" }[raw]
    ?? "other";
  return { unified, raw: raw ?? undefined };
}

/** The AI SDK's usage for an OpenAI one (thinking is inside the output count). */
function usage(u) {
  return {
    inputTokens: { total: u?.prompt_tokens, noCache: undefined, cacheRead: undefined, cacheWrite: undefined },
    outputTokens: { total: u?.completion_tokens, text: undefined, reasoning: undefined },
  };
}

/** Server-sent events as the router writes them, one `data:` line each: their JSON payloads. */
function events(text) {
  return text.split("\n\n").map((e) => e.trim()).filter((e) => e.startsWith("data: ") && e !== "data: [DONE]")
    .map((e) => JSON.parse(e.slice("data: ".length)));
}

/** A refusal's error, from the status and OpenAI's error body of an answer. */
async function refusal(response) {
  const text = await response.text();
  let error;
  try {
    error = JSON.parse(text).error;
  } catch {
    error = { message: text };
  }
  return new RoutooError(error?.message ?? `routoo answered ${response.status}`,
    { status: response.status, code: error?.code });
}

/**
 * Each server-sent event's JSON payload of a streamed answer, as its bytes arrive.
 *
 * @param {ReadableStreamDefaultReader<Uint8Array>} reader
 */
async function* sse(reader) {
  const decoder = new TextDecoder();
  let buffered = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buffered += decoder.decode(value, { stream: true });
    const cut = buffered.lastIndexOf("\n\n");
    if (cut < 0) continue;
    yield* events(buffered.slice(0, cut + 2));
    buffered = buffered.slice(cut + 2);
  }
  yield* events(buffered + decoder.decode());
}

/**
 * A language model that routes each call.
 *
 * @param {any} router a `Router` or `RouterWorker`
 * @param {string} modelId "auto", or a pool model's id
 * @param {object} policy the model's policy (`budget`, `minQuality`, `maxCost`, `models`…)
 * @param {object} call `ask`'s call options (`keys`, `local`, timeouts, `onEvent`)
 */
function languageModel(router, modelId, policy, call) {
  const fetch = routerFetch(router, { ...call, ...policy });
  /** The call's answer: the Chat Completions request sent through the router's fetch. */
  const send = async (body, signal) => {
    const response = await fetch("https://routoo.invalid/v1/chat/completions",
      { method: "POST", headers: { "content-type": "application/json" }, body, signal });
    if (response.status !== 200) throw await refusal(response);
    return response;
  };
  const request = (options, stream) => {
    const warnings = NOT_PASSED_ON.filter((name) => options[name] !== undefined)
      .map((feature) => ({ type: "unsupported", feature, details: "each provider keeps its own default" }));
    const body = {
      ...toolFields(options.tools, options.toolChoice),
      ...formatField(options.responseFormat),
      model: modelId === "auto" ? "routoo/auto" : `routoo/${modelId}`,
      messages: chatMessages(options.prompt),
      stream,
      ...(stream ? { stream_options: { include_usage: true } } : {}),
      ...(options.maxOutputTokens !== undefined ? { max_tokens: options.maxOutputTokens } : {}),
      ...(options.providerOptions?.routoo ? { routoo: options.providerOptions.routoo } : {}),
    };
    return { body: JSON.stringify(body), warnings };
  };

  return {
    specificationVersion: "v4",
    provider: "routoo",
    modelId,
    supportedUrls: {},

    async doGenerate(options) {
      const { body, warnings } = request(options, false);
      const response = await send(body, options.abortSignal);
      const answer = await response.json();
      const choice = answer.choices[0];
      return {
        content: [...(choice.message.reasoning_content ? [{ type: "reasoning", text: choice.message.reasoning_content }] : []),
          ...(choice.message.content ? [{ type: "text", text: choice.message.content }] : []),
          ...(choice.message.tool_calls ?? []).map(toolCallPart)],
        finishReason: finishReason(choice.finish_reason),
        usage: usage(answer.usage),
        providerMetadata: { routoo: answer.routoo },
        response: { id: answer.id, modelId: answer.model, timestamp: new Date(answer.created * 1000),
          headers: Object.fromEntries(response.headers) },
        warnings,
      };
    },

    async doStream(options) {
      const { body, warnings } = request(options, true);
      const response = await send(body, options.abortSignal);
      const reader = response.body.getReader();
      const chunks = sse(reader);
      let text = false;
      let reasoning = false;
      let last = null;
      let used = null;
      // The AI SDK's parts for one chunk of OpenAI's stream.
      const parts = (event, first) => {
        const out = [];
        if (event.error) {
          return [{ type: "error", error: new RoutooError(event.error.message, { code: event.error.code }) }];
        }
        if (first) {
          out.push({ type: "response-metadata", id: event.id, modelId: event.model,
            timestamp: new Date(event.created * 1000) });
        }
        const delta = event.choices[0]?.delta ?? {};
        if (delta.reasoning_content) {
          if (!reasoning) out.push({ type: "reasoning-start", id: "r0" });
          reasoning = true;
          out.push({ type: "reasoning-delta", id: "r0", delta: delta.reasoning_content });
        }
        if (delta.content && reasoning) {
          out.push({ type: "reasoning-end", id: "r0" });
          reasoning = false;
        }
        if (delta.content) {
          if (!text) out.push({ type: "text-start", id: "0" });
          text = true;
          out.push({ type: "text-delta", id: "0", delta: delta.content });
        }
        // The router sends each call whole, after the text.
        for (const call of delta.tool_calls ?? []) {
          if (text) out.push({ type: "text-end", id: "0" });
          text = false;
          const part = toolCallPart(call);
          out.push({ type: "tool-input-start", id: part.toolCallId, toolName: part.toolName },
            { type: "tool-input-delta", id: part.toolCallId, delta: part.input },
            { type: "tool-input-end", id: part.toolCallId }, part);
        }
        if (event.choices[0]?.finish_reason) last = event;
        if (event.usage) used = event.usage;
        return out;
      };
      let first = true;
      const stream = new ReadableStream({
        start: (c) => c.enqueue({ type: "stream-start", warnings }),
        // A pull that enqueues nothing is not called again, so read until a part or the end.
        async pull(c) {
          for (;;) {
            const { done, value } = await chunks.next();
            if (done) break;
            const out = parts(value, first);
            first = false;
            for (const part of out) c.enqueue(part);
            if (out.length) return;
          }
          if (reasoning) c.enqueue({ type: "reasoning-end", id: "r0" });
          if (text) c.enqueue({ type: "text-end", id: "0" });
          if (last) {
            c.enqueue({ type: "finish", finishReason: finishReason(last.choices[0].finish_reason),
              usage: usage(used), providerMetadata: { routoo: last.routoo } });
          }
          c.close();
        },
        // A reader that stops reading stops the call.
        cancel: (reason) => reader.cancel(reason),
      });
      return { stream, response: { headers: Object.fromEntries(response.headers) } };
    },
  };
}

/**
 * An AI SDK provider over a router: `routoo("auto", policy)` routes each call,
 * `routoo("<pool id>")` pins a model. `options` are `loadRouter`'s (or `router`: one already
 * loaded, a `Router` or `RouterWorker`), with `ask`'s `keys`, `local`, `maxTokens`, timeouts and
 * `onEvent`, and a `policy` every model starts from.
 *
 * @param {import("./ai-sdk.js").RoutooProviderOptions} [options]
 */
export async function createRoutoo({ router, keys, local, maxTokens, idleTimeoutMs, timeoutMs, askTimeoutMs, onEvent,
  policy = {}, ...load } = {}) {
  const r = router ?? await loadRouter(load);
  const call = Object.fromEntries(Object.entries({ keys, local, maxTokens, idleTimeoutMs, timeoutMs, askTimeoutMs,
    onEvent }).filter(([, v]) => v !== undefined));
  // An unknown model id is refused by the router, naming the pool's, when it is called.
  const provider = (modelId = "auto", modelPolicy = {}) => languageModel(r, modelId, { ...policy, ...modelPolicy }, call);
  provider.languageModel = provider;
  provider.router = r;
  return provider;
}

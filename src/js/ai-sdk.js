// routoo as an AI SDK provider (text, shown thinking and tool calls, streamed or whole): `createRoutoo(options)` returns `routoo(modelId, policy)`, a
// language model of the AI SDK's v4 specification (`@ai-sdk/provider` 4). Each call is turned
// into a Chat Completions body and answered by the router's `serveChat`, so routing, the wire
// formats, retries, fallbacks and spend caps are the Rust core's, as for `ask` and `fetch`.
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

/** The abort the AI SDK recognises (`name === "AbortError"`). */
const aborted = () => new DOMException("the call was aborted", "AbortError");

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

/** A refusal's message, from OpenAI's error body. */
function refusal(served) {
  let error;
  try {
    error = JSON.parse(served.body).error;
  } catch {
    error = { message: served.body };
  }
  return new RoutooError(error?.message ?? `routoo answered ${served.status}`, { status: served.status, code: error?.code });
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
      const signal = options.abortSignal;
      const served = await router.serveChat(body, { ...call, policy, signal }).catch((e) => {
        throw signal?.aborted ? aborted() : e;
      });
      if (served.status !== 200) throw refusal(served);
      const answer = JSON.parse(served.body);
      const choice = answer.choices[0];
      return {
        content: [...(choice.message.reasoning_content ? [{ type: "reasoning", text: choice.message.reasoning_content }] : []),
          ...(choice.message.content ? [{ type: "text", text: choice.message.content }] : []),
          ...(choice.message.tool_calls ?? []).map(toolCallPart)],
        finishReason: finishReason(choice.finish_reason),
        usage: usage(answer.usage),
        providerMetadata: { routoo: answer.routoo },
        response: { id: answer.id, modelId: answer.model, timestamp: new Date(answer.created * 1000),
          headers: Object.fromEntries(served.headers) },
        warnings,
      };
    },

    async doStream(options) {
      const { body, warnings } = request(options, true);
      let controller;
      const stream = new ReadableStream({
        start: (c) => {
          controller = c;
          c.enqueue({ type: "stream-start", warnings });
        },
        cancel: () => stop.abort(),
      });
      // Its own controller, so that a reader cancelling the stream stops the call too.
      const stop = new AbortController();
      options.abortSignal?.addEventListener("abort", () => stop.abort(options.abortSignal.reason), { once: true });
      let started = false;
      let textOpen = false;
      let reasoningOpen = false;
      let last = null;
      let usageChunk = null;
      const onChunk = (text) => {
        for (const event of events(text)) {
          if (event.error) {
            controller.enqueue({ type: "error", error: new RoutooError(event.error.message, { code: event.error.code }) });
            continue;
          }
          if (!started) {
            started = true;
            controller.enqueue({ type: "response-metadata", id: event.id, modelId: event.model,
              timestamp: new Date(event.created * 1000) });
          }
          const thought = event.choices[0]?.delta?.reasoning_content;
          if (thought) {
            if (!reasoningOpen) controller.enqueue({ type: "reasoning-start", id: "r0" });
            reasoningOpen = true;
            controller.enqueue({ type: "reasoning-delta", id: "r0", delta: thought });
          }
          const delta = event.choices[0]?.delta?.content;
          if (delta && reasoningOpen) {
            controller.enqueue({ type: "reasoning-end", id: "r0" });
            reasoningOpen = false;
          }
          if (delta) {
            if (!textOpen) controller.enqueue({ type: "text-start", id: "0" });
            textOpen = true;
            controller.enqueue({ type: "text-delta", id: "0", delta });
          }
          // The router sends each call whole, after the text.
          for (const call of event.choices[0]?.delta?.tool_calls ?? []) {
            if (textOpen) controller.enqueue({ type: "text-end", id: "0" });
            textOpen = false;
            const part = toolCallPart(call);
            controller.enqueue({ type: "tool-input-start", id: part.toolCallId, toolName: part.toolName });
            controller.enqueue({ type: "tool-input-delta", id: part.toolCallId, delta: part.input });
            controller.enqueue({ type: "tool-input-end", id: part.toolCallId });
            controller.enqueue(part);
          }
          if (event.choices[0]?.finish_reason) last = event;
          if (event.usage) usageChunk = event.usage;
        }
      };
      return new Promise((resolve, reject) => {
        let head = null;
        router.serveChat(body, {
          ...call, policy, signal: stop.signal,
          onHead: (h) => {
            head = h;
            resolve({ stream, response: { headers: Object.fromEntries(h.headers) } });
          },
          onChunk: (text) => {
            try {
              onChunk(text);
            } catch {
              // The reader cancelled: `stop` ends the call.
            }
          },
        }).then((served) => {
          if (!head) return reject(refusal(served));
          try {
            if (reasoningOpen) controller.enqueue({ type: "reasoning-end", id: "r0" });
            if (textOpen) controller.enqueue({ type: "text-end", id: "0" });
            if (last) {
              controller.enqueue({ type: "finish", finishReason: finishReason(last.choices[0].finish_reason),
                usage: usage(usageChunk), providerMetadata: { routoo: last.routoo } });
            }
            controller.close();
          } catch {
            // Cancelled by the reader.
          }
        }, (error) => {
          const e = stop.signal.aborted ? aborted() : error;
          if (!head) return reject(e);
          try {
            controller.error(e);
          } catch {
            // Cancelled by the reader.
          }
        });
      });
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

// The OpenAI SDK's `fetch`: a Chat Completions request answered by the router. The request
// is read and the answer written in Rust (`serveChat`); here only bytes and streams move.
// Nothing of the SDK's request but its body is read, so its `apiKey`, `Authorization` and
// `x-stainless-*` headers go nowhere.

import { readBody } from "./load.js";

/** Largest request body read, in bytes (as the Rust core's `serve::MAX_BODY_BYTES`). */
const MAX_BODY = 8 << 20;

/** An answer the adapter gives itself: JSON, and never retried by the SDK. */
function refusal(status, code, message) {
  const body = JSON.stringify({ error: { message, type: "invalid_request_error", param: null, code } });
  return new Response(body, { status, headers: { "content-type": "application/json", "x-should-retry": "false" } });
}

/** The abort an SDK recognises (`name === "AbortError"`), carrying the signal's reason. */
function aborted(signal) {
  const error = new DOMException("the request was aborted", "AbortError");
  if (signal?.reason !== undefined) error.cause = signal.reason;
  return error;
}

/**
 * A `fetch` that answers OpenAI Chat Completions requests (`POST …/chat/completions`) with
 * `router` (a `Router`, or a `RouterWorker`: the function stays on the caller's side).
 * `model: "routoo/auto"` routes; `routoo/<id>` pins a pool model. `policy` is each request's
 * routing (a body's `routoo` field overrides it field by field); the call options are `ask`'s.
 *
 * @param {any} router a `Router` or a `RouterWorker`: anything with `serveChat`
 * @param {import("./index.js").FetchOptions} [options]
 * @returns {typeof globalThis.fetch}
 */
export function routerFetch(router, { keys, local, maxTokens, idleTimeoutMs, timeoutMs, askTimeoutMs, onEvent,
  ...policy } = {}) {
  const call = Object.fromEntries(Object.entries({ keys, local, maxTokens, idleTimeoutMs, timeoutMs, askTimeoutMs,
    onEvent }).filter(([, v]) => v !== undefined));
  return async function fetch(input, init) {
    const request = new Request(input, init);
    const signal = init?.signal ?? request.signal;
    if (signal?.aborted) throw aborted(signal);
    if (request.method !== "POST" || !new URL(request.url).pathname.endsWith("/chat/completions")) {
      return refusal(404, "not_found", `routoo answers POST …/chat/completions only, not ${request.method} ${new URL(request.url).pathname}`);
    }
    let body;
    try {
      body = new TextDecoder().decode(await readBody(request, () => {}, MAX_BODY));
    } catch {
      return refusal(413, "request_too_large", `the request body is more than ${MAX_BODY} bytes`);
    }
    // Its own controller, so that a reader cancelling the stream stops the call too.
    const stop = new AbortController();
    const onAbort = () => stop.abort(signal.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    const encoder = new TextEncoder();
    let controller;
    let streaming = false;
    const stream = new ReadableStream({
      start: (c) => { controller = c; },
      cancel: () => stop.abort(),
    });
    return new Promise((resolve, reject) => {
      const done = () => signal?.removeEventListener("abort", onAbort);
      router.serveChat(body, {
        ...call,
        policy,
        signal: stop.signal,
        onHead: (head) => {
          streaming = true;
          resolve(new Response(stream, { status: head.status, headers: head.headers }));
        },
        onChunk: (event) => {
          try {
            controller.enqueue(encoder.encode(event));
          } catch {
            // The reader cancelled: `stop` ends the call.
          }
        },
      }).then((served) => {
        done();
        if (streaming) controller.close();
        else resolve(new Response(served.body, { status: served.status, headers: served.headers }));
      }, (error) => {
        done();
        const e = stop.signal.aborted ? aborted(signal) : error;
        if (streaming) {
          try {
            controller.error(e);
          } catch {
            // Already cancelled.
          }
        } else reject(e);
      });
    });
  };
}

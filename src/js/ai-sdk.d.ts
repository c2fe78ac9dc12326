import type { LoadOptions, RouterWorker } from "./index.js";
import type { AskCall, Policy, Router } from "./routoo.js";

/** `createRoutoo`'s options: `loadRouter`'s (or a `router` already loaded), `ask`'s call
 *  options, and the policy every model starts from. */
export interface RoutooProviderOptions extends LoadOptions,
  Pick<AskCall, "keys" | "local" | "maxTokens" | "idleTimeoutMs" | "timeoutMs" | "askTimeoutMs" | "onEvent"> {
  /** A router already loaded, instead of loading one. */
  router?: Router | RouterWorker;
  /** Every model's policy, before its own and a call's `providerOptions.routoo`. */
  policy?: Policy;
}

/** A language model of the AI SDK's v4 specification (`@ai-sdk/provider` 4), as `streamText`,
 *  `generateText` and the rest take it. */
export interface RoutooLanguageModel {
  readonly specificationVersion: "v4";
  readonly provider: "routoo";
  readonly modelId: string;
  readonly supportedUrls: Record<string, RegExp[]>;
  doGenerate(options: any): PromiseLike<any>;
  doStream(options: any): PromiseLike<any>;
}

/** `routoo("auto", policy)` routes each call; `routoo("<pool id>")` pins one model. */
export interface RoutooProvider {
  (modelId?: string, policy?: Policy): RoutooLanguageModel;
  languageModel(modelId?: string, policy?: Policy): RoutooLanguageModel;
  /** The router the provider calls. */
  readonly router: Router | RouterWorker;
}

/** Loads a router (unless `router` is given) and returns an AI SDK provider over it. */
export function createRoutoo(options?: RoutooProviderOptions): Promise<RoutooProvider>;

/** What routoo refuses or could not answer; the AI SDK does not retry it (routoo has). */
export class RoutooError extends Error {
  status?: number;
  code?: string;
}

/** An AI SDK prompt as Chat Completions messages. */
export function chatMessages(prompt: unknown[]): { role: string; content: string }[];

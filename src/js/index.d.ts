export * from "./routoo.js";
import type { Router, HeadsFile, AskCall, ObservedOutput, Policy } from "./routoo.js";

/** Bytes loaded so far, of `total`. */
export interface LoadProgress { loaded: number; total: number }

/** Files with their size and sha256, as a site that pins its own build lists them (the demo's build.json). */
export interface Listing {
  /** Every file, by its path relative to `baseUrl`. */
  files: Record<string, { bytes: number; sha256: string }>;
  /** The files a router is made of: the glue (`…/routoo.js`), the wasm and the bundle. */
  router: string[];
}

export interface LoadOptions {
  /** Folder holding the package's files (`routoo_bg.wasm`, `models/…`), e.g. a CDN copy of the
   *  package; by default the files beside the package's own module. */
  baseUrl?: string | URL;
  /** Load the build this listing names (under `baseUrl`, by default the page's folder) instead
   *  of the package's own files; the glue is imported from an address naming its digest. */
  listing?: Listing;
  /** The pool to route over (object or JSON string); the default pool when omitted. */
  pool?: object | string;
  /** Without a pool, also route to the default pool's historical models (no longer served). */
  historical?: boolean;
  /** Price the pool as it bills on this day (`YYYY-MM-DD`, UTC), scheduled changes included;
   *  by default today. */
  date?: string;
  /** Heads files to add (calibrated models), as `routoo calibrate` or `router.calibrate` wrote them. */
  heads?: (HeadsFile | string)[];
  /** Called as bytes arrive. */
  onProgress?: (progress: LoadProgress) => void;
  /** Aborting it stops the download; the promise rejects with a `LoadError` of kind "aborted". */
  signal?: AbortSignal;
  /** Cache Storage to keep the checked files in (by digest), or `false` for none. Default "routoo-blobs". */
  cache?: string | false;
}

/** A file could not be fetched, or failed its checksum. */
export class LoadError extends Error {
  kind: "network" | "checksum" | "aborted";
}

/** The Cache Storage the package keeps its files in by default. */
export const CACHE: string;

/** `router.fetch`'s options: the keys and call options of `ask`, and the default policy of
 *  every request (a request body's `routoo` field overrides it field by field). */
export interface FetchOptions extends Policy, Pick<AskCall, "keys" | "local" | "maxTokens" | "idleTimeoutMs"
  | "timeoutMs" | "askTimeoutMs" | "onEvent"> {}

declare module "./routoo.js" {
  interface Router {
    /** A `fetch` for the OpenAI SDK (`new OpenAI({ apiKey: "routoo", dangerouslyAllowBrowser: true,
     *  fetch: router.fetch({ keys }) })`): `chat.completions.create({ model: "routoo/auto", … })` is
     *  routed and answered in OpenAI's shapes, whichever provider answers, with the route in
     *  `x-routoo-*` headers and the body's `routoo` field. The SDK's own key and headers are never sent. */
    fetch(options?: FetchOptions): typeof globalThis.fetch;
  }
}

/** `router.fetch(options)` for any router (a `Router`, or a `RouterWorker`). */
export function routerFetch(router: Pick<Router, "serveChat"> | Pick<RouterWorker, "serveChat">,
  options?: FetchOptions): typeof globalThis.fetch;

/** Loads the wasm and the bundle (checked against their sha256, cached) and returns a router. */
export function loadRouter(options?: LoadOptions): Promise<Router>;

/** The bundle's probe set, the text `router.calibrate` takes as `probeSet`. */
export function loadProbeSet(options?: Pick<LoadOptions, "baseUrl" | "listing" | "signal" | "cache">): Promise<string>;

type Promised<F> = F extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never;
type Forwarded = "addHeads" | "ask" | "bases" | "calibrate" | "calibrationOutlook" | "callable" | "curve"
  | "curvePoint" | "date" | "discoverLocal" | "keyOrigins" | "models" | "placeFromCard" | "pool" | "poolEstimates"
  | "predict" | "refitHeads" | "route" | "routeBatch" | "servingPool" | "serveChat" | "setDate" | "setPool"
  | "suggestPool" | "uncallable";

/** A router running in a Worker: `Router`'s methods, each returning a promise. */
export interface RouterWorker extends RouterWorkerMethods {}
export type RouterWorkerMethods = { [K in Forwarded]: Promised<Router[K]> };
export interface RouterWorkerOptions {
  /** Called when the worker fails (a wasm trap): it is stopped and every call rejects, so start another. */
  onError?: (error: Error) => void;
}
export class RouterWorker {
  /** Starts a worker (by default the package's own) and loads the router in it. */
  static load(options?: LoadOptions & RouterWorkerOptions & { worker?: Worker }): Promise<RouterWorker>;
  constructor(worker?: Worker, options?: RouterWorkerOptions);
  /** `Router.askDefaults()`, asked of the worker. */
  askDefaults(): Promise<ReturnType<typeof Router.askDefaults>>;
  /** `Router.checkEntry(pool, model)`, asked of the worker. */
  checkEntry(...args: Parameters<typeof Router.checkEntry>): Promise<void>;
  /** `Router.observeOutput(previous, outputTokens)`, asked of the worker. */
  observeOutput(previous: ObservedOutput | null | undefined, outputTokens: number): Promise<ReturnType<typeof Router.observeOutput>>;
  /** `Router.originOf(baseUrl)`, asked of the worker. */
  originOf(baseUrl: string): Promise<ReturnType<typeof Router.originOf>>;
  /** `Router.fetch`: the function stays on this side, each request goes to the worker. */
  fetch(options?: FetchOptions): typeof globalThis.fetch;
  /** Stops the worker; calls in flight reject. */
  terminate(): void;
}

export * from "./routoo.js";
import type { Router, HeadsFile } from "./routoo.js";

/** Bytes loaded so far, of `total`. */
export interface LoadProgress { loaded: number; total: number }

export interface LoadOptions {
  /** Folder holding the package's files (`routoo_bg.wasm`, `models/…`), e.g. a CDN copy of the
   *  package; by default the files beside the package's own module. */
  baseUrl?: string | URL;
  /** The pool to route over (object or JSON string); the default pool when omitted. */
  pool?: object | string;
  /** Without a pool, also route to the default pool's historical models (no longer served). */
  historical?: boolean;
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

/** Loads the wasm and the bundle (checked against their sha256, cached) and returns a router. */
export function loadRouter(options?: LoadOptions): Promise<Router>;

/** The bundle's probe set, the text `router.calibrate` takes as `probeSet`. */
export function loadProbeSet(options?: Pick<LoadOptions, "baseUrl" | "signal" | "cache">): Promise<string>;

type Promised<F> = F extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never;
type Forwarded = "addHeads" | "ask" | "calibrate" | "calibrationOutlook" | "callable" | "curve" | "keyOrigins"
  | "models" | "pool" | "poolEstimates" | "predict" | "route" | "routeBatch" | "servingPool" | "setPool"
  | "suggestPool";

/** A router running in a Worker: `Router`'s methods, each returning a promise. */
export interface RouterWorker extends RouterWorkerMethods {}
export type RouterWorkerMethods = { [K in Forwarded]: Promised<Router[K]> };
export class RouterWorker {
  /** Starts a worker (by default the package's own) and loads the router in it. */
  static load(options?: LoadOptions & { worker?: Worker }): Promise<RouterWorker>;
  constructor(worker?: Worker);
  /** Stops the worker; calls in flight reject. */
  terminate(): void;
}

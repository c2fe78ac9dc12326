//! JavaScript bindings: a thin layer over [`Router`]; no logic lives here.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::calibrate::{CalibrateOptions, Calibration, HeadsFile, Plan, Step, DEFAULT_PROBES};
use crate::card::Card;
use crate::chat::{Conversation, Message};
use crate::error::Error;
use crate::pool::PoolModel;
use crate::probe::ProbeSet;
use crate::provider::{self, ApiKey, AskOptions, Keys, Next, Progress};
use crate::serve;
use crate::transport::fetch::Fetch;
use crate::{Constraints, Pool, Prediction, Predictor, RouteOptions, Router};

#[wasm_bindgen(typescript_custom_section)]
const ASK_TYPES: &str = r#"
/** One turn of a conversation, as OpenAI's `messages` write it: an assistant's `tool_calls`,
 *  and a tool turn's result for the call `tool_call_id` names. */
export interface ChatMessage {
  role: "system" | "user" | "assistant" | "tool";
  content: string | null;
  tool_calls?: ToolCall[];
  tool_call_id?: string;
}

/** A tool call, as OpenAI writes it (`arguments`: a JSON object as text); Gemini's thought
 *  signature rides in `extra_content.google.thought_signature` and must be sent back. */
export interface ToolCall {
  id: string;
  type?: "function";
  function: { name: string; arguments: string };
  extra_content?: { google: { thought_signature: string } };
}

/** A prompt, or a conversation: system turns first, then user and assistant turns, the last
 *  the user's or a tool's (every call of an assistant turn answered by a tool turn). The router predicts from the last user turn (earlier turns fill what room the
 *  encoder has left, most recent first), counts every turn in the cost, and sends them all. */
export type Prompt = string | ChatMessage[] | ToolPrompt;

/** A conversation with tools or an answer schema, as OpenAI's Chat Completions writes them; it
 *  goes only to pool models whose entry `supports` what it needs. */
export interface ToolPrompt {
  messages: ChatMessage[];
  tools?: { type: "function"; function: { name: string; description?: string; parameters?: object } }[];
  tool_choice?: "auto" | "none" | "required" | { type: "function"; function: { name: string } };
  response_format?: { type: "text" } | { type: "json_object" }
    | { type: "json_schema"; json_schema: { name?: string; schema: object } };
}

/** Hard limits on each request. */
export interface Constraints {
  /** Most US$ one request may cost. */
  maxCostPerRequest?: number;
  /** Slowest typical latency allowed, in ms. */
  maxLatencyMs?: number;
  /** Providers that may be used (default: all). */
  providers?: string[];
  /** The only models that may be chosen (default: every pool model). */
  models?: string[];
  /** Models never to choose. */
  exclude?: string[];
}

/** How to route: a budget (or λ) and hard limits. */
export interface RouteOptions extends Constraints {
  /** Target average spend, US$ per 1,000 requests (default: the best predicted, whatever it costs). */
  budget?: number;
  /** Quality per US$ to trade at, instead of a budget. */
  lambda?: number;
  /** Least predicted quality (chance less margin, 0-1) the choice must reach: the cheapest model
   * that does, or the budget's choice when it does; when none does, routing throws, naming the
   * closest. */
  minQuality?: number;
  /** Most US$ one request may cost in all, retries and fallbacks included: `ask` (with its own
   *  `maxCost`, the smaller holds), `router.fetch` and the AI SDK provider hold each call's worst
   *  case under what is left. `route` leaves it to them; `maxCostPerRequest` bounds the estimate. */
  maxCost?: number;
  /** Put the models on this machine first, in the order the other rules rank them; the others
   *  stay as fallbacks. */
  preferLocal?: boolean;
}

/** One request's policy: the same fields for `route`, `ask`, `router.fetch` (where a request
 *  body's `routoo` field overrides it field by field) and the AI SDK provider. */
export type Policy = RouteOptions;

/** How `Router.ask` calls providers. */
export interface AskCall {
  /** API keys by provider name (sent only to its official origin, e.g. `{openai: "sk-..."}`) or
   *  by origin (`{"https://llm.example.com": "..."}`, for a custom base URL). */
  keys?: Record<string, string>;
  /** Servers on this machine the user turned on, as origins (`["http://127.0.0.1:11434"]`):
   *  the pool's local models are probed and called only there. None by default. */
  local?: string[];
  /** Most tokens the answer may take (default 1024). */
  maxTokens?: number;
  /** Stream the answer (default true). */
  stream?: boolean;
  /** Longest silence from a provider before the call times out, in ms (default 60000). */
  idleTimeoutMs?: number;
  /** Longest one call may take in all, however steadily it streams (default 600000). */
  timeoutMs?: number;
  /** No call starts, and no retry waits, later than this after the ask began (default 900000);
   *  with timeoutMs per call, an ask ends within the two added. */
  askTimeoutMs?: number;
  /** Most US$ this ask may cost, retries and fallbacks included: each call's worst case
   *  (input at one token per byte, plus maxTokens of answer) must fit what is left, so
   *  maxTokens is lowered to fit, or the model is passed over. A rejection carries `spent`. */
  maxCost?: number;
  /** Aborting it stops the call: the promise rejects with "stopped". */
  signal?: AbortSignal;
  /** Each piece of the answer as it arrives. */
  onText?: (text: string) => void;
  /** Each piece of the model's shown thinking (Anthropic's thinking, Gemini's thought parts,
   *  the `reasoning_content` of OpenAI-compatible servers), apart from the answer. */
  onReasoning?: (text: string) => void;
  /** What is happening: a call starts, or one failed and what comes next. */
  onEvent?: (event: AskEvent) => void;
}

export type AskEvent =
  | { type: "calling"; model: string; provider: string; retry: number; estimatedCost: number }
  | { type: "failed"; model: string; provider: string; error: string;
      next: "retry" | "fallback" | "giveUp"; waitMs?: number };

/** `serveChat`'s call: `ask`'s, with the policy and where a streamed answer goes. */
export interface ServeCall extends Omit<AskCall, "maxCost" | "stream" | "onText" | "onReasoning"> {
  policy?: Policy;
  /** A streamed answer's status and headers, once routed. */
  onHead?: (head: Served) => void;
  /** Each server-sent event of a streamed answer, as text. */
  onChunk?: (event: string) => void;
}

/** An HTTP answer: status, headers and, unless it was streamed through `onChunk`, its body. */
export interface Served { status: number; headers: [string, string][]; body: string | null }

/** What a request may need of a model beyond text. */
export type Capability = "tools" | "structuredOutput";

/** A model to calibrate or add: a pool entry. */
export interface PoolModel {
  id: string; provider: string; apiModel: string; baseUrl: string;
  /** US$ per 1M input and output tokens. */
  priceIn: number; priceOut: number;
  contextWindow: number; latencyMs: number;
  expectedOutputTokens?: number;
  /** A labelled model whose head this one borrows until it is calibrated. */
  like?: string;
  /** No head: routed with the predictor's prior until calibrated. */
  uncalibrated?: boolean;
  /** Labelled in the routing data but no longer served. */
  historical?: boolean;
  /** When the prices were read (YYYY-MM-DD), and from which page. */
  priceDate?: string;
  priceSource?: string;
  /** How hard the model thinks (`low`, `medium`, `high`, ...), in each provider's setting. */
  reasoningEffort?: string;
  /** Tokens of room for thinking added to the answer limit of each call to it (a cap still
   *  bounds the sum). */
  thinkingRoom?: number;
  /** The prices come from a page other than the provider's own: unconfirmed. */
  priceUnconfirmed?: boolean;
  /** Published scores that place the model when no head of its own does (see `Card`). */
  scores?: Score[];
  /** What it does beyond text; a request that needs tools or an answer schema goes only to
   *  models that list it. */
  supports?: Capability[];
  /** Scheduled price changes, oldest first: from `from` (a UTC day) on, `in` / `out` US$ per
   *  1M tokens; before the first, priceIn / priceOut. A router prices by its `date()`. */
  prices?: { from: string; in: number; out: number }[];
  /** What its answers were really billed as output (`Router.observeOutput` keeps it): cost
   *  estimates move from the expected output toward it. */
  observedOutput?: ObservedOutput;
}

/** A model's recent answers: how many (1 to 50; older ones fade) and the mean output tokens
 *  each was billed, thinking included. */
export interface ObservedOutput { answers: number; meanTokens: number }

/** One published score: `accuracy` (0-1) on a benchmark the bundle maps, where and when. */
export interface Score {
  benchmark: string; subject?: string; accuracy: number;
  /** Questions behind the score (the benchmark's published size by default). */
  n?: number;
  source: string;
  /** YYYY-MM-DD. */
  date: string;
}

/** A model's published scores, for `placeFromCard`. */
export interface Card { model: string; scores: Score[] }

/** What `discoverLocal` found at one server on this machine. */
export interface LocalServer {
  origin: string;
  /** Whether it answered with a list of models. */
  answered: boolean;
  /** The models it lists, as it names them. */
  listed: string[];
  /** The pool's models it serves, and the name it serves each under. */
  serves: { id: string; served: string }[];
}

/** What a pool model's estimate rests on. */
export type Basis =
| { kind: "labels"; tables: string[]; rows: number }
| { kind: "evidence"; scores: Score[]; probes: number }
| { kind: "price"; index: number }
| { kind: "like"; model: string; tables: string[]; domains: string[]; keeps: number | null }
| { kind: "prior" }
| { kind: "unstated" };

/** The models to route between (`expectedOutputTokens` defaults to 256). */
export interface Pool { expectedOutputTokens?: number; models: PoolModel[] }

/** How the routing data billed a labelled model's answers to such a prompt: its input at
 * `inputScale` times the list price, `outputTokens` of answer at the output price. */
export interface Billing { inputScale: number; inputTokens?: number; outputTokens: number }

/** A predicted chance of a good answer, and its standard deviation; with `billing` where the
 * routing data billed the model, which its cost estimate then follows. */
export interface Estimate { quality: number; sd: number; billing?: Billing }

/** A model's estimate. */
export interface ModelQuality extends Estimate { model: string }

/** What `predict` returns. */
export interface Prediction {
  /** Tokens the encoder read, special tokens included. */
  tokens: number;
  /** True when the prompt was longer than the encoder takes and only its start was read. */
  truncated: boolean;
  /** Characters the request sends (every turn of a conversation), which its cost counts. */
  chars: number;
  /** Each head's estimate. */
  quality: ModelQuality[];
  /** The prior an uncalibrated model is routed with. */
  uncalibrated: Estimate | null;
}

/** What one request to one model is expected to cost. */
export interface CostEstimate { inputTokens: number; outputTokens: number; usd: number }

/** A model a request may go to, with what the router expects of it. */
export interface Candidate {
  model: string; provider: string;
  /** Predicted chance of a good answer. */
  quality: number;
  /** What the selector discounts for the estimate's uncertainty. */
  margin: number;
  cost: CostEstimate;
  /** Share by which its cost weighs more in the choice: the cost estimate's resolution for a
   * model that is not the incumbent, 0 for it. */
  premium: number;
  /** quality - margin - λ·cost·(1 + premium): what the ranking sorts by. */
  score: number;
}

/** Why a model was left out. */
export type Reason =
| { kind: "contextWindow"; needed: number; window: number }
| { kind: "maxCost"; cost: number; limit: number }
| { kind: "maxLatency"; latencyMs: number; limit: number }
| { kind: "noKey"; provider: string }
| { kind: "excluded" }
| { kind: "notAllowed" }
| { kind: "unsupported"; need: Capability }
| { kind: "belowMinQuality"; value: number; min: number };

export interface Exclusion { model: string; reason: Reason; message: string }

/** How a route picked its model. */
export type Rule =
| { kind: "best" }
| { kind: "budget" }
| { kind: "cheapestAbove"; min: number }
| { kind: "budgetAbove"; min: number }
| { kind: "local" };

/** What `route` returns. */
export interface Decision {
  choice: Candidate;
  /** Every allowed model, best first: fall back down this list. */
  ranked: Candidate[];
  excluded: Exclusion[];
  lambda: number;
  budget: number | null;
  minQuality: number | null;
  /** The rule that picked the choice; with the choice, `ranked[1]`, λ and `excluded`, the route's reason. */
  rule: Rule;
  /** Why this model, in one plain sentence. */
  why: string;
  /** The reference prompts' average spend at this λ, US$ per 1,000 requests. */
  expectedCostPer1k: number;
  tokens: number;
  truncated: boolean;
}

/** What `routeBatch` returns. */
export interface BatchPlan {
  choices: Candidate[];
  spend: number; budgetTotal: number; expectedAccuracy: number; lambda: number;
  minSpend: number; maxSpend: number;
}

export interface CurvePoint { lambda: number; costPer1k: number; quality: number }

/** The pool's trade of spend for quality on the reference prompts, by λ. */
export interface BudgetCurve { points: CurvePoint[] }

/** What `suggestPool` returns. */
export interface Suggestion {
  budgetPer1k: number;
  /** In the order they were added, each with what it adds. */
  models: { model: string; expectedAccuracy: number; expectedSpendPer1k: number; adds: number }[];
  expectedAccuracy: number;
  expectedSpendPer1k: number;
}

/** What `ask` does when the call leaves something out. */
export interface AskDefaults { maxTokens: number; idleTimeoutMs: number; timeoutMs: number; askTimeoutMs: number }

/** How `Router.calibrate` sends the probes. */
export interface CalibrateCall {
  /** The bundle's probe set: the text of `probes.json` (checked against the bundle's digest). */
  probeSet: string;
  /** Keys as for `ask`. */
  keys?: Record<string, string>;
  /** Servers on this machine turned on, as for `ask`. */
  local?: string[];
  /** Probes to send from the start of the set (default 100; 25 gives a rough place). */
  probes?: number;
  /** Most answer tokens per probe (default 1024). */
  maxTokens?: number;
  /** Most US$ the whole calibration may cost. */
  maxCost?: number;
  idleTimeoutMs?: number;
  timeoutMs?: number;
  /** Aborting it stops after the probe in flight; what was graded is fitted (rejects if none). */
  signal?: AbortSignal;
  /** Each probe as it is sent and as it is graded. */
  onProgress?: (p: CalibrationProgress) => void;
}

export type CalibrationProgress =
  | { type: "sending"; index: number; total: number }
  | { type: "done"; index: number; id: string; correct: boolean | null; spent: number; error?: string };

/** What `probes` probes are expected to cost, and at most, US$. */
export interface CostOutlook { probes: number; expected: number; worst: number }

/** A heads file, as `routoo calibrate` writes and `addHeads` reads it. */
export interface HeadsFile {
  format: "routoo-heads";
  /** sha256 of the encoder whose space the heads live in. */
  encoder: string;
  heads: { id: string; weights: number[]; bias: number; covariance?: number[];
           evidence?: { scores?: Score[]; probes: number } }[];
  calibrations: { model: PoolModel; correct: number; graded: number; spent: number; card?: Card;
                  stopped?: string; results: { id: string; correct: boolean | null; spent: number;
                  error?: string }[] }[];
}

/** The answer, who gave it, what it cost, and what failed before. */
export interface Reply {
  model: string;
  provider: string;
  answer: { text: string; finish: "stop" | "length" | "contentFilter" | "toolCalls" | "refusal" | { other: string } | null;
            usage: { inputTokens: number; outputTokens: number } | null;
            /** The model's shown thinking, when it showed any. */
            reasoning?: string;
            /** The tools the model called, when it called any. */
            toolCalls?: ToolCall[] };
  /** US$ from the provider's token counts; null when it reported none. */
  cost: number | null;
  /** The router's estimate for this model, US$. */
  estimatedCost: number;
  /** A stop reason worth showing (token limit, content filter). */
  note: string | null;
  /** The answer limit the call was made with (lowered to fit maxCost). */
  maxTokens: number;
  /** What this ask counts for in all, US$: this answer's cost (its worst case when none was
   *  reported) plus every failed call's `cost`. */
  spent: number;
  attempts: { model: string; provider: string; error: string; cost: number }[];
}
"#;

/// The one place an error becomes a JS `Error`.
fn js_error(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

/// An `ask` failure as a JS `Error` that also carries the failed calls and what they count
/// for under a spend cap (`attempts`, `spent`), so a page can keep its session's spend.
fn ask_error(e: &provider::AskError) -> JsValue {
    let error = js_sys::Error::new(&e.to_string());
    let attempts = e.attempts();
    let spent: f64 = attempts.iter().map(|a| a.cost).sum();
    if let Ok(list) = to_js(&attempts) {
        let _ = js_sys::Reflect::set(&error, &JsValue::from_str("attempts"), &list);
    }
    let _ = js_sys::Reflect::set(
        &error,
        &JsValue::from_str("spent"),
        &JsValue::from_f64(spent),
    );
    error.into()
}

/// `value` as a plain JS value, by one JSON string: building it field by field through the
/// boundary took ~2 ms for a prediction of a hundred models, `JSON.parse` a few µs. A
/// non-finite number becomes `null`, as in JSON.
fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsError> {
    let text = serde_json::to_string(value).map_err(js_error)?;
    js_sys::JSON::parse(&text).map_err(|e| {
        let why = e.as_string().unwrap_or_else(|| format!("{e:?}"));
        js_error(format!("cannot hand a result to JS: {why}"))
    })
}

#[wasm_bindgen(start)]
fn start() {
    console_error_panic_hook::set_once();
}

/// What an ask call left out becomes; `Router.askDefaults()` tells a page, so it keeps no copy.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AskDefaults {
    max_tokens: u32,
    idle_timeout_ms: f64,
    timeout_ms: f64,
    ask_timeout_ms: f64,
}

const ASK_DEFAULTS: AskDefaults = AskDefaults {
    max_tokens: provider::DEFAULT_MAX_TOKENS,
    idle_timeout_ms: 60_000.0,
    timeout_ms: 600_000.0,
    ask_timeout_ms: 900_000.0,
};

/// Reads a prompt: a string, or an array of `{role, content}` turns.
fn conversation_from_js(prompt: &JsValue) -> Result<Conversation, JsError> {
    if let Some(text) = prompt.as_string() {
        return Ok(Conversation::from_prompt(&text));
    }
    let bad = |why: String| js_error(Error::Conversation(why));
    if js_sys::Array::is_array(prompt) {
        let messages: Vec<Message> = strict(prompt.clone()).map_err(bad)?;
        return Conversation::new(messages).map_err(js_error);
    }
    if !prompt.is_object() {
        return Err(bad(
            "a prompt is a string, an array of {role, content} messages, or {messages, tools, \
             tool_choice, response_format}"
                .into(),
        ));
    }
    // A request with tools: `{messages, tools?, tool_choice?, response_format?}`, as OpenAI
    // writes them.
    let json = |name: &str| -> Result<Option<serde_json::Value>, JsError> {
        let v = field(prompt, name);
        if !present(&v) {
            return Ok(None);
        }
        strict::<serde_json::Value>(v)
            .map(Some)
            .map_err(|e| bad(format!("`{name}`: {e}")))
    };
    let known = ["messages", "tools", "tool_choice", "response_format"];
    let keys = js_sys::Object::keys(&js_sys::Object::from(prompt.clone()));
    if let Some(other) = keys
        .iter()
        .filter_map(|k| k.as_string())
        .find(|k| !known.contains(&k.as_str()))
    {
        return Err(bad(format!(
            "a prompt object has no field {other:?} (it takes {})",
            known.join(", ")
        )));
    }
    let messages: Vec<Message> =
        strict(field(prompt, "messages")).map_err(|e| bad(format!("`messages`: {e}")))?;
    let toolset = serve::toolset(
        json("tools")?,
        json("tool_choice")?,
        json("response_format")?,
    )
    .map_err(|e| bad(e.to_string()))?;
    Ok(Conversation::new(messages)
        .map_err(js_error)?
        .with_tools(toolset))
}

/// Today in UTC, `YYYY-MM-DD`, by the page's clock.
fn today() -> String {
    let iso: String = js_sys::Date::new_0().to_iso_string().into();
    iso.chars().take(10).collect()
}

/// Reads a pool given as a JSON string, a plain object, or nothing (the default pool).
fn pool_from_js(pool: JsValue) -> Result<Pool, JsError> {
    if pool.is_undefined() || pool.is_null() {
        return Pool::default_pool().map_err(js_error);
    }
    let json = match pool.as_string() {
        Some(text) => text,
        None => js_sys::JSON::stringify(&pool)
            .map_err(|_| js_error(Error::Pool("the pool is not JSON-serialisable".into())))?
            .into(),
    };
    Pool::from_json(&json).map_err(js_error)
}

async fn fetch_bytes(url: &str) -> Result<Vec<u8>, Error> {
    let fail = |message: String| Error::Fetch {
        url: url.to_string(),
        message,
    };
    let response = gloo_net::http::Request::get(url)
        .send()
        .await
        .map_err(|e| fail(e.to_string()))?;
    if !response.ok() {
        return Err(fail(format!(
            "HTTP {} {}",
            response.status(),
            response.status_text()
        )));
    }
    response.binary().await.map_err(|e| fail(e.to_string()))
}

/// Resolves `file` against the URL of `predictor.json`.
fn sibling(manifest_url: &str, file: &str) -> String {
    match manifest_url.rfind('/') {
        Some(i) => format!("{}{}", &manifest_url[..=i], file),
        None => file.to_string(),
    }
}

/// A router in the page: a predictor bound to a pool.
#[wasm_bindgen(js_name = Router)]
pub struct JsRouter {
    inner: Router,
    /// The pool as given, before pricing: a new day re-prices it.
    listed: Pool,
    /// The day (UTC, `YYYY-MM-DD`) whose prices the router uses: today unless `setDate` says.
    day: String,
    /// The last prompt's prediction: moving the budget re-routes without re-encoding.
    last: RefCell<Option<(Conversation, Prediction)>>,
    /// What each server on this machine listed when `discoverLocal` last asked, by origin.
    served: std::rc::Rc<RefCell<BTreeMap<String, Vec<String>>>>,
}

/// What `discoverLocal` found at one server on this machine.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LocalServer {
    origin: String,
    /// Whether it answered with a list of models.
    answered: bool,
    /// The models it lists, as it names them.
    listed: Vec<String>,
    /// The pool's models it serves: `{id, served}` (the name it serves each under).
    serves: Vec<Served>,
}

#[derive(Serialize)]
struct Served {
    id: String,
    served: String,
}

#[wasm_bindgen(js_class = Router)]
impl JsRouter {
    /// Fetches `predictor.json` from `manifestUrl`, then the files it names beside it.
    /// `pool` is a pool object or JSON string; the default pool when omitted.
    pub async fn load(
        #[wasm_bindgen(js_name = manifestUrl)] manifest_url: String,
        #[wasm_bindgen(unchecked_optional_param_type = "Pool | string")] pool: Option<JsValue>,
    ) -> Result<JsRouter, JsError> {
        let pool = pool_from_js(pool.unwrap_or(JsValue::UNDEFINED))?;
        let manifest_bytes = fetch_bytes(&manifest_url).await.map_err(js_error)?;
        let manifest = crate::bundle::Manifest::from_json(&manifest_bytes).map_err(js_error)?;
        let encoder = fetch_bytes(&sibling(&manifest_url, &manifest.encoder.file))
            .await
            .map_err(js_error)?;
        let tokenizer = fetch_bytes(&sibling(&manifest_url, &manifest.tokenizer.file))
            .await
            .map_err(js_error)?;
        let neighbours = fetch_bytes(&sibling(&manifest_url, &manifest.neighbours.file))
            .await
            .map_err(js_error)?;
        JsRouter::build(&manifest_bytes, &encoder, &tokenizer, &neighbours, pool)
    }

    /// Builds a router from the bytes of `predictor.json`, the encoder, the tokenizer and the
    /// neighbours file.
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(
        manifest: &[u8],
        encoder: &[u8],
        tokenizer: &[u8],
        neighbours: &[u8],
        #[wasm_bindgen(unchecked_optional_param_type = "Pool | string")] pool: Option<JsValue>,
    ) -> Result<JsRouter, JsError> {
        let pool = pool_from_js(pool.unwrap_or(JsValue::UNDEFINED))?;
        JsRouter::build(manifest, encoder, tokenizer, neighbours, pool)
    }

    fn build(
        manifest: &[u8],
        encoder: &[u8],
        tokenizer: &[u8],
        neighbours: &[u8],
        pool: Pool,
    ) -> Result<JsRouter, JsError> {
        let predictor =
            Predictor::from_bytes(manifest, encoder, tokenizer, neighbours).map_err(js_error)?;
        let day = today();
        let inner =
            Router::new(predictor, pool.priced_on(&day).map_err(js_error)?).map_err(js_error)?;
        Ok(JsRouter {
            inner,
            listed: pool,
            day,
            last: RefCell::new(None),
            served: Default::default(),
        })
    }

    /// Prices the pool as it bills on `day` (`YYYY-MM-DD`, UTC) from now on, scheduled price
    /// changes included; a router starts on today.
    #[wasm_bindgen(js_name = setDate)]
    pub fn set_date(&mut self, day: &str) -> Result<(), JsError> {
        let priced = self.listed.priced_on(day).map_err(js_error)?;
        self.inner.set_pool(priced).map_err(js_error)?;
        self.day = day.to_string();
        Ok(())
    }

    /// The day whose prices the router uses (`YYYY-MM-DD`, UTC).
    pub fn date(&self) -> String {
        self.day.clone()
    }

    fn prediction(&self, conversation: &Conversation) -> crate::Result<Prediction> {
        if let Some((last, prediction)) = &*self.last.borrow() {
            if last == conversation {
                return Ok(prediction.clone());
            }
        }
        let prediction = self.inner.predict_conversation(conversation)?;
        *self.last.borrow_mut() = Some((conversation.clone(), prediction.clone()));
        Ok(prediction)
    }

    /// Each model's predicted quality for a prompt or conversation.
    #[wasm_bindgen(unchecked_return_type = "Prediction")]
    pub fn predict(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Prompt")] prompt: JsValue,
    ) -> Result<JsValue, JsError> {
        to_js(&(self.prediction(&conversation_from_js(&prompt)?)).map_err(js_error)?)
    }

    /// Each pool model's estimate for a prompt, in pool order (`[{model, quality, sd}]`):
    /// unlike `predict`, models that borrow a head or are uncalibrated are included.
    #[wasm_bindgen(js_name = poolEstimates, unchecked_return_type = "ModelQuality[]")]
    pub fn pool_estimates(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Prompt")] prompt: JsValue,
    ) -> Result<JsValue, JsError> {
        let prediction = (self.prediction(&conversation_from_js(&prompt)?)).map_err(js_error)?;
        to_js(&self.inner.pool_estimates(&prediction))
    }

    /// Chooses a model: `{choice, ranked, excluded, lambda, budget, ...}`. `options` is a
    /// `RouteOptions` (`budget` in US$ per 1,000 requests, `lambda`, `minQuality`, the limits,
    /// `models`, `exclude`, `preferLocal`; `maxCost` is left to `ask`).
    #[wasm_bindgen(unchecked_return_type = "Decision")]
    pub fn route(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Prompt")] prompt: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "RouteOptions")] options: Option<JsValue>,
    ) -> Result<JsValue, JsError> {
        let options = route_options(options)?;
        let prediction = (self.prediction(&conversation_from_js(&prompt)?)).map_err(js_error)?;
        to_js(&self.inner.decide(&prediction, &options).map_err(js_error)?)
    }

    /// Chooses a model for each prompt so the batch's estimated spend stays within
    /// `budgetTotal` US$: `{choices, spend, budgetTotal, expectedAccuracy, lambda, minSpend,
    /// maxSpend}`. `constraints` may set `maxCostPerRequest`, `maxLatencyMs`, `providers` and
    /// `exclude`.
    #[wasm_bindgen(js_name = routeBatch, unchecked_return_type = "BatchPlan")]
    pub fn route_batch(
        &self,
        prompts: Vec<String>,
        #[wasm_bindgen(js_name = budgetTotal)] budget_total: f64,
        #[wasm_bindgen(unchecked_optional_param_type = "Constraints")] constraints: Option<JsValue>,
    ) -> Result<JsValue, JsError> {
        let constraints: Constraints = match constraints {
            Some(c) if !(c.is_undefined() || c.is_null()) => {
                strict(c).map_err(|e| js_error(format!("invalid batch constraints: {e}")))?
            }
            _ => Constraints::default(),
        };
        let prompts: Vec<&str> = prompts.iter().map(String::as_str).collect();
        let plan = self.inner.route_batch(&prompts, budget_total, &constraints);
        to_js(&plan.map_err(js_error)?)
    }

    /// Routes `prompt` as `route` does among the providers `call.keys` can reach (and local
    /// servers), then asks the chosen model, retrying and falling back down the ranked list.
    /// Resolves to a `Reply`; rejects with an `Error` naming every failed call, or "stopped"
    /// (bad arguments and routing failures reject too: it never throws).
    #[wasm_bindgen(unchecked_return_type = "Promise<Reply>")]
    pub fn ask(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Prompt")] prompt: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "RouteOptions")] options: Option<JsValue>,
        #[wasm_bindgen(unchecked_optional_param_type = "AskCall")] call: Option<JsValue>,
    ) -> js_sys::Promise {
        self.start_ask(prompt, options, call)
            .unwrap_or_else(|e| js_sys::Promise::reject(&JsValue::from(e)))
    }

    fn start_ask(
        &self,
        prompt: JsValue,
        options: Option<JsValue>,
        call: Option<JsValue>,
    ) -> Result<js_sys::Promise, JsError> {
        let conversation = conversation_from_js(&prompt)?;
        let options = route_options(options)?;
        let mut call = AskCall::from_js(&call.unwrap_or(JsValue::UNDEFINED))?;
        call.options.max_cost = tighter(options.max_cost, call.options.max_cost);
        let (pool, decision) =
            (self.decide_for(&conversation, options, &call.keys)).map_err(js_error)?;
        let future = async move {
            let transport = call.transport();
            let mut keys = call.keys.clone();
            let ranked = reachable(&transport, &pool, &mut keys, decision.ranked).await;
            let reply = provider::ask(
                &transport,
                &pool,
                ranked,
                &conversation,
                &keys,
                &call.options,
                |p| call.report(p),
            )
            .await
            .map_err(|e| ask_error(&e))?;
            to_js(&reply).map_err(JsValue::from)
        };
        Ok(wasm_bindgen_futures::future_to_promise(future))
    }

    /// The pool and the decision for an ask among what `keys` reach. Routes as if every
    /// server on this machine answered; those that do not are dropped from the ranking after
    /// the probe in [`reachable`], so nothing is sent to a port nobody vouched for.
    fn decide_for(
        &self,
        conversation: &Conversation,
        mut options: RouteOptions,
        keys: &Keys,
    ) -> crate::Result<(Pool, crate::Decision)> {
        let pool = self.inner.pool().clone();
        with_local(keys.clone(), &pool).restrict(&pool, &mut options.constraints);
        let prediction = self.prediction(conversation)?;
        let decision = self.inner.decide(&prediction, &options)?;
        Ok((pool, decision))
    }

    /// Answers an OpenAI Chat Completions request body (the OpenAI SDK's `fetch`, see the
    /// package's `router.fetch`): routes it under `call.policy` overridden by the body's
    /// `routoo` field, asks as `ask` does, and writes the answer in OpenAI's shapes. A
    /// streamed answer calls `onHead` once routed, then `onChunk` with each server-sent event;
    /// a whole one, and every refusal, comes back in the resolved `Served`. Rejects with
    /// "stopped" when `call.signal` aborts it, and never throws.
    #[wasm_bindgen(js_name = serveChat, unchecked_return_type = "Promise<Served>")]
    pub fn serve_chat(
        &self,
        body: &str,
        #[wasm_bindgen(unchecked_param_type = "ServeCall")] call: JsValue,
    ) -> js_sys::Promise {
        self.start_serve(body, &call)
            .unwrap_or_else(|e| js_sys::Promise::reject(&JsValue::from(e)))
    }

    fn start_serve(&self, body: &str, call: &JsValue) -> Result<js_sys::Promise, JsError> {
        let refused = |e: serve::ServeError| -> Result<js_sys::Promise, JsError> {
            let served = to_js(&ServedAnswer::refusal(&e))?;
            Ok(js_sys::Promise::resolve(&served))
        };
        // A bad fetch option is answered, not thrown: a thrown fetch is a network error to
        // the SDK, which would retry it.
        let options = |e: JsError| {
            let message = js_sys::Error::from(JsValue::from(e)).message();
            serve::ServeError::Field {
                field: "router.fetch options".into(),
                why: String::from(message),
            }
        };
        let mut ask = match AskCall::from_js(call) {
            Ok(a) => a,
            Err(e) => return refused(options(e)),
        };
        let policy = field(call, "policy");
        let policy: RouteOptions = match present(&policy) {
            false => RouteOptions::default(),
            true => match strict(policy) {
                Ok(p) => p,
                Err(e) => return refused(options(js_error(format!("invalid policy: {e}")))),
            },
        };
        let on_head = callback(call, "onHead", "serve call")?;
        let on_chunk = callback(call, "onChunk", "serve call")?;
        let request = match serve::ChatRequest::parse(body, self.inner.pool()) {
            Ok(r) => r,
            Err(e) => return refused(e),
        };
        let options = match serve::policy(policy, &request) {
            Ok(o) => o,
            Err(e) => return refused(e),
        };
        ask.options.max_cost = tighter(options.max_cost, ask.options.max_cost);
        if let Some(limit) = request.max_tokens {
            ask.options.max_tokens = limit;
        }
        ask.options.stream = request.stream;
        let (pool, decision) = match self.decide_for(&request.conversation, options, &ask.keys) {
            Ok(d) => d,
            Err(e) => return refused(serve::ServeError::Route(e.to_string())),
        };
        let route = serve::Route::of(&decision);
        let headers = route.headers(&request);
        let now = js_sys::Date::now();
        let created = (now / 1000.0) as u64;
        let id = format!("chatcmpl-routoo-{:x}{:04x}", now as u64, next_serial());
        let future = async move {
            let transport = ask.transport();
            let mut keys = ask.keys.clone();
            let ranked = reachable(&transport, &pool, &mut keys, decision.ranked).await;
            let emit = |f: &Option<js_sys::Function>, v: &JsValue| {
                if let Some(f) = f {
                    let _ = f.call1(&JsValue::NULL, v);
                }
            };
            if request.stream {
                emit(&on_head, &to_js(&ServedAnswer::head(200, &headers, true))?);
            }
            let mut chunks = serve::Chunks::new(&id, created);
            let mut model = route.model.clone();
            let asked = provider::ask(
                &transport,
                &pool,
                ranked,
                &request.conversation,
                &keys,
                &ask.options,
                |p| match p {
                    Progress::Text(text) if request.stream => {
                        emit(&on_chunk, &JsValue::from_str(&chunks.text(&model, text)));
                    }
                    Progress::Reasoning(text) if request.stream => {
                        emit(
                            &on_chunk,
                            &JsValue::from_str(&chunks.reasoning(&model, text)),
                        );
                    }
                    Progress::Calling { model: m, .. } => {
                        model = m.model.clone();
                        ask.report(p);
                    }
                    other => ask.report(other),
                },
            )
            .await;
            let reply = match asked {
                Ok(reply) => reply,
                Err(e) => match serve::ServeError::of_ask(&e) {
                    None => return Err(ask_error(&e)),
                    Some(error) if request.stream => {
                        emit(&on_chunk, &JsValue::from_str(&serve::Chunks::error(&error)));
                        return Ok(to_js(&ServedAnswer::head(200, &headers, true))?);
                    }
                    Some(error) => return Ok(to_js(&ServedAnswer::refusal(&error))?),
                },
            };
            if request.stream {
                let end = chunks.end(&route, &reply, request.include_usage);
                emit(&on_chunk, &JsValue::from_str(&end));
                Ok(to_js(&ServedAnswer::head(200, &headers, true))?)
            } else {
                let body = serve::completion(&id, created, &route, &reply).to_string();
                Ok(to_js(&ServedAnswer {
                    body: Some(body),
                    ..ServedAnswer::head(200, &headers, false)
                })?)
            }
        };
        Ok(wasm_bindgen_futures::future_to_promise(future))
    }

    /// Routes over another pool from now on (object or JSON string); on error the router
    /// keeps its pool.
    #[wasm_bindgen(js_name = setPool)]
    pub fn set_pool(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "Pool | string")] pool: JsValue,
    ) -> Result<(), JsError> {
        let listed = pool_from_js(pool)?;
        let priced = listed.priced_on(&self.day).map_err(js_error)?;
        self.inner.set_pool(priced).map_err(js_error)?;
        self.listed = listed;
        Ok(())
    }

    /// The pool in use, as a plain object.
    #[wasm_bindgen(unchecked_return_type = "Pool")]
    pub fn pool(&self) -> Result<JsValue, JsError> {
        to_js(self.inner.pool())
    }

    /// The pool in use without its historical models (no longer served): what calls made
    /// today route among. Throws when every model is historical.
    #[wasm_bindgen(js_name = servingPool, unchecked_return_type = "Pool")]
    pub fn serving_pool(&self) -> Result<JsValue, JsError> {
        to_js(&self.listed.serving().map_err(js_error)?)
    }

    /// The pool's budget curve: `{points: [{lambda, costPer1k, quality}]}`.
    #[wasm_bindgen(unchecked_return_type = "BudgetCurve")]
    pub fn curve(&self) -> Result<JsValue, JsError> {
        to_js(self.inner.curve())
    }

    /// The curve's point a budget of `budget` US$ per 1,000 requests buys: the expected
    /// accuracy and spend a page shows beside its slider.
    #[wasm_bindgen(js_name = curvePoint, unchecked_return_type = "CurvePoint | undefined")]
    pub fn curve_point(&self, budget: f64) -> Result<JsValue, JsError> {
        match self.inner.curve().point_for(budget) {
            Some(point) => to_js(point),
            None => Ok(JsValue::UNDEFINED),
        }
    }

    /// The origin a key given for `baseUrl` is sent to, and only to (`https://api.openai.com`);
    /// throws, naming the reason, for a base URL routoo does not call (plain http off this
    /// machine, user info, a query, ...).
    #[wasm_bindgen(js_name = originOf)]
    pub fn origin_of(#[wasm_bindgen(js_name = baseUrl)] base_url: &str) -> Result<String, JsError> {
        crate::endpoint::Endpoint::parse(base_url)
            .map(|e| e.origin())
            .map_err(js_error)
    }

    /// Throws, saying why, when `model` (imported or added by hand) may not join `pool` under
    /// its id: a pool model's id is only for that same model (provider, API model, base URL)
    /// at prices no lower than the pool's.
    #[wasm_bindgen(js_name = checkEntry)]
    pub fn check_entry(
        #[wasm_bindgen(unchecked_param_type = "Pool | string")] pool: JsValue,
        #[wasm_bindgen(unchecked_param_type = "PoolModel")] model: JsValue,
    ) -> Result<(), JsError> {
        let pool = pool_from_js(pool)?;
        let entry: PoolModel =
            strict(model).map_err(|e| js_error(format!("invalid model: {e}")))?;
        pool.admit(&entry).map_err(js_error)
    }

    /// A model's record of billed output after one more answer that was billed
    /// `outputTokens` as output (thinking included: `answer.usage.outputTokens`). Keep it in
    /// the pool entry's `observedOutput`: cost estimates move from the expected output toward it.
    #[wasm_bindgen(js_name = observeOutput, unchecked_return_type = "ObservedOutput")]
    pub fn observe_output(
        #[wasm_bindgen(unchecked_param_type = "ObservedOutput | null | undefined")]
        previous: JsValue,
        #[wasm_bindgen(js_name = outputTokens)] output_tokens: f64,
    ) -> Result<JsValue, JsError> {
        if !output_tokens.is_finite() || output_tokens < 0.0 || output_tokens.fract() != 0.0 {
            return Err(js_error(format!(
                "outputTokens is {output_tokens}; give the whole number of output tokens an answer was billed"
            )));
        }
        let previous = if previous.is_null_or_undefined() {
            None
        } else {
            let record =
                strict(previous).and_then(|p: crate::pool::ObservedOutput| p.check().map(|()| p));
            Some(record.map_err(|e| js_error(format!("invalid observedOutput: {e}")))?)
        };
        to_js(&crate::pool::ObservedOutput::observe(
            previous,
            output_tokens as u64,
        ))
    }

    /// What `ask` uses for what its call leaves out (`maxTokens`, the timeouts).
    #[wasm_bindgen(js_name = askDefaults, unchecked_return_type = "AskDefaults")]
    pub fn ask_defaults() -> Result<JsValue, JsError> {
        to_js(&ASK_DEFAULTS)
    }

    /// Where a key given for each provider of the pool may go: `{provider: origin}`, `null` for
    /// a provider with no official origin (its key must be given for an origin).
    #[wasm_bindgen(js_name = keyOrigins, unchecked_return_type = "Record<string, string | null>")]
    pub fn key_origins(&self) -> Result<JsValue, JsError> {
        let origins: BTreeMap<&str, Option<&str>> = (self.inner.pool().models.iter())
            .map(|m| {
                (
                    m.provider.as_str(),
                    crate::endpoint::official_origin(&m.provider),
                )
            })
            .collect();
        to_js(&origins)
    }

    /// The pool's providers that `keys` (`{providerOrOrigin: key}`) can call, counting the
    /// servers on this machine turned on in `local` (origins), which `ask` then probes: what a
    /// page shows as usable and routes among.
    pub fn callable(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Record<string, string>")] keys: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "string[]")] local: Option<JsValue>,
    ) -> Result<Vec<String>, JsError> {
        let keys = self.keys_as_found(keys, local)?;
        Ok(keys.callable_providers(self.inner.pool()))
    }

    /// `keys` with the servers in `local` turned on, each answering with what `discoverLocal`
    /// last found it listing.
    fn keys_as_found(&self, keys: JsValue, local: Option<JsValue>) -> Result<Keys, JsError> {
        let mut keys = keys_from_js(keys, "invalid keys")?;
        turn_on_local(
            &mut keys,
            local.unwrap_or(JsValue::UNDEFINED),
            "invalid local",
        )?;
        for (origin, listed) in self.served.borrow().iter() {
            keys.local_answered(origin, listed.clone());
        }
        Ok(keys)
    }

    /// The pool's models that cannot be called with `keys` and the servers in `local`, as
    /// `discoverLocal` last found them (e.g. a local model its server does not list), by id:
    /// route with them excluded so that the page never offers what nothing serves.
    pub fn uncallable(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Record<string, string>")] keys: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "string[]")] local: Option<JsValue>,
    ) -> Result<Vec<String>, JsError> {
        let keys = self.keys_as_found(keys, local)?;
        Ok((self.inner.pool().models.iter())
            .filter(|m| !keys.can_call(m))
            .map(|m| m.id.clone())
            .collect())
    }

    /// Asks each server on this machine in `local` (origins the user turned on, and only
    /// those) which models it serves (`GET /v1/models`, two seconds at most): resolves to
    /// `[{origin, answered, listed, serves: [{id, served}]}]` and remembers it for `callable`
    /// and `uncallable`. A server that does not answer lists nothing.
    #[wasm_bindgen(js_name = discoverLocal, unchecked_return_type = "Promise<LocalServer[]>")]
    pub fn discover_local(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string[]")] local: JsValue,
    ) -> js_sys::Promise {
        let mut keys = Keys::new();
        if let Err(e) = turn_on_local(&mut keys, local, "invalid local") {
            return js_sys::Promise::reject(&JsValue::from(e));
        }
        let pool = self.inner.pool().clone();
        let served = self.served.clone();
        let future = async move {
            let transport = Fetch {
                signal: None,
                idle: crate::transport::fetch::PROBE_WAIT,
                deadline: crate::transport::fetch::PROBE_WAIT,
            };
            provider::probe_local(&transport, &pool, &mut keys).await;
            let mut found = Vec::new();
            // Each model's origin, compared whole: `:1234` is no prefix match for `:12345`.
            let origin_of = |m: &PoolModel| {
                let e = crate::endpoint::Endpoint::parse(&m.base_url).ok()?;
                (e.is_loopback() && keys.is_local(&e.origin())).then(|| e.origin())
            };
            let mut origins: Vec<String> = pool.models.iter().filter_map(origin_of).collect();
            origins.sort();
            origins.dedup();
            for origin in origins {
                let listed = keys.listed().get(&origin).cloned();
                let serves = (pool.models.iter())
                    .filter(|m| origin_of(m).as_ref() == Some(&origin))
                    .filter_map(|m| {
                        keys.served(m).map(|s| Served {
                            id: m.id.clone(),
                            served: s.to_string(),
                        })
                    })
                    .collect();
                found.push(LocalServer {
                    origin,
                    answered: listed.is_some(),
                    listed: listed.unwrap_or_default(),
                    serves,
                });
            }
            *served.borrow_mut() = keys.listed().clone();
            to_js(&found).map_err(JsValue::from)
        };
        wasm_bindgen_futures::future_to_promise(future)
    }

    /// Adds or replaces heads from a heads file (object or JSON string), e.g. a calibration;
    /// the file must come from this bundle's space. Returns the ids it added or replaced.
    #[wasm_bindgen(js_name = addHeads)]
    pub fn add_heads(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "HeadsFile | string")] heads: JsValue,
    ) -> Result<Vec<String>, JsError> {
        let file = HeadsFile::from_json(&json_text(&heads, "heads")?).map_err(js_error)?;
        self.inner.add_heads(&file).map_err(js_error)?;
        *self.last.borrow_mut() = None;
        Ok(file.heads.iter().map(|h| h.id.clone()).collect())
    }

    /// What calibrating `model` with the first `probes` probes of `probeSet` is expected to
    /// cost, and at most with answers of `maxTokens` (default 1024).
    #[wasm_bindgen(js_name = calibrationOutlook, unchecked_return_type = "CostOutlook")]
    pub fn calibration_outlook(
        &self,
        #[wasm_bindgen(unchecked_param_type = "PoolModel")] model: JsValue,
        #[wasm_bindgen(js_name = probeSet)] probe_set: &str,
        probes: Option<u32>,
        #[wasm_bindgen(js_name = maxTokens)] max_tokens: Option<u32>,
    ) -> Result<JsValue, JsError> {
        let plan = self.plan(model, probe_set, probes.unwrap_or(DEFAULT_PROBES as u32))?;
        to_js(&plan.outlook(max_tokens.unwrap_or(ASK_DEFAULTS.max_tokens)))
    }

    /// Sends the first `call.probes` probes to `model` alone, grades the answers and fits its
    /// place in the shared space. Resolves to a heads file (pass it to `addHeads`, keep it to
    /// load later); rejects with an `Error` when no probe could be graded.
    #[wasm_bindgen(unchecked_return_type = "Promise<HeadsFile>")]
    pub fn calibrate(
        &self,
        #[wasm_bindgen(unchecked_param_type = "PoolModel")] model: JsValue,
        #[wasm_bindgen(unchecked_param_type = "CalibrateCall")] call: JsValue,
    ) -> js_sys::Promise {
        self.start_calibration(model, call)
            .unwrap_or_else(|e| js_sys::Promise::reject(&JsValue::from(e)))
    }

    fn plan(&self, model: JsValue, probe_set: &str, probes: u32) -> Result<Plan, JsError> {
        let model: PoolModel =
            strict(model).map_err(|e| js_error(format!("invalid model: {e}")))?;
        let predictor = self.inner.predictor();
        let set =
            ProbeSet::from_bundle(predictor.manifest(), probe_set.as_bytes()).map_err(js_error)?;
        Plan::new(predictor, &set, &model, probes as usize).map_err(js_error)
    }

    fn start_calibration(&self, model: JsValue, call: JsValue) -> Result<js_sys::Promise, JsError> {
        let field = |name: &str| field(&call, name);
        let probe_set = field("probeSet").as_string().ok_or_else(|| {
            js_error("invalid calibrate call: `probeSet` must be the text of probes.json")
        })?;
        let probes = match field("probes") {
            v if v.is_undefined() || v.is_null() => DEFAULT_PROBES as u32,
            v => match v.as_f64() {
                Some(n) if n.fract() == 0.0 && (1.0..=1000.0).contains(&n) => n as u32,
                _ => return Err(js_error(format!(
                    "invalid calibrate call: `probes` must be a whole number from 1 to 1000, not {v:?}"
                ))),
            },
        };
        let plan = self.plan(model, &probe_set, probes)?;
        let ask = AskCall::from_js(&call)?;
        let on_progress = callback(&call, "onProgress", "calibrate call")?;
        let encoder = self.inner.predictor().manifest().encoder.sha256.clone();
        let future = async move {
            let transport = ask.transport();
            let mut keys = ask.keys.clone();
            provider::probe_local(&transport, plan.pool(), &mut keys).await;
            let options = CalibrateOptions {
                probes: probes as usize,
                max_tokens: ask.options.max_tokens,
                max_cost: ask.options.max_cost,
                ask: ask.options.clone(),
            };
            let signal = ask.signal.clone();
            let stop = move || signal.as_ref().is_some_and(|s| s.aborted());
            let calibration = plan
                .run(&transport, &keys, &options, &stop, |step| {
                    let (Some(f), Ok(event)) = (&on_progress, to_js(&CalibrationEvent::of(&step)))
                    else {
                        return;
                    };
                    let _ = f.call1(&JsValue::NULL, &event);
                })
                .await
                .map_err(js_error)?;
            to_js(&HeadsFile::with_encoder(
                encoder,
                std::slice::from_ref(&calibration),
            ))
            .map_err(JsValue::from)
        };
        Ok(wasm_bindgen_futures::future_to_promise(future))
    }

    /// Places `model` from a card of its published scores (`{model, scores: [{benchmark,
    /// subject?, accuracy, n?, source, date}]}`, as text or an object) without a call.
    /// Returns a heads file, as `calibrate` does: pass it to `addHeads`, keep it to load later.
    #[wasm_bindgen(js_name = placeFromCard, unchecked_return_type = "HeadsFile")]
    pub fn place_from_card(
        &self,
        #[wasm_bindgen(unchecked_param_type = "PoolModel")] model: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Card | string")] card: JsValue,
    ) -> Result<JsValue, JsError> {
        let model: PoolModel =
            strict(model).map_err(|e| js_error(format!("invalid model: {e}")))?;
        let card = Card::from_json(&json_text(&card, "card")?).map_err(js_error)?;
        let predictor = self.inner.predictor();
        let calibration = Calibration::from_card(predictor, &model, card).map_err(js_error)?;
        to_js(&HeadsFile::of(
            predictor,
            std::slice::from_ref(&calibration),
        ))
    }

    /// Fits the heads of a heads file again in this bundle's space from the evidence each
    /// calibration kept (its card, its graded probes found by id in `probeSet`), without a
    /// call: for a model calibrated with another version of the bundle. Returns the new heads
    /// file, for `addHeads`.
    #[wasm_bindgen(js_name = refitHeads, unchecked_return_type = "HeadsFile")]
    pub fn refit_heads(
        &self,
        #[wasm_bindgen(unchecked_param_type = "HeadsFile | string")] heads: JsValue,
        #[wasm_bindgen(js_name = probeSet)] probe_set: &str,
    ) -> Result<JsValue, JsError> {
        let file = HeadsFile::from_json(&json_text(&heads, "heads")?).map_err(js_error)?;
        let predictor = self.inner.predictor();
        let set =
            ProbeSet::from_bundle(predictor.manifest(), probe_set.as_bytes()).map_err(js_error)?;
        to_js(&crate::calibrate::refit(predictor, &set, &file).map_err(js_error)?)
    }

    /// What each pool model's estimate rests on, in pool order: labels (which tables), a card
    /// of published scores (sources and dates), probes (how many), another model's head, or
    /// the prior alone.
    #[wasm_bindgen(unchecked_return_type = "Basis[]")]
    pub fn bases(&self) -> Result<JsValue, JsError> {
        to_js(&self.inner.bases())
    }

    /// At most `maxModels` models of the pool that together give the most expected accuracy at
    /// `budget` US$ per 1,000 requests (on the bundle's reference prompts):
    /// `{models: [{model, adds, expectedAccuracy, expectedSpendPer1k}], expectedAccuracy,
    /// expectedSpendPer1k, budgetPer1k}`.
    #[wasm_bindgen(js_name = suggestPool, unchecked_return_type = "Suggestion")]
    pub fn suggest_pool(
        &self,
        budget: f64,
        #[wasm_bindgen(js_name = maxModels)] max_models: u32,
    ) -> Result<JsValue, JsError> {
        to_js(
            &self
                .inner
                .suggest_pool(budget, max_models as usize)
                .map_err(js_error)?,
        )
    }

    /// Ids of the models the predictor has heads for.
    pub fn models(&self) -> Vec<String> {
        self.inner
            .predictor()
            .manifest()
            .heads
            .iter()
            .map(|h| h.id.clone())
            .collect()
    }
}

/// A field of an options object (undefined when `options` is not an object).
fn field(options: &JsValue, name: &str) -> JsValue {
    if options.is_object() {
        js_sys::Reflect::get(options, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
    } else {
        JsValue::UNDEFINED
    }
}

/// A plain JS value (an options object, a pool entry, messages) read strictly: a field the
/// type does not know is refused (`deny_unknown_fields`), not skipped, as serde-wasm-bindgen
/// alone would; its JSON form is read again only to find such a field.
fn strict<T: serde::de::DeserializeOwned>(value: JsValue) -> Result<T, String> {
    let typed: T = serde_wasm_bindgen::from_value(value.clone()).map_err(|e| e.to_string())?;
    let text = js_sys::JSON::stringify(&value)
        .ok()
        .and_then(|t| t.as_string());
    if let Some(Err(e)) = text.map(|t| serde_json::from_str::<T>(&t)) {
        if e.to_string().starts_with("unknown field") {
            return Err(e.to_string());
        }
    }
    Ok(typed)
}

fn present(v: &JsValue) -> bool {
    !(v.is_undefined() || v.is_null())
}

/// An optional callback field; `what` names the argument in the error.
fn callback(
    options: &JsValue,
    name: &str,
    what: &str,
) -> Result<Option<js_sys::Function>, JsError> {
    let v = field(options, name);
    if !present(&v) {
        return Ok(None);
    }
    v.dyn_into::<js_sys::Function>()
        .map(Some)
        .map_err(|_| js_error(format!("invalid {what}: `{name}` must be a function")))
}

/// JSON text of a value given as a string or an object.
fn json_text(value: &JsValue, what: &str) -> Result<String, JsError> {
    match value.as_string() {
        Some(text) => Ok(text),
        None => js_sys::JSON::stringify(value)
            .map(String::from)
            .map_err(|_| js_error(format!("the {what} are not JSON-serialisable"))),
    }
}

/// `onProgress`'s argument.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
enum CalibrationEvent<'a> {
    Sending {
        index: usize,
        total: usize,
    },
    Done {
        index: usize,
        id: &'a str,
        correct: Option<bool>,
        spent: f64,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<&'a str>,
    },
}

impl<'a> CalibrationEvent<'a> {
    fn of(step: &'a Step<'a>) -> CalibrationEvent<'a> {
        match step {
            Step::Sending { index, total } => CalibrationEvent::Sending {
                index: *index,
                total: *total,
            },
            Step::Done { index, result } => CalibrationEvent::Done {
                index: *index,
                id: &result.id,
                correct: result.correct,
                spent: result.spent,
                error: result.error.as_deref(),
            },
        }
    }
}

fn route_options(options: Option<JsValue>) -> Result<RouteOptions, JsError> {
    match options {
        Some(o) if !(o.is_undefined() || o.is_null()) => {
            strict(o).map_err(|e| js_error(format!("invalid route options: {e}")))
        }
        _ => Ok(RouteOptions::default()),
    }
}

/// `keys`, counting every server on this machine that `pool` names and the user turned on as
/// if it had answered its probe (routing is hopeful; `ask` probes before it sends).
fn with_local(mut keys: Keys, pool: &Pool) -> Keys {
    let mut hoped: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for m in &pool.models {
        hoped
            .entry(&m.base_url)
            .or_default()
            .push(m.api_model.clone());
    }
    for (base, names) in hoped {
        keys.local_answered(base, names);
    }
    keys
}

/// `local`: the servers on this machine the user turned on, as origins or base URLs (none
/// when absent), added to `keys`.
fn turn_on_local(keys: &mut Keys, local: JsValue, context: &str) -> Result<(), JsError> {
    if local.is_undefined() || local.is_null() {
        return Ok(());
    }
    let origins: Vec<String> = serde_wasm_bindgen::from_value(local).map_err(|_| {
        js_error(format!(
            "{context}: `local` must list the origins of servers on this machine"
        ))
    })?;
    if origins.len() > crate::bounded::MAX_MODELS {
        return Err(js_error(format!(
            "{context}: `local` lists too many servers"
        )));
    }
    for origin in origins {
        keys.turn_on_local(&origin)
            .map_err(|e| js_error(format!("{context}: {e}")))?;
    }
    Ok(())
}

/// Keys as a page gives them, `{providerOrOrigin: key}`, each bound ([`Keys::insert`]). Errors
/// start with `context` and never show a key.
fn keys_from_js(keys: JsValue, context: &str) -> Result<Keys, JsError> {
    if keys.is_undefined() || keys.is_null() {
        return Ok(Keys::new());
    }
    let map: BTreeMap<String, String> = serde_wasm_bindgen::from_value(keys).map_err(|_| {
        js_error(format!(
            "{context}: `keys` must map provider names or origins to key strings"
        ))
    })?;
    let mut bound = Keys::new();
    for (to, key) in map {
        bound
            .insert(&to, ApiKey::new(key))
            .map_err(|e| js_error(format!("{context}: {e}")))?;
    }
    Ok(bound)
}

/// `maxCost`: absent, or a US$ amount, 0 or more.
fn cap(v: JsValue) -> Result<Option<f64>, JsError> {
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    match v.as_f64() {
        Some(x) if x.is_finite() && x >= 0.0 => Ok(Some(x)),
        _ => Err(js_error(format!(
            "invalid ask call: `maxCost` must be US$, 0 or more, not {v:?}"
        ))),
    }
}

/// `Router.ask`'s second argument, read field by field.
struct AskCall {
    keys: Keys,
    options: AskOptions,
    idle: Duration,
    deadline: Duration,
    signal: Option<web_sys::AbortSignal>,
    on_text: Option<js_sys::Function>,
    on_reasoning: Option<js_sys::Function>,
    on_event: Option<js_sys::Function>,
}

impl AskCall {
    fn from_js(call: &JsValue) -> Result<AskCall, JsError> {
        let field = |name: &str| field(call, name);
        let mut keys = keys_from_js(field("keys"), "invalid ask call")?;
        turn_on_local(&mut keys, field("local"), "invalid ask call")?;
        let number = |name: &str, default: f64, max: f64| -> Result<f64, JsError> {
            let v = field(name);
            if !present(&v) {
                return Ok(default);
            }
            match v.as_f64() {
                Some(x) if x.is_finite() && x >= 1.0 && x <= max => Ok(x),
                _ => Err(js_error(format!(
                    "invalid ask call: `{name}` must be a number from 1 to {max}, not {v:?}"
                ))),
            }
        };
        let function = |name: &str| callback(call, name, "ask call");
        let signal = field("signal");
        let signal = if present(&signal) {
            Some(
                signal
                    .dyn_into::<web_sys::AbortSignal>()
                    .map_err(|_| js_error("invalid ask call: `signal` must be an AbortSignal"))?,
            )
        } else {
            None
        };
        let stream = field("stream");
        Ok(AskCall {
            keys,
            options: AskOptions {
                max_tokens: number("maxTokens", f64::from(ASK_DEFAULTS.max_tokens), 1e6)? as u32,
                stream: stream.as_bool().unwrap_or(true),
                max_cost: cap(field("maxCost"))?,
                deadline: Some(Duration::from_millis(number(
                    "askTimeoutMs",
                    ASK_DEFAULTS.ask_timeout_ms,
                    3.6e6,
                )? as u64)),
                ..AskOptions::default()
            },
            idle: Duration::from_millis(number(
                "idleTimeoutMs",
                ASK_DEFAULTS.idle_timeout_ms,
                3.6e6,
            )? as u64),
            deadline: Duration::from_millis(
                number("timeoutMs", ASK_DEFAULTS.timeout_ms, 3.6e6)? as u64
            ),
            signal,
            on_text: function("onText")?,
            on_reasoning: function("onReasoning")?,
            on_event: function("onEvent")?,
        })
    }

    /// The page's transport, with this call's signal and timeouts.
    fn transport(&self) -> Fetch {
        Fetch {
            signal: self.signal.clone(),
            idle: self.idle,
            deadline: self.deadline,
        }
    }

    /// Passes progress to the page's callbacks; what they throw is theirs, not the call's.
    fn report(&self, progress: Progress<'_>) {
        match progress {
            Progress::Text(text) => {
                if let Some(f) = &self.on_text {
                    let _ = f.call1(&JsValue::NULL, &JsValue::from_str(text));
                }
            }
            Progress::Reasoning(text) => {
                if let Some(f) = &self.on_reasoning {
                    let _ = f.call1(&JsValue::NULL, &JsValue::from_str(text));
                }
            }
            other => {
                let (Some(f), Some(event)) = (&self.on_event, AskEvent::of(other)) else {
                    return;
                };
                if let Ok(event) = to_js(&event) {
                    let _ = f.call1(&JsValue::NULL, &event);
                }
            }
        }
    }
}

/// The smaller of two spend caps, either of which may be absent.
fn tighter(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The ranked candidates `keys` can call, once the servers on this machine have answered
/// their probe (or not).
async fn reachable(
    transport: &Fetch,
    pool: &Pool,
    keys: &mut Keys,
    ranked: Vec<crate::Candidate>,
) -> Vec<crate::Candidate> {
    provider::probe_local(transport, pool, keys).await;
    (ranked.into_iter())
        .filter(|c| pool.model(&c.model).is_some_and(|m| keys.can_call(m)))
        .collect()
}

thread_local! {
    static SERIAL: std::cell::Cell<u16> = const { std::cell::Cell::new(0) };
}

/// A number that tells apart answers begun in the same millisecond.
fn next_serial() -> u16 {
    SERIAL.with(|s| {
        let n = s.get().wrapping_add(1);
        s.set(n);
        n
    })
}

/// What `serveChat` resolves to (and `onHead`'s argument): an HTTP answer's status, headers
/// and, unless streamed through `onChunk`, its body.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ServedAnswer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Option<String>,
}

impl ServedAnswer {
    fn head(status: u16, headers: &[(&'static str, String)], stream: bool) -> ServedAnswer {
        let kind = if stream {
            "text/event-stream; charset=utf-8"
        } else {
            "application/json"
        };
        let mut all = vec![("content-type".to_string(), kind.to_string())];
        all.extend(headers.iter().map(|(k, v)| (k.to_string(), v.clone())));
        ServedAnswer {
            status,
            headers: all,
            body: None,
        }
    }

    fn refusal(e: &serve::ServeError) -> ServedAnswer {
        ServedAnswer {
            body: Some(e.body().to_string()),
            ..ServedAnswer::head(e.status(), &[("x-should-retry", "false".into())], false)
        }
    }
}

/// `onEvent`'s argument.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
enum AskEvent {
    #[serde(rename_all = "camelCase")]
    Calling {
        model: String,
        provider: String,
        retry: u32,
        estimated_cost: f64,
    },
    #[serde(rename_all = "camelCase")]
    Failed {
        model: String,
        provider: String,
        error: String,
        next: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        wait_ms: Option<f64>,
    },
}

impl AskEvent {
    /// The event for `progress`; text goes to `onText` instead.
    fn of(progress: Progress<'_>) -> Option<AskEvent> {
        Some(match progress {
            Progress::Calling { model, retry } => AskEvent::Calling {
                model: model.model.clone(),
                provider: model.provider.clone(),
                retry,
                estimated_cost: model.cost.usd,
            },
            Progress::Failed { attempt, next } => AskEvent::Failed {
                model: attempt.model.clone(),
                provider: attempt.provider.clone(),
                error: attempt.error.clone(),
                next: match next {
                    Next::Retry(_) => "retry",
                    Next::FallBack(_) => "fallback",
                    Next::GiveUp => "giveUp",
                },
                wait_ms: match next {
                    Next::Retry(wait) => Some(wait.as_secs_f64() * 1e3),
                    _ => None,
                },
            },
            Progress::Text(_) | Progress::Reasoning(_) => return None,
        })
    }
}

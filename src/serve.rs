//! The router served as OpenAI's Chat Completions API, for the OpenAI SDK's `fetch`: a request
//! body read into a conversation and a policy, and the answer written back in OpenAI's
//! response and chunk shapes, whichever provider gave it.
//!
//! Nothing of the incoming request but its body is read: the SDK's `apiKey`, its
//! `Authorization` and `x-stainless-*` headers never reach a provider, whose calls are built
//! afresh with the key bound to its own origin.

use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::chat::{Conversation, Message, OutputSchema, Role, Tool, ToolCall, ToolChoice, Toolset};
use crate::explain::Rule;
use crate::provider::{AskError, Attempt, Finish, Reply};
use crate::{Decision, Pool, RouteOptions};

/// Largest request body read, in bytes.
pub const MAX_BODY_BYTES: usize = 8 << 20;

/// The model name that routes (`routoo/<id>` or a bare pool id pins one model).
pub const AUTO: &str = "routoo/auto";

/// Body fields that ask for what the router cannot do yet; a request with one is refused
/// rather than answered without it.
const REFUSED: &[(&str, &str)] = &[
    (
        "functions",
        "the legacy function calls are not supported: use tools",
    ),
    (
        "function_call",
        "the legacy function calls are not supported: use tool_choice",
    ),
    ("audio", "audio is not supported"),
    ("modalities", "only text answers are supported"),
    ("prediction", "predicted outputs are not supported"),
    ("logprobs", "log probabilities are not supported"),
    ("top_logprobs", "log probabilities are not supported"),
    ("web_search_options", "web search is not supported"),
];

/// Why a request gets no answer, with the HTTP status and OpenAI error `type` and `code` it
/// is answered with.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ServeError {
    /// The body is larger than [`MAX_BODY_BYTES`].
    #[error("the request body is {0} bytes, more than {MAX_BODY_BYTES}")]
    TooLarge(usize),
    /// The body is not a JSON object.
    #[error("the request body is not a JSON object: {0}")]
    NotJson(String),
    /// A field has the wrong shape.
    #[error("`{field}` {why}")]
    Field {
        /// The field, as a path (`messages[2].content`).
        field: String,
        /// What is wrong with it.
        why: String,
    },
    /// A field asks for what the router does not do.
    #[error("`{field}` is not supported: {why}")]
    Unsupported {
        /// The field.
        field: String,
        /// Why.
        why: &'static str,
    },
    /// `model` is neither `routoo/auto` nor a pool model.
    #[error("model {model:?} is not routoo/auto or a model of the pool ({known})")]
    UnknownModel {
        /// The name given.
        model: String,
        /// The names that would do.
        known: String,
    },
    /// Routing refused the request (a bad policy, no model allowed or above the minimum).
    #[error("{0}")]
    Route(String),
    /// Every model asked failed, or the answer broke off.
    #[error("{0}")]
    Ask(String),
}

impl ServeError {
    /// The HTTP status it is answered with.
    pub fn status(&self) -> u16 {
        match self {
            ServeError::TooLarge(_) => 413,
            ServeError::UnknownModel { .. } => 404,
            ServeError::Route(_) => 422,
            ServeError::Ask(_) => 502,
            _ => 400,
        }
    }

    /// OpenAI's error `code`.
    pub fn code(&self) -> &'static str {
        match self {
            ServeError::TooLarge(_) => "request_too_large",
            ServeError::NotJson(_) | ServeError::Field { .. } => "invalid_request",
            ServeError::Unsupported { .. } => "unsupported_parameter",
            ServeError::UnknownModel { .. } => "model_not_found",
            ServeError::Route(_) => "no_model_routed",
            ServeError::Ask(_) => "provider_failed",
        }
    }

    /// OpenAI's error body: `{"error": {"message", "type", "param", "code"}}`.
    pub fn body(&self) -> Value {
        let kind = match self {
            ServeError::Ask(_) => "api_error",
            _ => "invalid_request_error",
        };
        let param = match self {
            ServeError::Field { field, .. } | ServeError::Unsupported { field, .. } => {
                Value::from(field.as_str())
            }
            ServeError::UnknownModel { .. } => Value::from("model"),
            _ => Value::Null,
        };
        json!({"error": {"message": self.to_string(), "type": kind, "param": param, "code": self.code()}})
    }

    /// The error of an ask that gave no answer; `None` when the caller stopped it (an abort,
    /// which is the caller's to report).
    pub fn of_ask(e: &AskError) -> Option<ServeError> {
        match e {
            AskError::Cancelled(_) => None,
            AskError::NoCandidate => Some(ServeError::Route(e.to_string())),
            _ => Some(ServeError::Ask(e.to_string())),
        }
    }
}

fn field(name: impl Into<String>, why: impl Into<String>) -> ServeError {
    ServeError::Field {
        field: name.into(),
        why: why.into(),
    }
}

/// A request's policy over the fetch's: `base` overridden field by field by the body's
/// `routoo` field, with `pinned` (a pool model id) the only model allowed.
pub fn policy(base: RouteOptions, request: &ChatRequest) -> Result<RouteOptions, ServeError> {
    let mut options = base.overridden_by(request.policy.clone());
    if let Some(pin) = &request.pinned {
        if options
            .constraints
            .models
            .as_ref()
            .is_some_and(|m| !m.contains(pin))
        {
            return Err(field(
                "model",
                format!("{pin:?} is not among routoo.models"),
            ));
        }
        options.constraints.models = Some(vec![pin.clone()]);
    }
    Ok(options)
}

/// A Chat Completions request, read.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    /// The turns to send.
    pub conversation: Conversation,
    /// The pool model the request names, if it names one instead of `routoo/auto`.
    pub pinned: Option<String>,
    /// Whether to answer as server-sent chunks.
    pub stream: bool,
    /// Whether a streamed answer ends with a usage chunk (`stream_options.include_usage`).
    pub include_usage: bool,
    /// The answer limit asked for (`max_completion_tokens`, else `max_tokens`).
    pub max_tokens: Option<u32>,
    /// The body's `routoo` field: route options that override the fetch's.
    pub policy: RouteOptions,
    /// Fields read but not passed on, and unknown ones, sorted.
    pub ignored: Vec<String>,
}

impl ChatRequest {
    /// Reads a request body; the error names the field at fault.
    pub fn parse(body: &str, pool: &Pool) -> Result<ChatRequest, ServeError> {
        if body.len() > MAX_BODY_BYTES {
            return Err(ServeError::TooLarge(body.len()));
        }
        let mut object: Map<String, Value> = match serde_json::from_str(body) {
            Ok(Value::Object(o)) => o,
            Ok(other) => return Err(ServeError::NotJson(format!("it is {}", kind(&other)))),
            Err(e) => return Err(ServeError::NotJson(e.to_string())),
        };
        for (name, why) in REFUSED {
            match object.get(*name) {
                None | Some(Value::Null) => {}
                Some(Value::Array(a)) if a.is_empty() => {}
                Some(Value::Bool(false)) => {}
                Some(_) => {
                    return Err(ServeError::Unsupported {
                        field: (*name).into(),
                        why,
                    })
                }
            }
            object.remove(*name);
        }
        match object.remove("n") {
            None | Some(Value::Null) => {}
            Some(n) if n.as_u64() == Some(1) => {}
            Some(n) => {
                return Err(ServeError::Unsupported {
                    field: "n".into(),
                    why: "one answer per request",
                }
                .with_value(&n))
            }
        }
        let toolset = toolset(
            object.remove("tools"),
            object.remove("tool_choice"),
            object.remove("response_format"),
        )?;
        let model = match object.remove("model") {
            Some(Value::String(m)) => m,
            Some(other) => {
                return Err(field(
                    "model",
                    format!("must be a string, not {}", kind(&other)),
                ))
            }
            None => {
                return Err(field(
                    "model",
                    format!("is missing: write {AUTO:?} or a pool model's id"),
                ))
            }
        };
        let pinned = pinned(&model, pool)?;
        let messages = match object.remove("messages") {
            Some(Value::Array(m)) => m,
            Some(other) => {
                return Err(field(
                    "messages",
                    format!("must be an array, not {}", kind(&other)),
                ))
            }
            None => return Err(field("messages", "is missing")),
        };
        if messages.len() > crate::chat::MAX_MESSAGES {
            return Err(field(
                "messages",
                format!(
                    "has {} turns, more than {}",
                    messages.len(),
                    crate::chat::MAX_MESSAGES
                ),
            ));
        }
        let messages = (messages.iter().enumerate())
            .map(|(i, m)| message(i, m))
            .collect::<Result<Vec<_>, _>>()?;
        let conversation = Conversation::new(messages)
            .map_err(|e| field("messages", e.to_string()))?
            .with_tools(toolset);
        let stream = match object.remove("stream") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => b,
            Some(other) => {
                return Err(field(
                    "stream",
                    format!("must be true or false, not {}", kind(&other)),
                ))
            }
        };
        let include_usage = match object.remove("stream_options") {
            None | Some(Value::Null) => false,
            Some(Value::Object(o)) => match o.get("include_usage") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => *b,
                Some(other) => {
                    return Err(field(
                        "stream_options.include_usage",
                        format!("must be true or false, not {}", kind(other)),
                    ))
                }
            },
            Some(other) => {
                return Err(field(
                    "stream_options",
                    format!("must be an object, not {}", kind(&other)),
                ))
            }
        };
        let limit =
            |name: &str, object: &mut Map<String, Value>| -> Result<Option<u32>, ServeError> {
                match object.remove(name) {
                    None | Some(Value::Null) => Ok(None),
                    Some(v) => match v.as_u64() {
                        Some(n) if (1..=1_000_000).contains(&n) => Ok(Some(n as u32)),
                        _ => Err(field(
                            name,
                            format!("must be a whole number from 1 to 1000000, not {v}"),
                        )),
                    },
                }
            };
        let max_tokens =
            limit("max_completion_tokens", &mut object)?.or(limit("max_tokens", &mut object)?);
        let policy = match object.remove("routoo") {
            None | Some(Value::Null) => RouteOptions::default(),
            Some(v) => serde_json::from_value(v).map_err(|e| field("routoo", e.to_string()))?,
        };
        let mut ignored: Vec<String> = object.keys().cloned().collect();
        ignored.sort();
        Ok(ChatRequest {
            conversation,
            pinned,
            stream,
            include_usage,
            max_tokens,
            policy,
            ignored,
        })
    }
}

impl ServeError {
    fn with_value(self, value: &Value) -> ServeError {
        match self {
            ServeError::Unsupported { field, why } => ServeError::Field {
                field,
                why: format!("is {value}, but {why} is supported"),
            },
            other => other,
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The pool model `model` pins, or `None` for `routoo/auto`.
fn pinned(model: &str, pool: &Pool) -> Result<Option<String>, ServeError> {
    if model == AUTO || model == "auto" {
        return Ok(None);
    }
    let id = model.strip_prefix("routoo/").unwrap_or(model);
    match pool.model(id) {
        Some(m) => Ok(Some(m.id.clone())),
        None => {
            let mut known = vec![AUTO.to_string()];
            known.extend(pool.models.iter().map(|m| format!("routoo/{}", m.id)));
            Err(ServeError::UnknownModel {
                model: model.chars().take(200).collect(),
                known: known.join(", "),
            })
        }
    }
}

/// One of `messages`: a role OpenAI names and text content (a string or text parts).
fn message(i: usize, m: &Value) -> Result<Message, ServeError> {
    let at = |part: &str| format!("messages[{i}]{part}");
    let Value::Object(m) = m else {
        return Err(field(at(""), format!("must be an object, not {}", kind(m))));
    };
    let role = match m.get("role").and_then(Value::as_str) {
        Some("system" | "developer") => Role::System,
        Some("user") => Role::User,
        Some("assistant") => Role::Assistant,
        Some("tool") => Role::Tool,
        Some("function") => {
            return Err(ServeError::Unsupported {
                field: at(".role"),
                why: "the legacy function calls are not supported: use tools",
            })
        }
        Some(other) => {
            return Err(field(
                at(".role"),
                format!("is {other:?}, not system, developer, user, assistant or tool"),
            ))
        }
        None => return Err(field(at(".role"), "is missing")),
    };
    for unsupported in ["function_call", "audio"] {
        if m.get(unsupported).is_some_and(|v| !v.is_null()) {
            return Err(ServeError::Unsupported {
                field: at(&format!(".{unsupported}")),
                why: "only tool_calls are supported",
            });
        }
    }
    let tool_calls: Vec<ToolCall> = match m.get("tool_calls") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|e| field(at(".tool_calls"), e.to_string()))?,
    };
    let tool_call_id = match m.get("tool_call_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) => Some(id.clone()),
        Some(other) => {
            return Err(field(
                at(".tool_call_id"),
                format!("must be a string, not {}", kind(other)),
            ))
        }
    };
    let content = match m.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => {
            let mut text = String::new();
            for (j, p) in parts.iter().enumerate() {
                match (
                    p.get("type").and_then(Value::as_str),
                    p.get("text").and_then(Value::as_str),
                ) {
                    (Some("text"), Some(t)) => text.push_str(t),
                    (Some("text"), None) => {
                        return Err(field(at(&format!(".content[{j}].text")), "is missing"))
                    }
                    (Some(other), _) => {
                        return Err(field(
                            at(&format!(".content[{j}].type")),
                            format!("is {other:?}: only text parts are supported"),
                        ))
                    }
                    (None, _) => {
                        return Err(field(at(&format!(".content[{j}].type")), "is missing"))
                    }
                }
            }
            text
        }
        // An assistant turn that only calls tools has no content.
        Some(Value::Null) | None if !tool_calls.is_empty() => String::new(),
        Some(Value::Null) | None => return Err(field(at(".content"), "is missing")),
        Some(other) => {
            return Err(field(
                at(".content"),
                format!("must be a string or text parts, not {}", kind(other)),
            ))
        }
    };
    Ok(Message {
        tool_calls,
        tool_call_id,
        ..Message::new(role, content)
    })
}

/// A request's `tools`, `tool_choice` and `response_format`, as OpenAI writes them.
pub fn toolset(
    tools: Option<Value>,
    choice: Option<Value>,
    format: Option<Value>,
) -> Result<Toolset, ServeError> {
    let output = output(format)?;
    let tools: Vec<Tool> = match tools {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => serde_json::from_value(v).map_err(|e| field("tools", e.to_string()))?,
    };
    let choice = tool_choice(choice)?;
    Toolset::new(tools, choice, output).map_err(|e| field("tools", e.to_string()))
}

/// `response_format`: text (nothing asked), a JSON schema, or any JSON object.
fn output(format: Option<Value>) -> Result<Option<OutputSchema>, ServeError> {
    let Some(format) = format.filter(|f| !f.is_null()) else {
        return Ok(None);
    };
    match format.get("type").and_then(Value::as_str) {
        Some("text") => Ok(None),
        Some("json_object") => Ok(Some(OutputSchema {
            name: "json_object".into(),
            schema: json!({"type": "object"}),
        })),
        Some("json_schema") => {
            let spec = format.get("json_schema").cloned().unwrap_or(Value::Null);
            let name = spec
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("answer")
                .to_string();
            match spec.get("schema") {
                Some(schema) if schema.is_object() => Ok(Some(OutputSchema {
                    name,
                    schema: schema.clone(),
                })),
                _ => Err(field(
                    "response_format.json_schema.schema",
                    "must be a JSON Schema object",
                )),
            }
        }
        other => Err(field(
            "response_format.type",
            format!("is {other:?}, not text, json_schema or json_object"),
        )),
    }
}

/// `tool_choice`: "auto", "none", "required" or `{"type": "function", "function": {"name"}}`.
fn tool_choice(choice: Option<Value>) -> Result<ToolChoice, ServeError> {
    match choice {
        None | Some(Value::Null) => Ok(ToolChoice::Auto),
        Some(Value::String(s)) => match s.as_str() {
            "auto" => Ok(ToolChoice::Auto),
            "none" => Ok(ToolChoice::None),
            "required" => Ok(ToolChoice::Required),
            other => Err(field(
                "tool_choice",
                format!("is {other:?}, not auto, none or required"),
            )),
        },
        Some(v) => match v.pointer("/function/name").and_then(Value::as_str) {
            Some(name) => Ok(ToolChoice::Tool(name.to_string())),
            None => Err(field("tool_choice", "names no function")),
        },
    }
}

/// One model the route weighed, as the answer reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Weighed {
    /// Model id.
    pub model: String,
    /// Provider.
    pub provider: String,
    /// Predicted chance of a good answer.
    pub quality: f64,
    /// Quality given up for the predictor's uncertainty.
    pub margin: f64,
    /// Estimated cost, US$.
    pub estimated_cost: f64,
}

/// A model left out, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LeftOut {
    /// Model id.
    pub model: String,
    /// Why, in words.
    pub reason: String,
}

/// The routing decision as an answer reports it (`routoo` in the body, `x-routoo-*` headers).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Route {
    /// The model chosen.
    pub model: String,
    /// Its provider.
    pub provider: String,
    /// The rule that chose it.
    pub rule: Rule,
    /// Why, in one sentence.
    pub why: String,
    /// λ in force, quality per US$.
    pub lambda: f64,
    /// The minimum quality in force.
    pub min_quality: Option<f64>,
    /// Every model allowed, best first (the fallback order).
    pub ranked: Vec<Weighed>,
    /// The models left out.
    pub excluded: Vec<LeftOut>,
}

impl Route {
    /// The report of `decision`.
    pub fn of(decision: &Decision) -> Route {
        Route {
            model: decision.choice.model.clone(),
            provider: decision.choice.provider.clone(),
            rule: decision.rule,
            why: decision.why.clone(),
            lambda: decision.lambda,
            min_quality: decision.min_quality,
            ranked: (decision.ranked.iter())
                .map(|c| Weighed {
                    model: c.model.clone(),
                    provider: c.provider.clone(),
                    quality: c.quality,
                    margin: c.margin,
                    estimated_cost: c.cost.usd,
                })
                .collect(),
            excluded: (decision.excluded.iter())
                .map(|e| LeftOut {
                    model: e.model.clone(),
                    reason: e.message.clone(),
                })
                .collect(),
        }
    }

    /// The response headers that carry it. `x-should-retry: false` keeps the SDK from
    /// retrying on top of the router's own retries and fallbacks.
    pub fn headers(&self, request: &ChatRequest) -> Vec<(&'static str, String)> {
        let mut headers = vec![
            ("x-routoo-model", self.model.clone()),
            ("x-routoo-provider", self.provider.clone()),
            ("x-routoo-rule", rule_name(self.rule).to_string()),
            ("x-routoo-why", header_text(&self.why)),
            ("x-routoo-lambda", self.lambda.to_string()),
            ("x-should-retry", "false".into()),
        ];
        if let Some(choice) = self.ranked.first() {
            headers.push(("x-routoo-quality", format!("{:.4}", choice.quality)));
            headers.push((
                "x-routoo-estimated-cost",
                format!("{:.8}", choice.estimated_cost),
            ));
        }
        if let Some(next) = self.ranked.get(1) {
            headers.push(("x-routoo-runner-up", next.model.clone()));
        }
        if !request.ignored.is_empty() {
            headers.push(("x-routoo-ignored", request.ignored.join(",")));
        }
        headers
    }
}

fn rule_name(rule: Rule) -> &'static str {
    match rule {
        Rule::Best => "best",
        Rule::Budget => "budget",
        Rule::CheapestAbove { .. } => "cheapestAbove",
        Rule::BudgetAbove { .. } => "budgetAbove",
        Rule::Local => "local",
    }
}

/// `text` as a header value may carry it: printable ASCII kept, every other byte
/// percent-encoded (`decodeURIComponent` reads it back).
pub fn header_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if (0x20..0x7f).contains(&b) && b != b'%' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// What the ask spent and tried, reported beside the route.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
struct Outcome<'a> {
    #[serde(flatten)]
    route: &'a Route,
    answered_by: &'a str,
    spent: f64,
    cost: Option<f64>,
    attempts: &'a [Attempt],
}

fn outcome<'a>(route: &'a Route, reply: &'a Reply) -> Value {
    serde_json::to_value(Outcome {
        route,
        answered_by: &reply.model,
        spent: reply.spent,
        cost: reply.cost,
        attempts: &reply.attempts,
    })
    .unwrap_or(Value::Null)
}

fn finish_reason(reply: &Reply) -> &'static str {
    match reply.answer.finish {
        _ if !reply.answer.tool_calls.is_empty() => "tool_calls",
        Some(Finish::Length) => "length",
        Some(Finish::ContentFilter) => "content_filter",
        _ => "stop",
    }
}

fn usage(reply: &Reply) -> Value {
    match &reply.answer.usage {
        Some(u) => json!({
            "prompt_tokens": u.input_tokens,
            "completion_tokens": u.output_tokens,
            "total_tokens": u.input_tokens + u.output_tokens,
        }),
        None => Value::Null,
    }
}

/// The answer's message: its text (`null` when it only calls tools) and its tool calls.
fn message_of(reply: &Reply) -> Value {
    let calls = &reply.answer.tool_calls;
    let mut message = json!({"role": "assistant", "content": reply.answer.text, "refusal": null});
    if !reply.answer.reasoning.is_empty() {
        message["reasoning_content"] = json!(reply.answer.reasoning);
    }
    if !calls.is_empty() {
        message["tool_calls"] = json!(calls);
        if reply.answer.text.is_empty() {
            message["content"] = Value::Null;
        }
    }
    message
}

/// A whole answer in OpenAI's `chat.completion` shape, with the route in `routoo`.
pub fn completion(id: &str, created: u64, route: &Route, reply: &Reply) -> Value {
    json!({
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": reply.model,
        "choices": [{
            "index": 0,
            "message": message_of(reply),
            "finish_reason": finish_reason(reply),
            "logprobs": null,
        }],
        "usage": usage(reply),
        "routoo": outcome(route, reply),
    })
}

/// A streamed answer's server-sent events, in OpenAI's `chat.completion.chunk` shape.
#[derive(Debug, Clone)]
pub struct Chunks {
    id: String,
    created: u64,
    started: bool,
}

impl Chunks {
    /// The events of answer `id`, created at `created` (Unix seconds).
    pub fn new(id: &str, created: u64) -> Chunks {
        Chunks {
            id: id.to_string(),
            created,
            started: false,
        }
    }

    /// One event: the chunk's envelope with `fields` (its choices, usage, route).
    fn chunk(&self, model: &str, fields: Value) -> String {
        let mut chunk = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": model,
        });
        if let (Some(chunk), Value::Object(fields)) = (chunk.as_object_mut(), fields) {
            chunk.extend(fields);
        }
        format!("data: {chunk}\n\n")
    }

    fn event(&self, model: &str, delta: Value, finish: Option<&str>) -> String {
        let choice = json!({"index": 0, "delta": delta, "finish_reason": finish, "logprobs": null});
        self.chunk(model, json!({"choices": [choice]}))
    }

    /// `delta`, with the role (and an empty content) on the stream's first.
    fn opening(&mut self, mut delta: Value) -> Value {
        if !self.started {
            self.started = true;
            delta["role"] = json!("assistant");
            if delta.get("content").is_none() {
                delta["content"] = json!("");
            }
        }
        delta
    }

    /// A piece of text from `model`; the first also carries the role.
    pub fn text(&mut self, model: &str, text: &str) -> String {
        let delta = self.opening(json!({"content": text}));
        self.event(model, delta, None)
    }

    /// A piece of `model`'s shown thinking, as `reasoning_content` (the field the
    /// OpenAI-compatible servers that stream thinking use).
    pub fn reasoning(&mut self, model: &str, text: &str) -> String {
        let delta = self.opening(json!({"reasoning_content": text}));
        self.event(model, delta, None)
    }

    /// The closing events: the finish reason with the route, usage when asked for, `[DONE]`.
    pub fn end(&mut self, route: &Route, reply: &Reply, include_usage: bool) -> String {
        let mut out = String::new();
        if !self.started {
            out.push_str(&self.text(&reply.model, ""));
        }
        // Tool calls come whole, once the answer is in (a valid stream: each call's first
        // delta may carry all its arguments).
        if !reply.answer.tool_calls.is_empty() {
            let calls: Vec<Value> = (reply.answer.tool_calls.iter().enumerate())
                .map(|(index, c)| {
                    let mut call = json!(c);
                    call["index"] = json!(index);
                    call
                })
                .collect();
            out.push_str(&self.event(&reply.model, json!({"tool_calls": calls}), None));
        }
        let last = json!({"index": 0, "delta": {}, "finish_reason": finish_reason(reply), "logprobs": null});
        let fields = json!({"choices": [last], "routoo": outcome(route, reply)});
        out.push_str(&self.chunk(&reply.model, fields));
        if include_usage {
            let fields = json!({"choices": [], "usage": usage(reply)});
            out.push_str(&self.chunk(&reply.model, fields));
        }
        out.push_str("data: [DONE]\n\n");
        out
    }

    /// An error after the stream began: the SDK raises it as an `APIError`.
    pub fn error(error: &ServeError) -> String {
        format!("data: {}\n\n", error.body())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool() -> Pool {
        Pool::default_pool().unwrap()
    }

    fn some_model(pool: &Pool) -> String {
        pool.models[0].id.clone()
    }

    #[test]
    fn a_plain_request_routes_with_the_turns_as_sent() {
        let body = r#"{"model": "routoo/auto", "messages": [
            {"role": "developer", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Hi "}, {"type": "text", "text": "there"}]}],
            "stream": true, "stream_options": {"include_usage": true}, "max_tokens": 50, "temperature": 0.2}"#;
        let r = ChatRequest::parse(body, &pool()).unwrap();
        assert_eq!(r.pinned, None);
        assert!(r.stream && r.include_usage);
        assert_eq!(r.max_tokens, Some(50));
        assert_eq!(r.ignored, ["temperature"]);
        let turns = r.conversation.messages();
        assert_eq!(turns[0].role, Role::System);
        assert_eq!(turns[1].content, "Hi there");
    }

    #[test]
    fn a_pool_model_pins_and_anything_else_is_refused_naming_what_would_do() {
        let pool = pool();
        let id = some_model(&pool);
        for name in [id.clone(), format!("routoo/{id}")] {
            let body = json!({"model": name, "messages": [{"role": "user", "content": "Hi"}]});
            let r = ChatRequest::parse(&body.to_string(), &pool).unwrap();
            assert_eq!(r.pinned.as_deref(), Some(id.as_str()));
            let options = policy(RouteOptions::default(), &r).unwrap();
            assert_eq!(options.constraints.models, Some(vec![id.clone()]));
        }
        let body =
            json!({"model": "gpt-99-nonesuch", "messages": [{"role": "user", "content": "Hi"}]});
        let e = ChatRequest::parse(&body.to_string(), &pool).unwrap_err();
        assert_eq!(e.status(), 404);
        assert!(
            e.to_string().contains("routoo/auto") && e.to_string().contains(&id),
            "{e}"
        );
    }

    #[test]
    fn what_the_router_cannot_do_is_refused_not_dropped() {
        let pool = pool();
        for (extra, param) in [
            (json!({"functions": [{"name": "f"}]}), "functions"),
            (
                json!({"tools": [{"type": "function", "function": {"name": "a b"}}]}),
                "tools",
            ),
            (
                json!({"response_format": {"type": "json_schema", "json_schema": {}}}),
                "response_format.json_schema.schema",
            ),
            (json!({"tool_choice": "sometimes"}), "tool_choice"),
            (json!({"n": 2}), "n"),
            (json!({"logprobs": true}), "logprobs"),
        ] {
            let mut body = json!({"model": AUTO, "messages": [{"role": "user", "content": "Hi"}]});
            body.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            let e = ChatRequest::parse(&body.to_string(), &pool).unwrap_err();
            assert_eq!(e.status(), 400, "{e}");
            assert_eq!(e.body()["error"]["param"], param, "{e}");
        }
        // What says "none of that" is fine.
        let body = json!({"model": AUTO, "messages": [{"role": "user", "content": "Hi"}],
            "tools": [], "tool_choice": "none", "n": 1, "logprobs": false, "response_format": {"type": "text"}});
        assert!(ChatRequest::parse(&body.to_string(), &pool).is_ok());
    }

    #[test]
    fn tools_tool_turns_and_schemas_are_read_into_the_conversation() {
        let pool = pool();
        let body = json!({"model": AUTO, "messages": [
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
                "function": {"name": "weather", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "sunny"}],
            "tools": [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}],
            "tool_choice": {"type": "function", "function": {"name": "weather"}},
            "response_format": {"type": "json_schema", "json_schema": {"name": "w", "schema": {"type": "object"}}},
            "parallel_tool_calls": false});
        let r = ChatRequest::parse(&body.to_string(), &pool).unwrap();
        let turns = r.conversation.messages();
        assert_eq!(turns[1].tool_calls[0].name, "weather");
        assert_eq!(turns[2].tool_call_id.as_deref(), Some("c1"));
        let tools = r.conversation.tools();
        assert_eq!(tools.choice, ToolChoice::Tool("weather".into()));
        assert_eq!(tools.output.as_ref().unwrap().name, "w");
        assert_eq!(r.ignored, ["parallel_tool_calls"]);
        let bad = json!({"model": AUTO, "messages": [{"role": "user", "content": "x"},
            {"role": "tool", "tool_call_id": "c9", "content": "r"}]});
        let e = ChatRequest::parse(&bad.to_string(), &pool).unwrap_err();
        assert!(e.to_string().contains("c9"), "{e}");
    }

    #[test]
    fn bad_bodies_name_the_field_at_fault() {
        let pool = pool();
        let cases = [
            ("[1]", "not a JSON object"),
            ("{", "not a JSON object"),
            (r#"{"messages": []}"#, "`model` is missing"),
            (
                r#"{"model": 3, "messages": []}"#,
                "`model` must be a string",
            ),
            (
                r#"{"model": "auto", "messages": {}}"#,
                "`messages` must be an array",
            ),
            (
                r#"{"model": "auto", "messages": [{"role": "robot", "content": "x"}]}"#,
                "messages[0].role",
            ),
            (
                r#"{"model": "auto", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]}"#,
                "only text parts",
            ),
            (
                r#"{"model": "auto", "messages": [{"role": "tool", "content": "x"}]}"#,
                "turn 0 is the tool's",
            ),
            (
                r#"{"model": "auto", "messages": [{"role": "assistant", "content": "x"}]}"#,
                "user speaks first",
            ),
            (
                r#"{"model": "auto", "messages": [{"role": "user", "content": "x"}], "max_tokens": 0}"#,
                "`max_tokens`",
            ),
            (
                r#"{"model": "auto", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}"#,
                "`stream`",
            ),
            (
                r#"{"model": "auto", "messages": [{"role": "user", "content": "x"}], "routoo": {"budgett": 1}}"#,
                "budgett",
            ),
        ];
        for (body, says) in cases {
            let e = ChatRequest::parse(body, &pool).unwrap_err();
            assert!(e.to_string().contains(says), "{body}: {e}");
            assert!(e.status() >= 400);
        }
        let huge = format!(
            r#"{{"model": "auto", "messages": [], "x": "{}"}}"#,
            "a".repeat(MAX_BODY_BYTES)
        );
        assert_eq!(ChatRequest::parse(&huge, &pool).unwrap_err().status(), 413);
    }

    #[test]
    fn the_body_policy_overrides_the_fetch_defaults_field_by_field() {
        let pool = pool();
        let base = RouteOptions {
            budget: Some(1.0),
            max_cost: Some(0.01),
            ..RouteOptions::default()
        };
        let (first, second) = (pool.models[0].id.clone(), pool.models[1].id.clone());
        let body = json!({"model": AUTO, "messages": [{"role": "user", "content": "Hi"}],
            "routoo": {"minQuality": 0.5, "maxCost": 0.02, "models": [first]}});
        let r = ChatRequest::parse(&body.to_string(), &pool).unwrap();
        let options = policy(base.clone(), &r).unwrap();
        assert_eq!(
            (options.budget, options.max_cost, options.min_quality),
            (Some(1.0), Some(0.02), Some(0.5))
        );
        assert_eq!(options.constraints.models, Some(vec![first.clone()]));
        let pinned = json!({"model": second, "messages": [{"role": "user", "content": "Hi"}],
            "routoo": {"models": [first]}});
        let r = ChatRequest::parse(&pinned.to_string(), &pool).unwrap();
        assert!(policy(base, &r)
            .unwrap_err()
            .to_string()
            .contains("routoo.models"));
    }

    #[test]
    fn header_text_keeps_ascii_and_encodes_the_rest() {
        assert_eq!(
            header_text("λ = 2, 5% ~US$1\n"),
            "%CE%BB = 2, 5%25 ~US$1%0A"
        );
    }
}

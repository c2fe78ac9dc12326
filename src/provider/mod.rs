//! Provider wire formats: building requests and reading answers, free of any transport.
//!
//! Three formats cover the providers a pool names: OpenAI Chat Completions (OpenAI, OpenRouter,
//! Groq, Together, Mistral, DeepSeek, Fireworks, and local servers such as Ollama, llama.cpp
//! and vLLM, each at its own base URL), Anthropic Messages and Google Gemini
//! `generateContent`. Each format builds an [`HttpRequest`], reads a whole response body into
//! an [`Answer`], and reads one server-sent event of a streamed response into a [`Delta`].
//! Splitting a byte stream into events is [`sse`]'s job; sending bytes is the transport's
//! ([`crate::transport`]: `fetch` in the browser, a native HTTP client in the CLI).

mod anthropic;
mod ask;
mod error;
mod fallback;
mod gemini;
pub mod local;
mod openai;
pub mod sse;

use std::fmt;

use serde::Serialize;

use crate::chat::{Conversation, ToolCall};

pub use self::ask::{
    ask, probe_local, AskError, AskOptions, KeyError, Keys, Progress, Reply, Transport,
    DEFAULT_MAX_TOKENS,
};
pub use self::error::{retry_after, ProviderError, StopIssue};
pub use self::fallback::{Attempt, Fallback, Next, RetryPolicy};
pub use crate::endpoint::is_loopback;

/// Largest whole (non-streamed) answer body read, in bytes; a larger one is an error.
pub const MAX_BODY_BYTES: usize = 8 << 20;

/// Bytes of an error response read for the provider's message; the rest is ignored.
pub const MAX_ERROR_BYTES: usize = 64 << 10;

/// The wire format a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Format {
    /// OpenAI Chat Completions and the many servers that speak it.
    OpenAi,
    /// Anthropic Messages.
    Anthropic,
    /// Google Gemini `generateContent` / `streamGenerateContent`.
    Gemini,
}

impl Format {
    /// The format of a pool's `provider` name: `anthropic`, `google`/`gemini`, else OpenAI's.
    pub fn of_provider(provider: &str) -> Format {
        match provider.to_ascii_lowercase().as_str() {
            "anthropic" => Format::Anthropic,
            "google" | "gemini" => Format::Gemini,
            _ => Format::OpenAi,
        }
    }
}

/// An API key. Its `Debug` and `Display` never show it, so it cannot leak into a log line,
/// an error message or a serialized object.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> ApiKey {
        ApiKey(key.into())
    }

    /// The key itself, for the one header that carries it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// What to ask a model.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    /// Base URL of the API, e.g. `https://api.openai.com/v1` (no trailing path).
    pub base_url: String,
    /// Model name as the provider's API expects it.
    pub api_model: String,
    /// The conversation to answer (one user turn for a plain prompt).
    pub conversation: Conversation,
    /// Most tokens the answer may take.
    pub max_tokens: u32,
    /// Stream the answer as server-sent events.
    pub stream: bool,
    /// The key; `None` for servers that need none (local ones).
    pub key: Option<ApiKey>,
    /// How hard a reasoning model thinks (`low`, `medium`, `high`, ...), sent as each
    /// provider's setting; `None` leaves the provider's default.
    pub reasoning_effort: Option<String>,
}

/// An HTTP request ready for any transport. Header values may hold the key: never log them.
#[derive(Clone, PartialEq)]
pub struct HttpRequest {
    /// Always `POST` for these APIs.
    pub method: &'static str,
    /// Full URL.
    pub url: String,
    /// Header names and values.
    pub headers: Vec<(&'static str, String)>,
    /// JSON body.
    pub body: String,
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|h| h.0).collect();
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &names)
            .field("body", &self.body)
            .finish()
    }
}

/// Tokens a call used, as the provider reports them. Output counts every token billed as
/// output: the answer and any thinking before it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Answer tokens.
    pub output_tokens: u64,
}

/// Why a model stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Finish {
    /// It finished its answer.
    Stop,
    /// It hit `max_tokens`.
    Length,
    /// The provider's content filter stopped it.
    ContentFilter,
    /// It called tools and waits for their results.
    ToolCalls,
    /// It declined to answer (a 200 that carries a refusal).
    Refusal,
    /// Another reason, as the provider named it.
    Other(String),
}

/// A whole answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Answer {
    /// The text.
    pub text: String,
    /// Why it stopped, when the provider said.
    pub finish: Option<Finish>,
    /// Tokens used, when the provider said.
    pub usage: Option<Usage>,
    /// The tools it called, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// What the model showed of its thinking (Anthropic's thinking, Gemini's thought parts,
    /// the `reasoning_content` of OpenAI-compatible servers), apart from the answer.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reasoning: String,
}

/// A piece of a streamed answer, as it arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Text of the answer.
    Text(&'a str),
    /// Text of the model's shown thinking.
    Reasoning(&'a str),
}

impl Answer {
    /// The stop reason as a problem the user should see, if it is one.
    pub fn issue(&self) -> Option<StopIssue> {
        match self.finish {
            Some(Finish::Length) => Some(StopIssue::Length),
            Some(Finish::ContentFilter) => Some(StopIssue::ContentFilter),
            Some(Finish::Refusal) => Some(StopIssue::Refusal),
            _ => None,
        }
    }
}

/// What one streamed event adds to the answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Delta {
    /// Text to append.
    pub text: String,
    /// Set when the event says why the model stopped.
    pub finish: Option<Finish>,
    /// Usage reported so far (Anthropic reports input and output in different events).
    pub usage: Option<Usage>,
    /// True on the event that ends the stream (`[DONE]`, `message_stop`).
    pub done: bool,
    /// Pieces of tool calls.
    pub calls: Vec<CallDelta>,
    /// Shown thinking to append.
    pub reasoning: String,
}

/// A piece of a streamed tool call: the first piece of a call brings its id and name, later
/// ones more of its arguments' text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallDelta {
    /// Which call of the answer it adds to (by the stream's own numbering); `None` starts a
    /// new call (formats that send each call whole).
    pub index: Option<u64>,
    /// The call's id, on its first piece.
    pub id: Option<String>,
    /// The tool's name, on its first piece.
    pub name: Option<String>,
    /// More of the arguments' text.
    pub arguments: String,
    /// An opaque token the provider asks to get back with the call (Gemini's thought
    /// signature).
    pub signature: Option<String>,
}

/// Builds the HTTP request for `request` in `format`.
pub fn build(format: Format, request: &ChatRequest) -> HttpRequest {
    match format {
        Format::OpenAi => openai::build(request),
        Format::Anthropic => anthropic::build(request),
        Format::Gemini => gemini::build(request),
    }
}

/// Reads a whole (non-streamed) response body.
pub fn parse_answer(format: Format, body: &str) -> Result<Answer, ProviderError> {
    match format {
        Format::OpenAi => openai::answer(body),
        Format::Anthropic => anthropic::answer(body),
        Format::Gemini => gemini::answer(body),
    }
}

/// Reads one server-sent event of a streamed response.
pub fn parse_event(format: Format, event: &sse::Event) -> Result<Delta, ProviderError> {
    match format {
        Format::OpenAi => openai::event(event),
        Format::Anthropic => anthropic::event(event),
        Format::Gemini => gemini::event(event),
    }
}

/// Folds streamed deltas into an answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Accumulator {
    answer: Answer,
    done: bool,
    /// The stream's index of each call of `answer.tool_calls`.
    indices: Vec<Option<u64>>,
}

impl Accumulator {
    /// Adds one delta.
    pub fn push(&mut self, delta: Delta) {
        let answer = &mut self.answer;
        answer.text.push_str(&delta.text);
        answer.reasoning.push_str(&delta.reasoning);
        for piece in delta.calls {
            let known = piece
                .index
                .and_then(|i| self.indices.iter().position(|&j| j == Some(i)));
            let call = match known {
                Some(k) => &mut answer.tool_calls[k],
                None => {
                    self.indices.push(piece.index);
                    let n = answer.tool_calls.len();
                    answer.tool_calls.push(ToolCall {
                        id: format!("call_{n}"),
                        name: String::new(),
                        arguments: String::new(),
                        signature: None,
                    });
                    &mut answer.tool_calls[n]
                }
            };
            if let Some(id) = piece.id.filter(|i| !i.is_empty()) {
                call.id = id;
            }
            if let Some(name) = piece.name {
                call.name.push_str(&name);
            }
            call.arguments.push_str(&piece.arguments);
            if piece.signature.is_some() {
                call.signature = piece.signature;
            }
        }
        // A refusal stands, whatever stop reason follows it.
        if delta.finish.is_some() && answer.finish != Some(Finish::Refusal) {
            answer.finish = delta.finish;
        }
        if let Some(u) = delta.usage {
            let old = answer.usage.unwrap_or_default();
            answer.usage = Some(Usage {
                input_tokens: u.input_tokens.max(old.input_tokens),
                output_tokens: u.output_tokens.max(old.output_tokens),
            });
        }
        self.done |= delta.done;
    }

    /// True once the stream's end event arrived.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The answer so far.
    pub fn answer(&self) -> &Answer {
        &self.answer
    }

    /// The answer, once the stream is over.
    pub fn into_answer(self) -> Answer {
        self.answer
    }
}

/// Most bytes of text one answer token is taken to carry. Tokenizers average about 4 bytes of
/// English a token; 64 over a whole answer is far past any honest one, so a stream with more
/// text than `max_tokens` × this (plus [`TEXT_SLACK_BYTES`]) ignored its limit.
pub const MAX_BYTES_PER_TOKEN: usize = 64;

/// Bytes of text allowed above [`MAX_BYTES_PER_TOKEN`] × the limit (a short limit's headroom).
pub const TEXT_SLACK_BYTES: usize = 4096;

/// Whether `answer` stayed within the answer limit it was asked for, by the provider's own
/// output count (thinking included) and by the length of its text.
pub fn within_limit(answer: &Answer, limit: u32) -> Result<(), ProviderError> {
    if let Some(usage) = answer.usage.filter(|u| u.output_tokens > u64::from(limit)) {
        return Err(ProviderError::OverLimit {
            limit,
            why: format!("it counted {} output tokens", usage.output_tokens),
        });
    }
    let bound = (limit as usize)
        .saturating_mul(MAX_BYTES_PER_TOKEN)
        .saturating_add(TEXT_SLACK_BYTES);
    if answer.text.len() > bound {
        return Err(ProviderError::OverLimit {
            limit,
            why: format!("more than {bound} bytes of text"),
        });
    }
    Ok(())
}

/// A whole answer's bytes as text, refused when over [`MAX_BODY_BYTES`] or not UTF-8.
pub(crate) fn whole_body(bytes: Vec<u8>) -> Result<String, ProviderError> {
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ProviderError::Malformed(format!(
            "the answer is larger than {MAX_BODY_BYTES} bytes"
        )));
    }
    String::from_utf8(bytes)
        .map_err(|e| ProviderError::Malformed(format!("the answer is not UTF-8: {e}")))
}

fn json(body: &str) -> Result<serde_json::Value, ProviderError> {
    serde_json::from_str(body).map_err(|e| ProviderError::Malformed(format!("not JSON: {e}")))
}

fn tokens(v: &serde_json::Value, key: &str) -> u64 {
    v.get(key).and_then(serde_json::Value::as_u64).unwrap_or(0)
}

fn trim_base(base: &str) -> &str {
    base.trim_end_matches('/')
}

//! OpenAI Chat Completions (`POST {base}/chat/completions`), as documented at
//! platform.openai.com/docs/api-reference/chat, and the servers that copy it.

use serde_json::{json, Value};

use super::{json, tokens, trim_base, Answer, ChatRequest, Delta, Finish, HttpRequest, Usage};
use super::{sse::Event, ProviderError};
use crate::endpoint::{official_origin, Endpoint};

/// The name of the answer's token limit: OpenAI's own API refuses `max_tokens` for its
/// reasoning models and takes `max_completion_tokens` for all; the servers that copy the
/// format take `max_tokens`.
fn limit_field(base_url: &str) -> &'static str {
    let official = official_origin("openai");
    match Endpoint::parse(base_url) {
        Ok(e) if Some(e.origin().as_str()) == official => "max_completion_tokens",
        _ => "max_tokens",
    }
}

pub(super) fn build(r: &ChatRequest) -> HttpRequest {
    let mut body = json!({
        "model": r.api_model,
        "messages": r.conversation,
        "stream": r.stream,
    });
    body[limit_field(&r.base_url)] = json!(r.max_tokens);
    if let Some(effort) = &r.reasoning_effort {
        body["reasoning_effort"] = json!(effort);
    }
    if r.stream {
        // Without this, a stream reports no token usage.
        body["stream_options"] = json!({"include_usage": true});
    }
    let mut headers = vec![("content-type", "application/json".to_string())];
    if let Some(key) = &r.key {
        headers.push(("authorization", format!("Bearer {}", key.expose())));
    }
    HttpRequest {
        method: "POST",
        url: format!("{}/chat/completions", trim_base(&r.base_url)),
        headers,
        body: body.to_string(),
    }
}

fn finish(v: &Value) -> Option<Finish> {
    v.as_str().map(|f| match f {
        "stop" => Finish::Stop,
        "length" => Finish::Length,
        "content_filter" => Finish::ContentFilter,
        other => Finish::Other(other.to_string()),
    })
}

fn usage(v: &Value) -> Option<Usage> {
    let u = v.get("usage").filter(|u| u.is_object())?;
    Some(Usage {
        input_tokens: tokens(u, "prompt_tokens"),
        output_tokens: tokens(u, "completion_tokens"),
    })
}

fn error_in(v: &Value) -> Option<ProviderError> {
    let e = v.get("error")?;
    let message = e
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("unknown error");
    Some(ProviderError::InStream(message.to_string()))
}

pub(super) fn answer(body: &str) -> Result<Answer, ProviderError> {
    let v = json(body)?;
    if let Some(e) = error_in(&v) {
        return Err(e);
    }
    let choice = v
        .pointer("/choices/0")
        .ok_or_else(|| ProviderError::Malformed("no choices in the answer".into()))?;
    Ok(Answer {
        text: choice
            .pointer("/message/content")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        finish: finish(&choice["finish_reason"]),
        usage: usage(&v),
    })
}

pub(super) fn event(e: &Event) -> Result<Delta, ProviderError> {
    if e.data.trim() == "[DONE]" {
        return Ok(Delta {
            done: true,
            ..Delta::default()
        });
    }
    let v = json(&e.data)?;
    if let Some(err) = error_in(&v) {
        return Err(err);
    }
    let choice = v.pointer("/choices/0");
    Ok(Delta {
        text: choice
            .and_then(|c| c.pointer("/delta/content"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        finish: choice.and_then(|c| finish(&c["finish_reason"])),
        usage: usage(&v),
        done: false,
    })
}

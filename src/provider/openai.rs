//! OpenAI Chat Completions (`POST {base}/chat/completions`), as documented at
//! platform.openai.com/docs/api-reference/chat, and the servers that copy it.

use serde_json::{json, Value};

use super::{
    json, tokens, trim_base, Answer, CallDelta, ChatRequest, Delta, Finish, HttpRequest, Usage,
};
use super::{sse::Event, ProviderError};
use crate::chat::{Role, ToolCall, ToolChoice};
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

/// The turns as `messages`: the conversation's own shape, with `content: null` beside an
/// assistant's tool calls.
fn messages(r: &ChatRequest) -> Value {
    let turns = r.conversation.messages().iter().map(|m| {
        let mut v = serde_json::to_value(m).unwrap_or(Value::Null);
        if m.role == Role::Assistant && !m.tool_calls.is_empty() && m.content.is_empty() {
            v["content"] = Value::Null;
        }
        v
    });
    Value::Array(turns.collect())
}

pub(super) fn build(r: &ChatRequest) -> HttpRequest {
    let mut body = json!({
        "model": r.api_model,
        "messages": messages(r),
        "stream": r.stream,
    });
    let toolset = r.conversation.tools();
    if !toolset.tools.is_empty() {
        body["tools"] = json!(toolset.tools);
        body["tool_choice"] = match &toolset.choice {
            ToolChoice::Auto => json!("auto"),
            ToolChoice::None => json!("none"),
            ToolChoice::Required => json!("required"),
            ToolChoice::Tool(name) => json!({"type": "function", "function": {"name": name}}),
        };
    }
    if let Some(output) = &toolset.output {
        body["response_format"] = json!({"type": "json_schema",
            "json_schema": {"name": output.name, "schema": output.schema}});
    }
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
        "tool_calls" | "function_call" => Finish::ToolCalls,
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
    let tool_calls = (choice
        .pointer("/message/tool_calls")
        .and_then(Value::as_array))
    .map(|calls| calls.iter().map(whole_call).collect::<Result<Vec<_>, _>>())
    .transpose()?
    .unwrap_or_default();
    // A refusal comes as a 200 whose message carries `refusal` instead of content.
    let refused = choice
        .pointer("/message/refusal")
        .is_some_and(Value::is_string);
    Ok(Answer {
        text: choice
            .pointer("/message/content")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        finish: if refused {
            Some(Finish::Refusal)
        } else {
            finish(&choice["finish_reason"])
        },
        usage: usage(&v),
        tool_calls,
        reasoning: reasoning(choice.get("message")),
    })
}

/// Shown thinking, as the OpenAI-compatible servers that send it name it (`reasoning_content`:
/// DeepSeek, vLLM, llama.cpp; `reasoning`: Ollama, OpenRouter).
fn reasoning(v: Option<&Value>) -> String {
    let field = |k: &str| v.and_then(|v| v.get(k)).and_then(Value::as_str);
    field("reasoning_content")
        .or_else(|| field("reasoning"))
        .unwrap_or_default()
        .to_string()
}

fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).map(str::to_string)
}

fn whole_call(c: &Value) -> Result<ToolCall, ProviderError> {
    let name = text(c.pointer("/function/name"))
        .ok_or_else(|| ProviderError::Malformed("a tool call without a name".into()))?;
    Ok(ToolCall {
        id: text(c.get("id")).unwrap_or_default(),
        name,
        arguments: text(c.pointer("/function/arguments")).unwrap_or_default(),
        signature: text(c.pointer("/extra_content/google/thought_signature")),
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
    let calls = (choice
        .and_then(|c| c.pointer("/delta/tool_calls"))
        .and_then(Value::as_array))
    .map(|calls| {
        (calls.iter())
            .map(|c| CallDelta {
                index: c.get("index").and_then(Value::as_u64),
                id: text(c.get("id")),
                name: text(c.pointer("/function/name")),
                arguments: text(c.pointer("/function/arguments")).unwrap_or_default(),
                signature: text(c.pointer("/extra_content/google/thought_signature")),
            })
            .collect()
    })
    .unwrap_or_default();
    let refused = choice
        .and_then(|c| c.pointer("/delta/refusal"))
        .is_some_and(Value::is_string);
    Ok(Delta {
        reasoning: reasoning(choice.and_then(|c| c.get("delta"))),
        calls,
        text: choice
            .and_then(|c| c.pointer("/delta/content"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        finish: if refused {
            Some(Finish::Refusal)
        } else {
            choice.and_then(|c| finish(&c["finish_reason"]))
        },
        usage: usage(&v),
        done: false,
    })
}

//! Anthropic Messages (`POST {base}/messages`), as documented at
//! docs.anthropic.com/en/api/messages and /en/api/messages-streaming.

use serde_json::{json, Value};

use super::{
    json, tokens, trim_base, Answer, CallDelta, ChatRequest, Delta, Finish, HttpRequest, Usage,
};
use super::{sse::Event, ProviderError};
use crate::chat::{Part, ToolCall, ToolChoice};

const VERSION: &str = "2023-06-01";

pub(super) fn build(r: &ChatRequest) -> HttpRequest {
    // Messages alternate user and assistant; system turns go in `system`.
    let (system, turns) = r.conversation.alternating();
    let messages: Vec<Value> = (turns.iter())
        .map(|(role, parts)| json!({"role": role, "content": content(parts)}))
        .collect();
    let mut body = json!({
        "model": r.api_model,
        "max_tokens": r.max_tokens,
        "messages": messages,
        "stream": r.stream,
    });
    if let Some(system) = system {
        body["system"] = json!(system);
    }
    // Claude 5.x takes an effort setting; it refuses the older manual thinking budget.
    if let Some(effort) = &r.reasoning_effort {
        body["output_config"]["effort"] = json!(effort);
    }
    let toolset = r.conversation.tools();
    if let Some(output) = &toolset.output {
        body["output_config"]["format"] = json!({"type": "json_schema", "schema": output.schema});
    }
    if !toolset.tools.is_empty() {
        let tools: Vec<Value> = (toolset.tools.iter())
            .map(|t| {
                let mut tool = json!({"name": t.name, "input_schema": t.parameters});
                if let Some(d) = &t.description {
                    tool["description"] = json!(d);
                }
                tool
            })
            .collect();
        body["tools"] = json!(tools);
        body["tool_choice"] = match &toolset.choice {
            ToolChoice::Auto => json!({"type": "auto"}),
            ToolChoice::None => json!({"type": "none"}),
            ToolChoice::Required => json!({"type": "any"}),
            ToolChoice::Tool(name) => json!({"type": "tool", "name": name}),
        };
    }
    let mut headers = vec![
        ("content-type", "application/json".to_string()),
        ("anthropic-version", VERSION.to_string()),
        // Required for calls made from a web page (CORS).
        (
            "anthropic-dangerous-direct-browser-access",
            "true".to_string(),
        ),
    ];
    if let Some(key) = &r.key {
        headers.push(("x-api-key", key.expose().to_string()));
    }
    HttpRequest {
        method: "POST",
        url: format!("{}/messages", trim_base(&r.base_url)),
        headers,
        body: body.to_string(),
    }
}

/// A turn's content: its text alone as a string (as before tools), else content blocks.
fn content(parts: &[Part]) -> Value {
    if let [Part::Text(text)] = parts {
        return json!(text);
    }
    let blocks: Vec<Value> = (parts.iter())
        .map(|p| match p {
            Part::Text(text) => json!({"type": "text", "text": text}),
            Part::Call(c) => json!({"type": "tool_use", "id": c.id, "name": c.name,
                "input": c.input().unwrap_or_else(|_| json!({}))}),
            Part::Result { id, content, .. } => {
                json!({"type": "tool_result", "tool_use_id": id, "content": content})
            }
        })
        .collect();
    Value::Array(blocks)
}

fn finish(v: &Value) -> Option<Finish> {
    v.as_str().map(|f| match f {
        "end_turn" | "stop_sequence" => Finish::Stop,
        "max_tokens" => Finish::Length,
        "refusal" => Finish::Refusal,
        "tool_use" => Finish::ToolCalls,
        other => Finish::Other(other.to_string()),
    })
}

fn usage(u: Option<&Value>) -> Option<Usage> {
    let u = u.filter(|u| u.is_object())?;
    Some(Usage {
        input_tokens: tokens(u, "input_tokens"),
        output_tokens: tokens(u, "output_tokens"),
    })
}

fn error_in(v: &Value) -> Option<ProviderError> {
    if v.get("type").and_then(Value::as_str) != Some("error") {
        return None;
    }
    let kind = v.pointer("/error/type").and_then(Value::as_str);
    let message = v
        .pointer("/error/message")
        .and_then(Value::as_str)
        .unwrap_or("unknown error")
        .to_string();
    Some(match kind {
        Some("overloaded_error") => ProviderError::Overloaded {
            status: 529,
            message,
        },
        _ => ProviderError::InStream(message),
    })
}

pub(super) fn answer(body: &str) -> Result<Answer, ProviderError> {
    let v = json(body)?;
    if let Some(e) = error_in(&v) {
        return Err(e);
    }
    let content = v
        .get("content")
        .and_then(Value::as_array)
        .ok_or_else(|| ProviderError::Malformed("no content in the answer".into()))?;
    let text = content
        .iter()
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|b| b.get("text").and_then(Value::as_str))
        .collect();
    let tool_calls = (content.iter())
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("tool_use"))
        .map(|b| ToolCall {
            id: b
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            name: b
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            arguments: b.get("input").map_or_else(String::new, Value::to_string),
            signature: None,
        })
        .collect();
    Ok(Answer {
        text,
        finish: finish(&v["stop_reason"]),
        usage: usage(v.get("usage")),
        tool_calls,
        reasoning: (content.iter())
            .filter(|b| b.get("type").and_then(Value::as_str) == Some("thinking"))
            .filter_map(|b| b.get("thinking").and_then(Value::as_str))
            .collect(),
    })
}

pub(super) fn event(e: &Event) -> Result<Delta, ProviderError> {
    let v = json(&e.data)?;
    if let Some(err) = error_in(&v) {
        return Err(err);
    }
    let mut delta = Delta::default();
    match v.get("type").and_then(Value::as_str) {
        Some("message_start") => delta.usage = usage(v.pointer("/message/usage")),
        Some("content_block_start")
            if v.pointer("/content_block/type").and_then(Value::as_str) == Some("tool_use") =>
        {
            let field = |k: &str| {
                v.pointer(&format!("/content_block/{k}"))
                    .and_then(Value::as_str)
            };
            delta.calls.push(CallDelta {
                index: v.get("index").and_then(Value::as_u64),
                id: field("id").map(str::to_string),
                name: field("name").map(str::to_string),
                ..CallDelta::default()
            });
        }
        Some("content_block_delta") => {
            delta.text = v
                .pointer("/delta/text")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            if let Some(thinking) = v.pointer("/delta/thinking").and_then(Value::as_str) {
                delta.reasoning = thinking.to_string();
            }
            if let Some(json) = v.pointer("/delta/partial_json").and_then(Value::as_str) {
                delta.calls.push(CallDelta {
                    index: v.get("index").and_then(Value::as_u64),
                    arguments: json.to_string(),
                    ..CallDelta::default()
                });
            }
        }
        Some("message_delta") => {
            delta.finish = finish(&v["delta"]["stop_reason"]);
            delta.usage = usage(v.get("usage"));
        }
        Some("message_stop") => delta.done = true,
        // ping, content_block_start/stop and event types added later carry no text.
        _ => {}
    }
    Ok(delta)
}

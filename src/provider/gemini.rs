//! Google Gemini (`POST {base}/models/{model}:generateContent`, or
//! `:streamGenerateContent?alt=sse`), as documented at ai.google.dev/api/generate-content.

use serde_json::{json, Value};

use super::{
    json, tokens, trim_base, Answer, CallDelta, ChatRequest, Delta, Finish, HttpRequest, Usage,
};
use super::{sse::Event, ProviderError};
use crate::chat::{Part, Role, ToolChoice};
use crate::endpoint::Endpoint;

pub(super) fn build(r: &ChatRequest) -> HttpRequest {
    // Contents alternate "user" and "model"; system turns go in `systemInstruction`.
    let (system, turns) = r.conversation.alternating();
    let contents: Vec<Value> = (turns.iter())
        .map(|(role, parts)| {
            let role = if *role == Role::Assistant {
                "model"
            } else {
                "user"
            };
            json!({"role": role, "parts": parts.iter().map(part).collect::<Vec<_>>()})
        })
        .collect();
    let mut body = json!({
        "contents": contents,
        "generationConfig": {"maxOutputTokens": r.max_tokens},
    });
    if let Some(system) = system {
        body["systemInstruction"] = json!({"parts": [{"text": system}]});
    }
    let toolset = r.conversation.tools();
    if !toolset.tools.is_empty() {
        let declarations: Vec<Value> = (toolset.tools.iter())
            .map(|t| {
                let mut d = json!({"name": t.name, "parameters": t.parameters});
                if let Some(description) = &t.description {
                    d["description"] = json!(description);
                }
                d
            })
            .collect();
        body["tools"] = json!([{"functionDeclarations": declarations}]);
        let config = match &toolset.choice {
            ToolChoice::Auto => json!({"mode": "AUTO"}),
            ToolChoice::None => json!({"mode": "NONE"}),
            ToolChoice::Required => json!({"mode": "ANY"}),
            ToolChoice::Tool(name) => json!({"mode": "ANY", "allowedFunctionNames": [name]}),
        };
        body["toolConfig"] = json!({"functionCallingConfig": config});
    }
    if let Some(output) = &toolset.output {
        body["generationConfig"]["responseMimeType"] = json!("application/json");
        body["generationConfig"]["responseJsonSchema"] = output.schema.clone();
    }
    // Gemini 4 takes a thinking level, not the older thinking budget.
    if let Some(effort) = &r.reasoning_effort {
        body["generationConfig"]["thinkingConfig"] = json!({"thinkingLevel": effort});
    }
    let verb = if r.stream {
        "streamGenerateContent"
    } else {
        "generateContent"
    };
    let mut headers = vec![("content-type", "application/json".to_string())];
    if let Some(key) = &r.key {
        // In a header, not the URL, so the key stays out of logs and history.
        headers.push(("x-goog-api-key", key.expose().to_string()));
    }
    // The model id is one escaped path segment: "a/../b?x" cannot move the call elsewhere.
    let url = match Endpoint::parse(&r.base_url) {
        Ok(base) => {
            let mut url = base.join("models");
            if let Ok(mut path) = url.path_segments_mut() {
                path.push(&format!("{}:{verb}", r.api_model));
            }
            url.set_query(r.stream.then_some("alt=sse"));
            url.to_string()
        }
        // Pools are checked when parsed; a base that still fails yields a URL that fails too.
        Err(_) => format!("{}/models/invalid-base-url", trim_base(&r.base_url)),
    };
    HttpRequest {
        method: "POST",
        url,
        headers,
        body: body.to_string(),
    }
}

/// One part of a turn: text, a call (with its thought signature, which Gemini wants back) or
/// a result (an object as the tool gave it, else `{"result": text}`).
fn part(p: &Part) -> Value {
    match p {
        Part::Text(text) => json!({"text": text}),
        Part::Call(c) => {
            let mut call = json!({"name": c.name, "args": c.input().unwrap_or_else(|_| json!({}))});
            // Ids the router made up (Gemini sent none) are not Gemini's to see.
            if !c.id.starts_with("call_") {
                call["id"] = json!(c.id);
            }
            let mut v = json!({"functionCall": call});
            if let Some(s) = &c.signature {
                v["thoughtSignature"] = json!(s);
            }
            v
        }
        Part::Result { id, name, content } => {
            let response = match serde_json::from_str::<Value>(content) {
                Ok(v) if v.is_object() => v,
                _ => json!({"result": content}),
            };
            let mut r = json!({"name": name, "response": response});
            if !id.starts_with("call_") {
                r["id"] = json!(id);
            }
            json!({"functionResponse": r})
        }
    }
}

fn finish(v: &Value) -> Option<Finish> {
    v.as_str().map(|f| match f {
        "STOP" => Finish::Stop,
        "MAX_TOKENS" => Finish::Length,
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" => {
            Finish::ContentFilter
        }
        other => Finish::Other(other.to_string()),
    })
}

fn chunk(v: &Value) -> Result<Delta, ProviderError> {
    if let Some(message) = v.pointer("/error/message").and_then(Value::as_str) {
        return Err(ProviderError::InStream(message.to_string()));
    }
    if let Some(reason) = v
        .pointer("/promptFeedback/blockReason")
        .and_then(Value::as_str)
    {
        return Ok(Delta {
            finish: Some(if reason == "OTHER" {
                Finish::Other(reason.to_string())
            } else {
                Finish::ContentFilter
            }),
            ..Delta::default()
        });
    }
    let candidate = v.pointer("/candidates/0");
    // Thought parts (`"thought": true`) are the model's shown thinking, not the answer.
    let parts = (candidate.and_then(|c| c.pointer("/content/parts")))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let texts = |thought: bool| -> String {
        (parts.iter())
            .filter(|p| p.get("thought").and_then(Value::as_bool).unwrap_or(false) == thought)
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect()
    };
    let text = texts(false);
    let reasoning = texts(true);
    // Each call comes whole, in one part.
    let calls: Vec<CallDelta> = (candidate.and_then(|c| c.pointer("/content/parts")))
        .and_then(Value::as_array)
        .map(|parts| {
            (parts.iter())
                .filter_map(|p| {
                    let call = p.get("functionCall")?;
                    Some(CallDelta {
                        index: None,
                        id: call.get("id").and_then(Value::as_str).map(str::to_string),
                        name: call.get("name").and_then(Value::as_str).map(str::to_string),
                        arguments: call.get("args").map_or_else(String::new, Value::to_string),
                        signature: p
                            .get("thoughtSignature")
                            .and_then(Value::as_str)
                            .map(str::to_string),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let usage = v
        .get("usageMetadata")
        .filter(|u| u.is_object())
        .map(|u| Usage {
            input_tokens: tokens(u, "promptTokenCount"),
            // Thinking is billed as output on top of the candidates' tokens.
            output_tokens: tokens(u, "candidatesTokenCount") + tokens(u, "thoughtsTokenCount"),
        });
    // Gemini says STOP after calling tools.
    let finish = match candidate.and_then(|c| finish(&c["finishReason"])) {
        Some(Finish::Stop) if !calls.is_empty() => Some(Finish::ToolCalls),
        other => other,
    };
    Ok(Delta {
        text,
        finish,
        usage,
        done: false,
        calls,
        reasoning,
    })
}

pub(super) fn answer(body: &str) -> Result<Answer, ProviderError> {
    let v = json(body)?;
    if v.get("candidates").is_none()
        && v.get("error").is_none()
        && v.get("promptFeedback").is_none()
    {
        return Err(ProviderError::Malformed(
            "no candidates in the answer".into(),
        ));
    }
    let d = chunk(&v)?;
    let mut acc = super::Accumulator::default();
    acc.push(d);
    Ok(acc.into_answer())
}

pub(super) fn event(e: &Event) -> Result<Delta, ProviderError> {
    chunk(&json(&e.data)?)
}

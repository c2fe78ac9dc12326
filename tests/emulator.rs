//! The native transport and the wire formats against the provider emulator, over real HTTP on
//! loopback: answers in all three formats, typed faults, retry and fallback.

use std::time::Duration;

use crate::common::{self, Emulator};

use routoo::provider::{
    ApiKey, AskOptions, ChatRequest, Fallback, Finish, Format, Keys, Next, ProviderError,
    RetryPolicy,
};
use routoo::transport::NativeClient;

fn client() -> NativeClient {
    NativeClient::new(Duration::from_secs(5), Duration::from_secs(10))
}

const FORMATS: [Format; 3] = [Format::OpenAi, Format::Anthropic, Format::Gemini];

#[test]
fn every_format_answers_whole_and_streamed() {
    let emulator = Emulator::start();
    for format in FORMATS {
        let whole = client()
            .call(format, &emulator.request(format, "m-1", false), |_| {})
            .unwrap_or_else(|e| panic!("{format:?} whole: {e}"));
        assert!(
            whole.text.starts_with("Emulated answer"),
            "{format:?}: {}",
            whole.text
        );
        assert_eq!(whole.finish, Some(Finish::Stop));
        let mut pieces = Vec::new();
        let streamed = client()
            .call(format, &emulator.request(format, "m-1", true), |t| {
                pieces.push(t.to_string())
            })
            .unwrap_or_else(|e| panic!("{format:?} streamed: {e}"));
        assert_eq!(streamed.text, whole.text, "{format:?}");
        assert!(pieces.len() > 1, "{format:?} arrived in one piece");
        assert_eq!(pieces.concat(), streamed.text);
        let usage = streamed.usage.expect("usage reported");
        assert!(
            usage.input_tokens > 0 && usage.output_tokens > 0,
            "{format:?}: {usage:?}"
        );
        assert_eq!(streamed.usage, whole.usage, "{format:?}");
    }
}

#[test]
fn streams_with_a_bom_bare_cr_no_end_marker_or_an_error_mid_way() {
    let emulator = Emulator::start();
    for format in FORMATS {
        let call = |model: &str| {
            let mut shown = String::new();
            let answer = client().call(format, &emulator.request(format, model, true), |t| {
                shown.push_str(t)
            });
            (answer, shown)
        };
        let (clean, _) = call("edge");
        let clean = clean.unwrap_or_else(|e| panic!("{format:?}: {e}"));
        for fault in ["bom-cr", "no-end"] {
            emulator.script("edge", &[fault]);
            let (answer, shown) = call("edge");
            let answer = answer.unwrap_or_else(|e| panic!("{format:?} {fault}: {e}"));
            assert_eq!(answer.text, clean.text, "{format:?} {fault}");
            assert_eq!(shown, clean.text, "{format:?} {fault}");
            assert_eq!(answer.finish, Some(Finish::Stop), "{format:?} {fault}");
        }
        emulator.script("edge", &["error-mid"]);
        let (answer, shown) = call("edge");
        let err = answer.unwrap_err();
        assert!(
            matches!(err, ProviderError::InStream(_)),
            "{format:?}: {err}"
        );
        assert!(
            clean.text.starts_with(&shown) && !shown.is_empty(),
            "{format:?}"
        );
    }
}

#[test]
fn trickling_endless_and_huge_answers_end_with_a_clear_error() {
    let emulator = Emulator::start();
    // A comment every 50 ms keeps the call from going idle: only the overall deadline ends it.
    let deadline = NativeClient::new(Duration::from_secs(5), Duration::from_secs(1));
    emulator.script("trickle", &["trickle"]);
    let err = deadline
        .call(
            Format::OpenAi,
            &emulator.request(Format::OpenAi, "trickle", true),
            |_| {},
        )
        .unwrap_err();
    assert!(matches!(err, ProviderError::Timeout(_)), "{err}");
    for format in FORMATS {
        emulator.script("endless", &["endless"]);
        let mut shown = 0;
        let err = client()
            .call(format, &emulator.request(format, "endless", true), |t| {
                shown += t.len()
            })
            .unwrap_err();
        // It ignores the limit: cut at the text bound of the call's 128 tokens.
        assert!(
            err.to_string()
                .contains("past the answer limit of 128 tokens"),
            "{format:?}: {err}"
        );
        let bound =
            128 * routoo::provider::MAX_BYTES_PER_TOKEN + routoo::provider::TEXT_SLACK_BYTES;
        assert!(shown <= bound, "{format:?}: {shown} bytes shown");
        emulator.script("huge", &["huge"]);
        let err = client()
            .call(format, &emulator.request(format, "huge", false), |_| {})
            .unwrap_err();
        assert!(err.to_string().contains("larger than"), "{format:?}: {err}");
    }
}

#[test]
fn faults_become_typed_errors() {
    let emulator = Emulator::start();
    for format in FORMATS {
        let call = |model: &str, stream| {
            client().call(format, &emulator.request(format, model, stream), |_| {})
        };
        let mut bad_key = emulator.request(format, "m-1", false);
        bad_key.key = Some(ApiKey::new("bad"));
        let err = client().call(format, &bad_key, |_| {}).unwrap_err();
        assert!(
            matches!(err, ProviderError::Auth { status: 401, .. }),
            "{format:?}: {err}"
        );
        assert!(err.to_string().contains("refuses this key"), "{err}");

        emulator.script("limited", &["429"]);
        match call("limited", true).unwrap_err() {
            ProviderError::RateLimited { retry_after, .. } => {
                assert_eq!(retry_after, Some(Duration::from_secs(1)))
            }
            other => panic!("{format:?}: {other}"),
        }
        let err = call("always-500", false).unwrap_err();
        assert!(
            matches!(err, ProviderError::Server { status: 500, .. }),
            "{format:?}: {err}"
        );
        let err = call("cut-stream", true).unwrap_err();
        assert!(
            matches!(err, ProviderError::Malformed(_)),
            "{format:?}: {err}"
        );
    }
    let quick = NativeClient::new(Duration::from_secs(2), Duration::from_millis(600));
    let err = quick
        .call(
            Format::OpenAi,
            &emulator.request(Format::OpenAi, "stall", true),
            |_| {},
        )
        .unwrap_err();
    assert!(
        matches!(err, ProviderError::Timeout(_) | ProviderError::Network(_)),
        "{err}"
    );
    let closed = ChatRequest {
        base_url: "http://127.0.0.1:9/v1".into(),
        ..emulator.request(Format::OpenAi, "m", false)
    };
    let err = client().call(Format::OpenAi, &closed, |_| {}).unwrap_err();
    assert!(matches!(err, ProviderError::Network(_)), "{err}");
}

#[test]
fn a_429_is_retried_and_a_500_falls_back_to_the_next_model() {
    let emulator = Emulator::start();
    let candidate = |model: &str, provider: &str| common::candidate(model, provider, 0.5, 0.0);
    emulator.script("flaky", &["429"]);
    let ranked = vec![
        candidate("always-500", "openai"),
        candidate("flaky", "anthropic"),
    ];
    let policy = RetryPolicy {
        initial: Duration::from_millis(10),
        ..RetryPolicy::default()
    };
    let mut fallback = Fallback::new(ranked, policy);
    let answer = loop {
        let c = fallback.current().expect("a candidate is left").clone();
        let format = Format::of_provider(&c.provider);
        match client().call(format, &emulator.request(format, &c.model, true), |_| {}) {
            Ok(answer) => break (c.model, answer),
            Err(e) => match fallback.failed(&e) {
                Next::Retry(wait) => std::thread::sleep(wait.min(Duration::from_millis(1100))),
                Next::FallBack(_) => {}
                Next::GiveUp => panic!("gave up: {:?}", fallback.attempts()),
            },
        }
    };
    assert_eq!(answer.0, "flaky");
    assert!(answer.1.text.starts_with("Emulated answer"));
    let tried: Vec<(&str, bool)> = fallback
        .attempts()
        .iter()
        .map(|a| (a.model.as_str(), a.error.contains("HTTP 429")))
        .collect();
    assert_eq!(
        tried,
        [
            ("always-500", false),
            ("always-500", false),
            ("always-500", false),
            ("flaky", true)
        ]
    );
}

/// The path each format posts to, for a redirect's target.
fn path(format: Format) -> &'static str {
    match format {
        Format::OpenAi => "/v1/chat/completions",
        Format::Anthropic => "/v1/messages",
        Format::Gemini => "/v1beta/models/m:generateContent",
    }
}

#[test]
fn a_redirect_is_refused_and_never_followed() {
    let provider = Emulator::start();
    let elsewhere = Emulator::start();
    for format in FORMATS {
        for status in [301, 302, 303, 307, 308] {
            let to = format!("{}{}", elsewhere.url, path(format));
            provider.script("moved", &[&format!("redirect:{status}:{to}")]);
            let err = client()
                .call(format, &provider.request(format, "moved", true), |_| {})
                .unwrap_err();
            assert_eq!(
                err,
                ProviderError::Redirect {
                    status: Some(status),
                    to: Some(elsewhere.url.clone()),
                },
                "{format:?} {status}"
            );
            let words = err.to_string();
            assert!(
                words.contains(&format!("HTTP {status} to {}", elsewhere.url)),
                "{words}"
            );
            assert!(err.is_unbilled() && !err.is_retryable(), "{words}");
        }
    }
    assert_eq!(posts(&elsewhere), 0, "the redirects' target was called");
}

/// Requests to a provider's API, of any method (not the emulator's own control paths).
fn posts(emulator: &Emulator) -> usize {
    emulator
        .calls()
        .into_iter()
        .filter(|c| c["path"] != "/_script" && c["path"] != "/_calls")
        .count()
}

#[test]
fn a_redirect_is_not_retried_and_falls_back_without_the_key() {
    let provider = Emulator::start();
    let elsewhere = Emulator::start();
    let to = format!("{}/v1/chat/completions", elsewhere.url);
    provider.script("moved", &[&format!("redirect:307:{to}")]);
    let model = |id: &str, base: &str| routoo::PoolModel {
        id: id.into(),
        provider: id.into(),
        api_model: id.into(),
        base_url: base.into(),
        price_in: 1.0,
        price_out: 2.0,
        context_window: 100_000,
        latency_ms: 100,
        ..Default::default()
    };
    let second = Emulator::start();
    let pool = routoo::Pool::from_models(vec![
        model("moved", &provider.base(Format::OpenAi)),
        model("steady", &second.base(Format::OpenAi)),
    ])
    .unwrap();
    let mut keys = Keys::new();
    keys.insert(&provider.url, ApiKey::new("key-for-the-first"))
        .unwrap();
    keys.insert(&second.url, ApiKey::new("key-for-the-second"))
        .unwrap();
    let ranked = vec![
        common::candidate("moved", "moved", 0.9, 0.01),
        common::candidate("steady", "steady", 0.8, 0.01),
    ];
    let reply = futures::executor::block_on(routoo::provider::ask(
        &client(),
        &pool,
        ranked,
        &routoo::Conversation::from_prompt("Name three routers."),
        &keys,
        &AskOptions::default(),
        |_| {},
    ))
    .unwrap();
    assert_eq!(reply.model, "steady");
    assert_eq!(reply.attempts.len(), 1, "one call, no retry");
    assert!(reply.attempts[0].error.contains("redirect"));
    assert_eq!(reply.attempts[0].cost, 0.0, "a redirect generates nothing");
    assert_eq!(posts(&provider), 1);
    assert_eq!(posts(&elsewhere), 0, "the redirect was followed");
}

#[test]
fn a_key_echoed_in_an_error_is_masked() {
    let emulator = Emulator::start();
    let model = routoo::PoolModel {
        id: "echo".into(),
        provider: "custom".into(),
        api_model: "echo".into(),
        base_url: emulator.base(Format::OpenAi),
        price_in: 1.0,
        price_out: 2.0,
        context_window: 100_000,
        latency_ms: 100,
        ..Default::default()
    };
    let pool = routoo::Pool::from_models(vec![model]).unwrap();
    let mut keys = Keys::new();
    keys.insert(&emulator.url, ApiKey::new("sk-live-0123456789"))
        .unwrap();
    emulator.script("echo", &["echo-key"]);
    let err = futures::executor::block_on(routoo::provider::ask(
        &client(),
        &pool,
        vec![common::candidate("echo", "custom", 0.9, 0.01)],
        &routoo::Conversation::from_prompt("Name three routers."),
        &keys,
        &AskOptions::default(),
        |_| {},
    ))
    .unwrap_err();
    let words = err.to_string();
    assert!(
        words.contains("unknown model for key <redacted>"),
        "{words}"
    );
    assert!(!words.contains("sk-live-0123456789"), "{words}");
}

#[test]
fn thinking_tokens_are_counted_once_in_every_format() {
    let emulator = Emulator::start();
    for format in FORMATS {
        for stream in [false, true] {
            let mut request = emulator.request(format, "thinker", stream);
            request.max_tokens = 60_000;
            let plain = client().call(format, &request, |_| {}).unwrap();
            emulator.script("thinker", &["think:50000"]);
            let thought = client()
                .call(format, &request, |_| {})
                .unwrap_or_else(|e| panic!("{format:?}: {e}"));
            let (plain, thought) = (plain.usage.unwrap(), thought.usage.unwrap());
            assert_eq!(
                thought.output_tokens,
                plain.output_tokens + 50_000,
                "{format:?} stream {stream}"
            );
        }
    }
}

#[test]
fn an_answer_past_its_limit_is_cut_and_counted_at_its_worst_case() {
    let emulator = Emulator::start();
    let limit = 496;
    let bound =
        limit as usize * routoo::provider::MAX_BYTES_PER_TOKEN + routoo::provider::TEXT_SLACK_BYTES;
    for format in FORMATS {
        for stream in [true, false] {
            let mut request = emulator.request(format, "overlong", stream);
            request.max_tokens = limit;
            emulator.script("overlong", &["overlong"]);
            let mut shown = 0;
            let err = client()
                .call(format, &request, |t| shown += t.len())
                .unwrap_err();
            assert!(
                matches!(err, ProviderError::OverLimit { limit: 496, .. }),
                "{format:?} stream {stream}: {err}"
            );
            assert!(shown <= bound, "{format:?}: {shown} bytes shown");
            assert!(!err.is_unbilled());
        }
    }
    // Through ask under a cap: the call counts as the worst case its limit allows, no more.
    let model = routoo::PoolModel {
        id: "overlong".into(),
        provider: "custom".into(),
        api_model: "overlong".into(),
        base_url: emulator.base(Format::OpenAi),
        price_in: 1.0,
        price_out: 10.0,
        context_window: 100_000,
        latency_ms: 100,
        ..Default::default()
    };
    let pool = routoo::Pool::from_models(vec![model.clone()]).unwrap();
    let mut keys = Keys::new();
    keys.insert(&emulator.url, ApiKey::new("k")).unwrap();
    emulator.script("overlong", &["overlong"]);
    let conversation = routoo::Conversation::from_prompt("Write the longest story you can.");
    let cap = 0.005;
    let err = futures::executor::block_on(routoo::provider::ask(
        &client(),
        &pool,
        vec![common::candidate("overlong", "custom", 0.9, 0.001)],
        &conversation,
        &keys,
        &AskOptions {
            max_cost: Some(cap),
            ..AskOptions::default()
        },
        |_| {},
    ))
    .unwrap_err();
    let attempts = err.attempts();
    assert_eq!(attempts.len(), 1, "{err}");
    assert!(attempts[0].error.contains("past the answer limit"), "{err}");
    assert!(
        attempts[0].cost > 0.0 && attempts[0].cost <= cap,
        "counted {} under a cap of {cap}",
        attempts[0].cost
    );
}

#[test]
fn a_pool_entrys_reasoning_effort_reaches_the_wire_in_every_format() {
    let emulator = Emulator::start();
    for (format, provider, field) in [
        (Format::OpenAi, "openai", "/reasoning_effort"),
        (Format::Anthropic, "anthropic", "/output_config/effort"),
        (
            Format::Gemini,
            "gemini",
            "/generationConfig/thinkingConfig/thinkingLevel",
        ),
    ] {
        let model = routoo::PoolModel {
            id: format!("thinker-{provider}"),
            provider: provider.into(),
            api_model: format!("thinker-{provider}"),
            base_url: emulator.base(format),
            price_in: 1.0,
            price_out: 2.0,
            context_window: 100_000,
            latency_ms: 100,
            reasoning_effort: Some("low".into()),
            ..Default::default()
        };
        let pool = routoo::Pool::from_models(vec![model]).unwrap();
        let mut keys = Keys::new();
        keys.insert(&emulator.url, ApiKey::new("k")).unwrap();
        let id = format!("thinker-{provider}");
        futures::executor::block_on(routoo::provider::ask(
            &client(),
            &pool,
            vec![common::candidate(&id, provider, 0.9, 0.01)],
            &routoo::Conversation::from_prompt("Is 91 prime?"),
            &keys,
            &AskOptions::default(),
            |_| {},
        ))
        .unwrap_or_else(|e| panic!("{format:?}: {e}"));
        let sent = (emulator.calls().into_iter())
            .rfind(|c| c["method"] == "POST" && c["path"] != "/_script")
            .unwrap();
        assert_eq!(
            sent["body"].pointer(field),
            Some(&"low".into()),
            "{format:?}: {sent}"
        );
    }
}

#[test]
fn a_tool_call_and_its_result_round_trip_and_a_schema_is_followed_in_every_format() {
    use routoo::chat::{Message, OutputSchema, Role, Tool, ToolChoice, Toolset};
    use routoo::Conversation;
    let emulator = Emulator::start();
    let tool: Tool = serde_json::from_value(serde_json::json!({"type": "function", "function": {
        "name": "lookup", "parameters": {"type": "object", "properties": {"query": {"type": "string"}}}}}))
    .unwrap();
    let tools = || Toolset::new(vec![tool.clone()], ToolChoice::Auto, None).unwrap();
    let question = Message::new(Role::User, "Name three routers.");
    for format in FORMATS {
        for stream in [false, true] {
            let ask = |conversation: Conversation| {
                let request = ChatRequest {
                    conversation,
                    ..emulator.request(format, "m-1", stream)
                };
                client()
                    .call(format, &request, |_| {})
                    .unwrap_or_else(|e| panic!("{format:?} stream {stream}: {e}"))
            };
            let first = ask(Conversation::new(vec![question.clone()])
                .unwrap()
                .with_tools(tools()));
            assert_eq!(first.finish, Some(Finish::ToolCalls), "{format:?} {stream}");
            let [call] = first.tool_calls.as_slice() else {
                panic!("{format:?} {stream}: {:?}", first.tool_calls)
            };
            assert_eq!(call.name, "lookup");
            assert_eq!(
                call.input().unwrap(),
                serde_json::json!({"query": "Name three routers."})
            );
            // The call goes back as the model made it (Gemini's signature too), with its result.
            let turns = vec![
                question.clone(),
                Message {
                    tool_calls: first.tool_calls.clone(),
                    ..Message::new(Role::Assistant, "")
                },
                Message {
                    tool_call_id: Some(call.id.clone()),
                    ..Message::new(Role::Tool, "{\"routers\": 3}")
                },
            ];
            let second = ask(Conversation::new(turns.clone())
                .unwrap()
                .with_tools(tools()));
            assert_eq!(second.finish, Some(Finish::Stop), "{format:?} {stream}");
            assert!(
                second.text.starts_with("The tool said: "),
                "{format:?} {stream}: {}",
                second.text
            );
            assert!(
                second.text.contains("routers") && second.text.contains('3'),
                "{}",
                second.text
            );
            if format == Format::Gemini {
                // Without the signature Gemini gave, it refuses the conversation.
                let mut unsigned = turns.clone();
                unsigned[1].tool_calls[0].signature = None;
                let request = ChatRequest {
                    conversation: Conversation::new(unsigned).unwrap().with_tools(tools()),
                    ..emulator.request(format, "m-1", stream)
                };
                let e = client().call(format, &request, |_| {}).unwrap_err();
                assert!(e.to_string().contains("thought_signature"), "{e}");
            }
        }
        let schema = serde_json::json!({"type": "object", "properties": {
            "planet": {"type": "string"}, "moons": {"type": "integer"}}, "required": ["planet", "moons"]});
        let output = Toolset::new(
            vec![],
            ToolChoice::Auto,
            Some(OutputSchema {
                name: "answer".into(),
                schema,
            }),
        )
        .unwrap();
        let request = ChatRequest {
            conversation: Conversation::from_prompt("Largest planet?").with_tools(output),
            ..emulator.request(format, "m-1", true)
        };
        let answer = client().call(format, &request, |_| {}).unwrap();
        let v: serde_json::Value = serde_json::from_str(&answer.text).unwrap();
        assert_eq!(v["moons"], 42, "{format:?}: {}", answer.text);
        assert!(v["planet"].is_string());
    }
}

#[test]
fn shown_thinking_arrives_apart_from_the_answer_in_every_format() {
    use routoo::provider::Piece;
    let emulator = Emulator::start();
    for format in FORMATS {
        for stream in [false, true] {
            emulator.script("thinker", &["reason"]);
            let mut pieces: Vec<(bool, String)> = Vec::new();
            let answer = client()
                .call_pieces(
                    format,
                    &emulator.request(format, "thinker", stream),
                    |p| match p {
                        Piece::Text(t) => pieces.push((false, t.to_string())),
                        Piece::Reasoning(t) => pieces.push((true, t.to_string())),
                    },
                )
                .unwrap_or_else(|e| panic!("{format:?}: {e}"));
            assert_eq!(
                answer.reasoning, "Let me think it through first.",
                "{format:?} {stream}"
            );
            assert!(
                answer.text.starts_with("Emulated answer"),
                "{format:?}: {}",
                answer.text
            );
            if stream {
                // The thinking comes first, apart; the text pieces add up to the answer.
                assert_eq!(pieces[0], (true, answer.reasoning.clone()), "{format:?}");
                let text: String = (pieces.iter())
                    .filter(|p| !p.0)
                    .map(|p| p.1.as_str())
                    .collect();
                assert_eq!(text, answer.text);
            }
        }
    }
}

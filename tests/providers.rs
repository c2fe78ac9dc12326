//! Provider wire formats from recorded-style streams: every split of the bytes gives the same
//! answer; cut streams, error events and bad bodies are typed errors; keys stay in their header.

use futures::executor::block_on;
use routoo::provider::{
    self, sse, Answer, ApiKey, ChatRequest, Finish, Format, ProviderError, StopIssue, Usage,
};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/streams/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn read(format: Format, chunks: Vec<Vec<u8>>) -> (Result<Answer, ProviderError>, String) {
    let stream = futures::stream::iter(chunks.into_iter().map(Ok::<_, ProviderError>));
    let mut seen = String::new();
    let answer = block_on(sse::read(format, stream, |t| seen.push_str(t)));
    (answer, seen)
}

fn cases() -> Vec<(Format, &'static str, Answer)> {
    vec![
        (
            Format::OpenAi,
            "openai.sse",
            Answer {
                text: "Bonjour, ça va ? 🚀".into(),
                finish: Some(Finish::Stop),
                usage: Some(Usage {
                    input_tokens: 12,
                    output_tokens: 7,
                }),
                tool_calls: Vec::new(),
                reasoning: String::new(),
            },
        ),
        (
            Format::Anthropic,
            "anthropic.sse",
            Answer {
                text: "Grüße aus 東京".into(),
                finish: Some(Finish::Length),
                usage: Some(Usage {
                    input_tokens: 25,
                    output_tokens: 15,
                }),
                tool_calls: Vec::new(),
                reasoning: String::new(),
            },
        ),
        (
            Format::Gemini,
            "gemini.sse",
            Answer {
                text: "The answer is 42.".into(),
                finish: Some(Finish::Stop),
                usage: Some(Usage {
                    input_tokens: 9,
                    output_tokens: 6,
                }),
                tool_calls: Vec::new(),
                reasoning: String::new(),
            },
        ),
    ]
}

#[test]
fn every_split_of_a_stream_gives_the_same_answer() {
    for (format, file, expected) in cases() {
        let bytes = fixture(file);
        for at in 0..=bytes.len() {
            let (answer, seen) = read(format, vec![bytes[..at].to_vec(), bytes[at..].to_vec()]);
            let answer = answer.unwrap_or_else(|e| panic!("{file} split at {at}: {e}"));
            assert_eq!(answer, expected, "{file} split at {at}");
            assert_eq!(seen, expected.text, "{file} split at {at}: streamed text");
        }
        let single: Vec<Vec<u8>> = bytes.iter().map(|&b| vec![b]).collect();
        assert_eq!(
            read(format, single).0.unwrap(),
            expected,
            "{file} byte by byte"
        );
    }
}

/// Where the event that carries the finish reason starts.
fn finish_event(bytes: &[u8], format: Format) -> usize {
    let key: &[u8] = match format {
        Format::OpenAi => b"\"finish_reason\":\"",
        Format::Anthropic => b"\"stop_reason\":\"",
        Format::Gemini => b"\"finishReason\"",
    };
    let at = bytes.windows(key.len()).position(|w| w == key).unwrap();
    bytes[..at].windows(5).rposition(|w| w == b"data:").unwrap()
}

#[test]
fn a_cut_stream_is_an_error_not_a_short_answer() {
    for (format, file, _) in cases() {
        let bytes = fixture(file);
        // Cut inside the event that carries the finish reason: no reason, no end marker.
        let cut = finish_event(&bytes, format) + 10;
        let (answer, _) = read(format, vec![bytes[..cut].to_vec()]);
        let err = answer.expect_err(file);
        assert!(matches!(err, ProviderError::Malformed(_)), "{file}: {err}");
        assert!(err.to_string().contains("ended"), "{file}: {err}");
    }
}

#[test]
fn an_answer_with_its_finish_reason_is_whole_without_the_end_marker() {
    let markers: [(Format, &str, &str); 2] = [
        (Format::OpenAi, "openai.sse", "data: [DONE]"),
        (Format::Anthropic, "anthropic.sse", "event: message_stop"),
    ];
    for (format, file, marker) in markers {
        let text = String::from_utf8(fixture(file)).unwrap();
        let at = text.find(marker).unwrap();
        let (answer, seen) = read(format, vec![text.as_bytes()[..at].to_vec()]);
        let answer = answer.unwrap_or_else(|e| panic!("{file}: {e}"));
        let expected = cases().into_iter().find(|c| c.1 == file).unwrap().2;
        assert_eq!(answer.text, expected.text);
        assert_eq!(answer.finish, expected.finish);
        assert_eq!(seen, expected.text, "the text was shown once");
    }
}

/// The same events with every line ending replaced by `ending`, after an optional BOM.
fn rewritten(bytes: &[u8], ending: &str, bom: bool) -> Vec<u8> {
    let text = String::from_utf8(bytes.to_vec())
        .unwrap()
        .replace("\r\n", "\n");
    let mut out = if bom {
        "\u{feff}".to_string()
    } else {
        String::new()
    };
    out.push_str(&text.replace('\n', ending));
    out.into_bytes()
}

#[test]
fn streams_decode_as_the_whatwg_rules_say() {
    // A byte order mark is skipped; CRLF, LF and a lone CR each end a line, at the end of the
    // stream too; every split gives the same answer.
    for (format, file, expected) in cases() {
        for (ending, bom) in [("\r", false), ("\r\n", true), ("\r", true), ("\n", true)] {
            let bytes = rewritten(&fixture(file), ending, bom);
            for at in [0, 1, 2, 3, bytes.len() / 2, bytes.len() - 1, bytes.len()] {
                let (answer, seen) = read(format, vec![bytes[..at].to_vec(), bytes[at..].to_vec()]);
                let what = format!("{file}, ending {ending:?}, BOM {bom}, split at {at}");
                assert_eq!(
                    answer.unwrap_or_else(|e| panic!("{what}: {e}")),
                    expected,
                    "{what}"
                );
                assert_eq!(seen, expected.text, "{what}");
            }
        }
    }
    // Invalid UTF-8 becomes U+FFFD, as a browser decodes it: the JSON inside is then bad.
    let bad_utf8 = vec![b'd', b'a', b't', b'a', b':', b' ', 0xff, 0xfe, b'\n', b'\n'];
    let (r, _) = read(Format::OpenAi, vec![bad_utf8]);
    assert!(matches!(r.unwrap_err(), ProviderError::Malformed(m) if m.contains("not JSON")));
    // An event larger than the limit ends the stream with an error, even sent in small pieces.
    let huge = format!("data: {}\n\n", "x".repeat(sse::MAX_EVENT_BYTES + 10));
    let pieces: Vec<Vec<u8>> = huge.as_bytes().chunks(4096).map(<[u8]>::to_vec).collect();
    let (r, _) = read(Format::OpenAi, pieces);
    assert!(r.unwrap_err().to_string().contains("larger than"));
}

#[test]
fn error_events_and_transport_failures_are_typed() {
    let overloaded = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n\
        event: error\ndata: {\"type\": \"error\", \"error\": {\"type\": \"overloaded_error\", \"message\": \"Overloaded\"}}\n\n";
    let (r, _) = read(Format::Anthropic, vec![overloaded.as_bytes().to_vec()]);
    let err = r.unwrap_err();
    // Reported as what it is, an error inside the stream, not as an HTTP 529 it never had.
    assert_eq!(err, ProviderError::InStream("Overloaded".into()));
    assert!(err
        .to_string()
        .contains("stopped with an error: Overloaded"));

    let openai = "data: {\"error\": {\"message\": \"The server had an error\", \"type\": \"server_error\"}}\n\n";
    let (r, _) = read(Format::OpenAi, vec![openai.as_bytes().to_vec()]);
    assert!(r
        .unwrap_err()
        .to_string()
        .contains("The server had an error"));

    let not_json = "data: {\"candidates\": [\n\n";
    let (r, _) = read(Format::Gemini, vec![not_json.as_bytes().to_vec()]);
    assert!(matches!(r.unwrap_err(), ProviderError::Malformed(_)));

    let chunks = vec![
        Ok(b"data: {\"choices\":[]}\n\n".to_vec()),
        Err(ProviderError::Network("connection reset".into())),
    ];
    let answer = block_on(sse::read(
        Format::OpenAi,
        futures::stream::iter(chunks),
        |_| {},
    ));
    let err = answer.unwrap_err();
    assert!(
        matches!(err, ProviderError::Network(_)) && err.to_string().contains("connection reset")
    );
}

#[test]
fn multi_line_data_and_comments() {
    let text = ": comment\nevent: delta\ndata: {\"a\":\ndata: 1}\n\n";
    let events: Vec<_> = block_on(futures::StreamExt::collect::<Vec<_>>(sse::events(
        futures::stream::iter([Ok::<_, ProviderError>(text.as_bytes().to_vec())]),
    )));
    assert_eq!(
        events,
        [Ok(sse::Event {
            event: "delta".into(),
            data: "{\"a\":\n1}".into()
        })]
    );
}

#[test]
fn whole_answers_and_stop_reasons() {
    let openai = r#"{"choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"content_filter"}],"usage":{"prompt_tokens":5,"completion_tokens":1}}"#;
    let a = provider::parse_answer(Format::OpenAi, openai).unwrap();
    assert_eq!(a.text, "Hi");
    assert_eq!(a.issue(), Some(StopIssue::ContentFilter));
    assert_eq!(
        a.usage,
        Some(Usage {
            input_tokens: 5,
            output_tokens: 1
        })
    );
    let anthropic = r#"{"content":[{"type":"text","text":"Hello"},{"type":"text","text":"!"}],"stop_reason":"end_turn","usage":{"input_tokens":4,"output_tokens":2}}"#;
    let a = provider::parse_answer(Format::Anthropic, anthropic).unwrap();
    assert_eq!((a.text.as_str(), a.issue()), ("Hello!", None));
    let gemini = r#"{"candidates":[{"content":{"parts":[{"text":"Hey"}]},"finishReason":"MAX_TOKENS"}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":8}}"#;
    let a = provider::parse_answer(Format::Gemini, gemini).unwrap();
    assert_eq!(a.issue(), Some(StopIssue::Length));
    assert_eq!(
        a.usage,
        Some(Usage {
            input_tokens: 3,
            output_tokens: 8
        })
    );
    let blocked = r#"{"promptFeedback":{"blockReason":"SAFETY"}}"#;
    let a = provider::parse_answer(Format::Gemini, blocked).unwrap();
    assert_eq!(a.issue(), Some(StopIssue::ContentFilter));
    for format in [Format::OpenAi, Format::Anthropic, Format::Gemini] {
        assert!(matches!(
            provider::parse_answer(format, "{}"),
            Err(ProviderError::Malformed(_))
        ));
        assert!(provider::parse_answer(format, "<html>").is_err());
    }
}

#[test]
fn a_reasoning_effort_is_sent_as_each_provider_names_it() {
    let request = |effort: Option<&str>| ChatRequest {
        base_url: "https://example.invalid/v1".into(),
        api_model: "m-1".into(),
        conversation: routoo::Conversation::from_prompt("Is 91 prime?"),
        max_tokens: 4096,
        stream: true,
        key: None,
        reasoning_effort: effort.map(String::from),
    };
    let body = |format, effort| -> serde_json::Value {
        serde_json::from_str(&provider::build(format, &request(effort)).body).unwrap()
    };
    let openai = body(Format::OpenAi, Some("low"));
    assert_eq!(openai["reasoning_effort"], "low");
    let anthropic = body(Format::Anthropic, Some("high"));
    assert_eq!(
        anthropic["output_config"],
        serde_json::json!({"effort": "high"})
    );
    assert!(
        anthropic.get("thinking").is_none(),
        "Claude 5.x refuses a thinking budget"
    );
    let gemini = body(Format::Gemini, Some("medium"));
    assert_eq!(
        gemini["generationConfig"],
        serde_json::json!({"maxOutputTokens": 4096, "thinkingConfig": {"thinkingLevel": "medium"}})
    );
    // No effort named: nothing sent, the provider's default holds.
    for format in [Format::OpenAi, Format::Anthropic, Format::Gemini] {
        let text = provider::build(format, &request(None)).body;
        for field in ["reasoning_effort", "output_config", "thinkingConfig"] {
            assert!(!text.contains(field), "{format:?}: {text}");
        }
    }
}

#[test]
fn requests_follow_each_format_and_keep_the_key_in_its_header() {
    let key = "sk-test-1234567890";
    let request = |base: &str, stream| ChatRequest {
        base_url: base.into(),
        api_model: "m-1".into(),
        conversation: routoo::Conversation::from_prompt("Say \"hi\""),
        max_tokens: 64,
        stream,
        key: Some(ApiKey::new(key)),
        reasoning_effort: None,
    };
    let cases = [
        (Format::OpenAi, "https://api.openai.com/v1/", "https://api.openai.com/v1/chat/completions", "authorization", format!("Bearer {key}")),
        (Format::Anthropic, "https://api.anthropic.com/v1", "https://api.anthropic.com/v1/messages", "x-api-key", key.to_string()),
        (Format::Gemini, "https://generativelanguage.googleapis.com/v1beta", "https://generativelanguage.googleapis.com/v1beta/models/m-1:streamGenerateContent?alt=sse", "x-goog-api-key", key.to_string()),
    ];
    for (format, base, url, header, value) in cases {
        let r = request(base, true);
        let http = provider::build(format, &r);
        assert_eq!(http.url, url);
        assert_eq!(http.method, "POST");
        let with_key: Vec<_> = http.headers.iter().filter(|h| h.1.contains(key)).collect();
        assert_eq!(with_key, [&(header, value)], "{format:?}");
        assert!(!http.body.contains(key) && !http.url.contains(key));
        let body: serde_json::Value = serde_json::from_str(&http.body).unwrap();
        assert!(http.body.contains("Say \\\"hi\\\""), "{}", http.body);
        match format {
            Format::OpenAi => {
                assert_eq!(body["stream"], true);
                assert_eq!(body["stream_options"]["include_usage"], true);
                // OpenAI's own API takes max_completion_tokens (its reasoning models
                // refuse max_tokens).
                assert_eq!(body["max_completion_tokens"], 64);
                assert!(body.get("max_tokens").is_none(), "{body}");
            }
            Format::Anthropic => {
                assert_eq!(body["max_tokens"], 64);
                assert!(http
                    .headers
                    .contains(&("anthropic-dangerous-direct-browser-access", "true".into())));
                assert!(http
                    .headers
                    .contains(&("anthropic-version", "2023-06-01".into())));
            }
            Format::Gemini => assert_eq!(body["generationConfig"]["maxOutputTokens"], 64),
        }
        // Debug output of the request and of the key never shows the key.
        assert!(!format!("{http:?}").contains(key));
        assert!(!format!("{r:?}").contains(key));
        assert!(!format!("{}", r.key.as_ref().unwrap()).contains(key));
        let plain = provider::build(format, &request(base, false));
        assert!(!plain.url.contains("stream") || format == Format::OpenAi);
    }
    let local = ChatRequest {
        key: None,
        ..request("http://127.0.0.1:11434/v1", true)
    };
    let local_http = provider::build(Format::OpenAi, &local);
    assert!(local_http.headers.iter().all(|h| h.0 != "authorization"));
    // Servers that copy OpenAI's format take max_tokens.
    let body: serde_json::Value = serde_json::from_str(&local_http.body).unwrap();
    assert_eq!(body["max_tokens"], 64);
    assert!(body.get("max_completion_tokens").is_none(), "{body}");
    assert_eq!(Format::of_provider("anthropic"), Format::Anthropic);
    assert_eq!(Format::of_provider("Google"), Format::Gemini);
    assert_eq!(Format::of_provider("groq"), Format::OpenAi);
    // Gemini puts the model id in the path: it stays one escaped segment.
    let sneaky = ChatRequest {
        api_model: "../../upload?x=1#".into(),
        ..request("https://generativelanguage.googleapis.com/v1beta", false)
    };
    assert_eq!(
        provider::build(Format::Gemini, &sneaky).url,
        "https://generativelanguage.googleapis.com/v1beta/models/..%2F..%2Fupload%3Fx=1%23:generateContent"
    );
}

/// A conversation goes whole, in each format's own shape: OpenAI's messages as they are;
/// Anthropic's with the system turns in `system` and turns of one role joined; Gemini's with
/// `systemInstruction` and "model" for the assistant.
#[test]
fn each_format_sends_the_whole_conversation() {
    use routoo::{Conversation, Message, Role};
    let turn = |role, content: &str| Message::new(role, content);
    let conversation = Conversation::new(vec![
        turn(Role::System, "Answer in French."),
        turn(Role::User, "What is 2+2?"),
        turn(Role::Assistant, "Quatre."),
        turn(Role::User, "And 3+3?"),
        turn(Role::User, "Briefly."),
    ])
    .unwrap();
    let request = |base: &str| ChatRequest {
        base_url: base.into(),
        api_model: "m-1".into(),
        conversation: conversation.clone(),
        max_tokens: 64,
        stream: false,
        key: None,
        reasoning_effort: None,
    };
    let body = |format, base| -> serde_json::Value {
        serde_json::from_str(&provider::build(format, &request(base)).body).unwrap()
    };
    let openai = body(Format::OpenAi, "https://api.openai.com/v1");
    assert_eq!(
        openai["messages"],
        serde_json::json!([
            {"role": "system", "content": "Answer in French."},
            {"role": "user", "content": "What is 2+2?"},
            {"role": "assistant", "content": "Quatre."},
            {"role": "user", "content": "And 3+3?"},
            {"role": "user", "content": "Briefly."},
        ])
    );
    let anthropic = body(Format::Anthropic, "https://api.anthropic.com/v1");
    assert_eq!(anthropic["system"], "Answer in French.");
    assert_eq!(
        anthropic["messages"],
        serde_json::json!([
            {"role": "user", "content": "What is 2+2?"},
            {"role": "assistant", "content": "Quatre."},
            {"role": "user", "content": "And 3+3?\n\nBriefly."},
        ])
    );
    let gemini = body(
        Format::Gemini,
        "https://generativelanguage.googleapis.com/v1beta",
    );
    assert_eq!(
        gemini["systemInstruction"],
        serde_json::json!({"parts": [{"text": "Answer in French."}]})
    );
    assert_eq!(
        gemini["contents"],
        serde_json::json!([
            {"role": "user", "parts": [{"text": "What is 2+2?"}]},
            {"role": "model", "parts": [{"text": "Quatre."}]},
            {"role": "user", "parts": [{"text": "And 3+3?\n\nBriefly."}]},
        ])
    );
    // One user turn: no system field in any format.
    let single = ChatRequest {
        conversation: Conversation::from_prompt("hi"),
        ..request("https://api.anthropic.com/v1")
    };
    let plain: serde_json::Value =
        serde_json::from_str(&provider::build(Format::Anthropic, &single).body).unwrap();
    assert!(plain.get("system").is_none());
}

proptest::proptest! {
    /// Whatever bytes arrive, in whatever chunks, the parsers answer or fail; they never panic.
    #[test]
    fn arbitrary_streams_never_panic(
        bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600),
        cuts in proptest::collection::vec(0usize..600, 0..6),
        format in 0usize..3,
    ) {
        let format = [Format::OpenAi, Format::Anthropic, Format::Gemini][format];
        let mut cuts: Vec<usize> = cuts.into_iter().filter(|&c| c <= bytes.len()).collect();
        cuts.sort_unstable();
        let mut chunks = Vec::new();
        let mut last = 0;
        for c in cuts.into_iter().chain([bytes.len()]) {
            chunks.push(bytes[last..c.max(last)].to_vec());
            last = c.max(last);
        }
        let _ = read(format, chunks);
        let text = String::from_utf8_lossy(&bytes);
        let _ = provider::parse_answer(format, &text);
    }

    /// Fixture streams with bytes flipped still never panic, and a clean one still parses.
    #[test]
    fn corrupted_fixture_streams_never_panic(
        which in 0usize..3,
        flips in proptest::collection::vec((0usize..2000, proptest::prelude::any::<u8>()), 1..8),
    ) {
        let (format, file, expected) = cases().swap_remove(which);
        let clean = fixture(file);
        let mut bytes = clean.clone();
        for (at, b) in flips {
            let at = at % bytes.len();
            bytes[at] = b;
        }
        // Any outcome but a panic will do for the corrupted copy.
        let _ = read(format, vec![bytes]);
        let (answer, _) = read(format, vec![clean]);
        proptest::prop_assert_eq!(answer.ok(), Some(expected));
    }
}

/// A conversation that called a tool and got its result, offering the tool again.
fn tool_conversation() -> routoo::Conversation {
    use routoo::chat::{Tool, ToolChoice, Toolset};
    let messages: Vec<routoo::Message> = serde_json::from_value(serde_json::json!([
        {"role": "system", "content": "Use the tools."},
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "", "tool_calls": [{"id": "toolu_1", "type": "function",
            "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"},
            "extra_content": {"google": {"thought_signature": "sig-1"}}}]},
        {"role": "tool", "tool_call_id": "toolu_1", "content": "{\"celsius\":18}"}
    ]))
    .unwrap();
    let tool: Tool = serde_json::from_value(serde_json::json!({"type": "function", "function": {
        "name": "weather", "description": "Today's weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}))
    .unwrap();
    let tools = Toolset::new(vec![tool], ToolChoice::Tool("weather".into()), None).unwrap();
    routoo::Conversation::new(messages)
        .unwrap()
        .with_tools(tools)
}

fn built(format: Format, conversation: routoo::Conversation) -> serde_json::Value {
    let request = ChatRequest {
        base_url: "https://api.example.com/v1".into(),
        api_model: "m-1".into(),
        conversation,
        max_tokens: 64,
        stream: true,
        key: None,
        reasoning_effort: Some("low".into()),
    };
    serde_json::from_str(&provider::build(format, &request).body).unwrap()
}

#[test]
fn tools_calls_and_results_are_sent_as_each_format_writes_them() {
    use serde_json::json;
    let c = tool_conversation();
    let openai = built(Format::OpenAi, c.clone());
    assert_eq!(openai["messages"][2]["content"], serde_json::Value::Null);
    assert_eq!(
        openai["messages"][2]["tool_calls"][0]["function"]["arguments"],
        "{\"city\":\"Paris\"}"
    );
    assert_eq!(
        openai["messages"][3],
        json!({"role": "tool", "tool_call_id": "toolu_1", "content": "{\"celsius\":18}"})
    );
    assert_eq!(openai["tools"][0]["function"]["name"], "weather");
    assert_eq!(
        openai["tool_choice"],
        json!({"type": "function", "function": {"name": "weather"}})
    );

    let anthropic = built(Format::Anthropic, c.clone());
    assert_eq!(
        anthropic["messages"],
        json!([
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "{\"celsius\":18}"}]},
        ])
    );
    assert_eq!(
        anthropic["tools"][0],
        json!({"name": "weather", "description": "Today's weather",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}})
    );
    assert_eq!(
        anthropic["tool_choice"],
        json!({"type": "tool", "name": "weather"})
    );
    assert_eq!(anthropic["output_config"], json!({"effort": "low"}));

    let gemini = built(Format::Gemini, c.clone());
    assert_eq!(
        gemini["contents"],
        json!([
            {"role": "user", "parts": [{"text": "Weather in Paris?"}]},
            {"role": "model", "parts": [{"functionCall": {"id": "toolu_1", "name": "weather", "args": {"city": "Paris"}},
                "thoughtSignature": "sig-1"}]},
            {"role": "user", "parts": [{"functionResponse": {"id": "toolu_1", "name": "weather", "response": {"celsius": 18}}}]},
        ])
    );
    assert_eq!(
        gemini["tools"][0]["functionDeclarations"][0]["name"],
        "weather"
    );
    assert_eq!(
        gemini["toolConfig"],
        json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["weather"]}})
    );

    // An answer schema, in each format's own field.
    use routoo::chat::{OutputSchema, ToolChoice, Toolset};
    let schema = json!({"type": "object", "properties": {"planet": {"type": "string"}}});
    let output = Toolset::new(
        vec![],
        ToolChoice::Auto,
        Some(OutputSchema {
            name: "answer".into(),
            schema: schema.clone(),
        }),
    )
    .unwrap();
    let asked = routoo::Conversation::from_prompt("Largest planet?").with_tools(output);
    assert_eq!(
        built(Format::OpenAi, asked.clone())["response_format"],
        json!({"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}})
    );
    assert_eq!(
        built(Format::Anthropic, asked.clone())["output_config"],
        json!({"effort": "low", "format": {"type": "json_schema", "schema": schema}})
    );
    let g = built(Format::Gemini, asked.clone());
    assert_eq!(
        g["generationConfig"]["responseMimeType"],
        "application/json"
    );
    assert_eq!(g["generationConfig"]["responseJsonSchema"], schema);
    assert!(
        built(Format::OpenAi, asked)["tools"].is_null(),
        "no tools offered, none sent"
    );
}

/// The tool call each format's answer carries, whole and streamed in pieces.
#[test]
fn tool_calls_are_read_whole_and_from_streams_in_each_format() {
    use routoo::chat::ToolCall;
    let want = |id: &str, signature: Option<&str>| ToolCall {
        id: id.into(),
        name: "weather".into(),
        arguments: "{\"city\":\"Paris\"}".into(),
        signature: signature.map(String::from),
    };
    let whole = [
        (
            Format::OpenAi,
            r#"{"choices":[{"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_9","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":5,"completion_tokens":7}}"#,
            want("call_9", None),
        ),
        (
            Format::Anthropic,
            r#"{"content":[{"type":"text","text":"Checking."},{"type":"tool_use","id":"toolu_9","name":"weather","input":{"city":"Paris"}}],"stop_reason":"tool_use","usage":{"input_tokens":5,"output_tokens":7}}"#,
            want("toolu_9", None),
        ),
        (
            Format::Gemini,
            r#"{"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":"weather","args":{"city":"Paris"}},"thoughtSignature":"sig-9"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":7}}"#,
            want("call_0", Some("sig-9")),
        ),
    ];
    for (format, body, call) in whole {
        let answer = provider::parse_answer(format, body).unwrap();
        assert_eq!(answer.tool_calls, [call], "{format:?}");
        assert_eq!(answer.finish, Some(Finish::ToolCalls), "{format:?}");
    }
    let streams = [
        (Format::OpenAi, concat!(
            "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"tool_calls\":[{\"index\":0,\"id\":\"call_9\",\"type\":\"function\",\"function\":{\"name\":\"weather\",\"arguments\":\"\"}}]}}]}\n\n",
            "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"city\\\":\"}}]}}]}\n\n",
            "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"\\\"Paris\\\"}\"}}]}}]}\n\n",
            "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n",
            "data: [DONE]\n\n"), want("call_9", None)),
        (Format::Anthropic, concat!(
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n",
            "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_9\",\"name\":\"weather\",\"input\":{}}}\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"city\\\":\"}}\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\\\"Paris\\\"}\"}}\n\n",
            "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":7}}\n\n",
            "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"), want("toolu_9", None)),
        (Format::Gemini,
            "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"functionCall\":{\"name\":\"weather\",\"args\":{\"city\":\"Paris\"}},\"thoughtSignature\":\"sig-9\"}]},\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":5,\"candidatesTokenCount\":7}}\n\n",
            want("call_0", Some("sig-9"))),
    ];
    for (format, text, call) in streams {
        // Every split of the bytes reads the same.
        let bytes = text.as_bytes();
        for cut in [1, 7, bytes.len() / 2, bytes.len()] {
            let chunks: Vec<Vec<u8>> = bytes.chunks(cut).map(<[u8]>::to_vec).collect();
            let (answer, seen) = read(format, chunks);
            let answer = answer.unwrap_or_else(|e| panic!("{format:?}: {e}"));
            assert_eq!(
                answer.tool_calls,
                std::slice::from_ref(&call),
                "{format:?}, cut {cut}"
            );
            assert_eq!(answer.finish, Some(Finish::ToolCalls), "{format:?}");
            assert_eq!(seen, "", "{format:?}: a call is not text");
        }
    }
}

#[test]
fn a_refusal_is_read_as_one_in_each_format() {
    let whole = [
        (
            Format::OpenAi,
            r#"{"choices":[{"message":{"role":"assistant","content":null,"refusal":"No."},"finish_reason":"stop"}]}"#,
            Finish::Refusal,
        ),
        (
            Format::Anthropic,
            r#"{"content":[],"stop_reason":"refusal","usage":{"input_tokens":3,"output_tokens":1}}"#,
            Finish::Refusal,
        ),
        (
            Format::Gemini,
            r#"{"candidates":[{"finishReason":"SAFETY","index":0}]}"#,
            Finish::ContentFilter,
        ),
    ];
    for (format, body, finish) in whole {
        let answer = provider::parse_answer(format, body).unwrap();
        assert_eq!(answer.finish, Some(finish), "{format:?}");
        assert!(answer.issue().is_some(), "{format:?}");
    }
    // A stop reason after a streamed refusal does not hide it.
    let events = concat!(
        "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"refusal\":\"No.\"},\"finish_reason\":null}]}\n\n",
        "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
        "data: [DONE]\n\n"
    );
    let (answer, seen) = read(Format::OpenAi, vec![events.as_bytes().to_vec()]);
    assert_eq!(answer.unwrap().finish, Some(Finish::Refusal));
    assert_eq!(seen, "");
}

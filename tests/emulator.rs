//! The native transport and the wire formats against the provider emulator, over real HTTP on
//! loopback: answers in all three formats, typed faults, retry and fallback.

use std::time::Duration;

use crate::common::{self, Emulator};

use routoo::provider::{
    ApiKey, ChatRequest, Fallback, Finish, Format, Next, ProviderError, RetryPolicy,
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
        assert!(err.to_string().contains("longer than"), "{format:?}: {err}");
        assert!(
            shown <= routoo::provider::sse::MAX_ANSWER_BYTES,
            "{format:?}"
        );
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

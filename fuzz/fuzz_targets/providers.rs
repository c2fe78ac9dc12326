//! The provider parsers on arbitrary bytes: whole answers, error bodies, and streams cut into
//! chunks of any size. Byte 0 picks the wire format, byte 1 the chunk size.
#![no_main]

use libfuzzer_sys::fuzz_target;
use routoo::provider::{self, sse, Format, ProviderError};

fuzz_target!(|data: &[u8]| {
    let [pick, size, body @ ..] = data else {
        return;
    };
    let format = [Format::OpenAi, Format::Anthropic, Format::Gemini][usize::from(*pick) % 3];
    if let Ok(text) = std::str::from_utf8(body) {
        let _ = provider::parse_answer(format, text);
        let _ = ProviderError::from_status(429, None, text).to_string();
    }
    let chunks = body
        .chunks(usize::from(*size).max(1))
        .map(|c| Ok::<_, ProviderError>(c.to_vec()));
    let mut streamed = String::new();
    let read =
        futures_executor::block_on(sse::read(format, futures_util::stream::iter(chunks), |t| {
            streamed.push_str(t)
        }));
    // What was streamed is what the answer holds.
    if let Ok(answer) = read {
        assert_eq!(answer.text, streamed);
    }
    // Within a limit (byte 1 again): an answer that passes is within it, and no text past the
    // limit's bound was shown.
    let limit = u32::from(*size);
    let chunks = body
        .chunks(usize::from(*size).max(1))
        .map(|c| Ok::<_, ProviderError>(c.to_vec()));
    let mut shown = 0;
    let read = futures_executor::block_on(sse::read_within(
        format,
        Some(limit),
        futures_util::stream::iter(chunks),
        |t| shown += t.len(),
    ));
    assert!(shown <= limit as usize * provider::MAX_BYTES_PER_TOKEN + provider::TEXT_SLACK_BYTES);
    if let Ok(answer) = read {
        assert!(provider::within_limit(&answer, limit).is_ok());
    }
});

//! Server-sent events over any byte stream, parsed by the `eventsource-stream` crate (the
//! parser `async-openai` and `reqwest-eventsource` build on; it is `no_std`-capable, so it
//! builds for wasm32). It joins multi-line `data:`, skips comments and copes with events
//! split across chunks at any byte.

use eventsource_stream::{EventStreamError, Eventsource};
use futures_util::{Stream, StreamExt};

use super::{parse_event, Accumulator, Answer, Finish, Format, ProviderError};

/// One event: its `event:` name (empty when none) and its `data:` lines joined by `\n`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Event {
    /// The event type.
    pub event: String,
    /// The payload.
    pub data: String,
}

/// Splits a stream of byte chunks into events; the transport's errors pass through.
pub fn events<S, B>(bytes: S) -> impl Stream<Item = Result<Event, ProviderError>>
where
    S: Stream<Item = Result<B, ProviderError>>,
    B: AsRef<[u8]>,
{
    bytes.eventsource().map(|item| match item {
        Ok(e) => Ok(Event {
            event: e.event,
            data: e.data,
        }),
        Err(EventStreamError::Transport(e)) => Err(e),
        Err(EventStreamError::Utf8(e)) => Err(ProviderError::Malformed(format!(
            "the stream is not UTF-8: {e}"
        ))),
        Err(EventStreamError::Parser(e)) => Err(ProviderError::Malformed(format!(
            "not a server-sent event stream: {e}"
        ))),
    })
}

/// Reads a streamed answer in `format`, calling `on_text` with each piece of text as it
/// arrives. A stream that ends before the provider's end marker (or, for Gemini, before a
/// finish reason), or whose connection drops after text arrived, is
/// [`ProviderError::Malformed`]: the answer was cut.
pub async fn read<S, B>(
    format: Format,
    bytes: S,
    mut on_text: impl FnMut(&str),
) -> Result<Answer, ProviderError>
where
    S: Stream<Item = Result<B, ProviderError>>,
    B: AsRef<[u8]>,
{
    let mut acc = Accumulator::default();
    let stream = events(bytes);
    futures_util::pin_mut!(stream);
    while let Some(event) = stream.next().await {
        let event = match event {
            // Text already shown to the user makes a dropped connection a cut answer.
            Err(ProviderError::Network(why)) if !acc.answer().text.is_empty() => {
                return Err(ProviderError::Malformed(format!(
                    "the stream was cut after {} characters ({why})",
                    acc.answer().text.chars().count()
                )));
            }
            other => other?,
        };
        let delta = parse_event(format, &event)?;
        if !delta.text.is_empty() {
            on_text(&delta.text);
        }
        acc.push(delta);
        if acc.is_done() {
            break;
        }
    }
    let complete = match format {
        Format::Gemini => acc.answer().finish.is_some(),
        _ => acc.is_done(),
    };
    let answer = acc.into_answer();
    if !complete {
        return Err(ProviderError::Malformed(format!(
            "the stream ended before the answer was complete ({} characters received)",
            answer.text.chars().count()
        )));
    }
    if format == Format::OpenAi && answer.finish.is_none() {
        return Err(ProviderError::Malformed(
            "the stream ended without a finish reason".into(),
        ));
    }
    Ok(answer)
}

impl Answer {
    /// The stop reason as a problem the user should see, if it is one.
    pub fn issue(&self) -> Option<super::StopIssue> {
        match self.finish {
            Some(Finish::Length) => Some(super::StopIssue::Length),
            Some(Finish::ContentFilter) => Some(super::StopIssue::ContentFilter),
            _ => None,
        }
    }
}

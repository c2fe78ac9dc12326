//! Server-sent events over any byte stream, parsed by the `sse-parse` crate, which follows the
//! WHATWG "interpreting an event stream" algorithm: a leading byte order mark is skipped once,
//! `\r\n`, `\n` and a lone `\r` all end a line (a `\r` at the end of the stream too),
//! multi-line `data:` is joined, comments are skipped, invalid UTF-8 becomes U+FFFD, and events
//! split across chunks at any byte come out the same. It never panics on any input.

use futures_util::{Stream, StreamExt};
use sse_parse::SseParser;

use super::{parse_event, within_limit, Accumulator, Answer, Format, Piece, ProviderError};

/// Largest event accepted, in bytes: far above any provider's chunk, far below what could
/// exhaust a page's memory.
pub const MAX_EVENT_BYTES: usize = 1 << 20;

/// Longest streamed answer accepted, in bytes of text (many times any `max_tokens` allows).
pub const MAX_ANSWER_BYTES: usize = 4 << 20;

/// One event: its `event:` name (empty when none) and its `data:` lines joined by `\n`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Event {
    /// The event type.
    pub event: String,
    /// The payload.
    pub data: String,
}

/// Splits a stream of byte chunks into events; the transport's errors pass through, and an
/// event over [`MAX_EVENT_BYTES`] is an error.
pub fn events<S, B>(bytes: S) -> impl Stream<Item = Result<Event, ProviderError>>
where
    S: Stream<Item = Result<B, ProviderError>>,
    B: AsRef<[u8]>,
{
    let parser = SseParser::new().max_buffer(MAX_EVENT_BYTES);
    let state = (Box::pin(bytes), parser, false);
    futures_util::stream::unfold(state, |(mut bytes, mut parser, mut ended)| async move {
        loop {
            if let Some(e) = parser.next_event() {
                let event = Event {
                    event: e.event,
                    data: e.data,
                };
                return Some((Ok(event), (bytes, parser, ended)));
            }
            if ended {
                return None;
            }
            match bytes.next().await {
                Some(Ok(chunk)) => {
                    parser.feed(chunk.as_ref());
                    // The parser drops an oversized event and goes on; the answer would miss
                    // a piece, so the stream ends here with an error.
                    if parser.overflows() > 0 {
                        let error = ProviderError::Malformed(format!(
                            "a server-sent event is larger than {MAX_EVENT_BYTES} bytes"
                        ));
                        return Some((Err(error), (bytes, SseParser::new(), true)));
                    }
                }
                Some(Err(e)) => return Some((Err(e), (bytes, parser, ended))),
                None => {
                    parser.finish();
                    ended = true;
                }
            }
        }
    })
}

/// Reads a streamed answer in `format`, calling `on_text` with each piece of text as it
/// arrives.
///
/// The answer is complete when the provider's end marker arrives (`[DONE]`, `message_stop`) or,
/// without it, when the model stated why it stopped (a finish or stop reason): the reason is
/// the model's own word that the answer is whole, while the marker only closes the stream, and
/// the providers' SDKs end a stream that closes after it without an error. A stream that ends
/// with neither, or whose connection drops after text arrived, is [`ProviderError::Malformed`]:
/// the answer was cut. An error event is [`ProviderError::InStream`], whatever it names.
pub async fn read<S, B>(
    format: Format,
    bytes: S,
    on_text: impl FnMut(&str),
) -> Result<Answer, ProviderError>
where
    S: Stream<Item = Result<B, ProviderError>>,
    B: AsRef<[u8]>,
{
    read_within(format, None, bytes, on_text).await
}

/// [`read`], cut with [`ProviderError::OverLimit`] as soon as the answer goes past `limit`
/// tokens ([`within_limit`]): a provider that ignores the limit is not read to its end.
pub async fn read_within<S, B>(
    format: Format,
    limit: Option<u32>,
    bytes: S,
    mut on_text: impl FnMut(&str),
) -> Result<Answer, ProviderError>
where
    S: Stream<Item = Result<B, ProviderError>>,
    B: AsRef<[u8]>,
{
    read_pieces_within(format, limit, bytes, |piece| {
        if let Piece::Text(text) = piece {
            on_text(text);
        }
    })
    .await
}

/// [`read_within`], passing the model's shown thinking on too, each piece as it arrives.
pub async fn read_pieces_within<S, B>(
    format: Format,
    limit: Option<u32>,
    bytes: S,
    mut on_piece: impl FnMut(Piece<'_>),
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
        let delta = match parse_event(format, &event) {
            // An error inside a stream that had started is reported as such, never as an
            // HTTP status the stream did not have.
            Err(ProviderError::Overloaded { message, .. }) => {
                return Err(ProviderError::InStream(message))
            }
            other => other?,
        };
        let size = |a: &Answer| a.text.len() + a.reasoning.len();
        if size(acc.answer()) + delta.text.len() + delta.reasoning.len() > MAX_ANSWER_BYTES {
            return Err(ProviderError::Malformed(format!(
                "the answer is longer than {MAX_ANSWER_BYTES} bytes"
            )));
        }
        let text = delta.text.clone();
        let reasoning = delta.reasoning.clone();
        acc.push(delta);
        // Checked before the piece is shown: text past the limit never reaches the page.
        if let Some(limit) = limit {
            within_limit(acc.answer(), limit)?;
        }
        if !reasoning.is_empty() {
            on_piece(Piece::Reasoning(&reasoning));
        }
        if !text.is_empty() {
            on_piece(Piece::Text(&text));
        }
        if acc.is_done() {
            break;
        }
    }
    let complete = acc.is_done() || acc.answer().finish.is_some();
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

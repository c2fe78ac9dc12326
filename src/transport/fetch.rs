//! The browser's transport: `fetch` through gloo-net, the body read as a `ReadableStream`
//! (wasm-streams) into the same [`sse::read`] the CLI uses, every body read with a byte limit,
//! and an `AbortController` that fires on the caller's signal (Stop), when the provider goes
//! quiet for too long, or at the call's overall deadline.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use crate::provider::Piece;
use futures_util::StreamExt;
use gloo_net::http::{Headers, Request};
use gloo_timers::callback::Timeout;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{AbortController, AbortSignal, RequestRedirect, ResponseType};

use crate::provider::{
    build, parse_answer, retry_after, sse, whole_body, within_limit, Answer, ChatRequest, Format,
    ProviderError, Transport, MAX_BODY_BYTES, MAX_ERROR_BYTES,
};

/// How long a server on this machine has to answer a probe.
pub(crate) const PROBE_WAIT: Duration = Duration::from_secs(2);

/// Calls providers with `fetch`.
pub struct Fetch {
    /// The caller's signal: aborting it stops the call in flight and any retry.
    pub signal: Option<AbortSignal>,
    /// Longest silence, before the response starts or between chunks, before giving up.
    pub idle: Duration,
    /// Longest a whole call may take, however steadily it trickles.
    pub deadline: Duration,
}

impl Fetch {
    fn cancelled(&self) -> bool {
        self.signal.as_ref().is_some_and(AbortSignal::aborted)
    }
}

/// One call's abort wiring: its own controller, aborted by the caller's signal (through a
/// listener removed when the call ends) or by the idle timer, which every chunk re-arms.
struct Call {
    controller: AbortController,
    user: Option<(AbortSignal, Closure<dyn FnMut()>)>,
    idle: Duration,
    /// Which timer fired: the idle one, or the deadline.
    timed_out: Rc<Cell<Option<Duration>>>,
    timer: RefCell<Option<Timeout>>,
    _deadline: Timeout,
}

impl Call {
    fn new(
        user: Option<&AbortSignal>,
        idle: Duration,
        deadline: Duration,
    ) -> Result<Call, ProviderError> {
        let controller = AbortController::new().map_err(|e| network(&e))?;
        let user = match user {
            Some(signal) => {
                let ours = controller.clone();
                let listener = Closure::<dyn FnMut()>::new(move || ours.abort());
                signal
                    .add_event_listener_with_callback("abort", listener.as_ref().unchecked_ref())
                    .map_err(|e| network(&e))?;
                Some((signal.clone(), listener))
            }
            None => None,
        };
        let timed_out = Rc::new(Cell::new(None));
        let _deadline = abort_after(&controller, &timed_out, deadline);
        let call = Call {
            controller,
            user,
            idle,
            timed_out,
            timer: RefCell::new(None),
            _deadline,
        };
        call.arm();
        Ok(call)
    }

    fn signal(&self) -> AbortSignal {
        self.controller.signal()
    }

    /// (Re)starts the idle timer; the old one is cancelled as it drops.
    fn arm(&self) {
        *self.timer.borrow_mut() = Some(abort_after(&self.controller, &self.timed_out, self.idle));
    }

    /// What a failed fetch or read means: the caller stopped it, it went quiet, or the
    /// network (or CORS, which the browser reports the same way) failed.
    fn error(&self, message: String) -> ProviderError {
        if self
            .user
            .as_ref()
            .is_some_and(|(signal, _)| signal.aborted())
        {
            ProviderError::Cancelled
        } else if let Some(limit) = self.timed_out.get() {
            ProviderError::Timeout(limit)
        } else {
            ProviderError::Network(message)
        }
    }
}

/// A timer that aborts `controller` after `limit`, noting which limit it was.
fn abort_after(
    controller: &AbortController,
    timed_out: &Rc<Cell<Option<Duration>>>,
    limit: Duration,
) -> Timeout {
    let (controller, timed_out) = (controller.clone(), Rc::clone(timed_out));
    let millis = u32::try_from(limit.as_millis()).unwrap_or(u32::MAX);
    Timeout::new(millis, move || {
        timed_out.set(Some(limit));
        controller.abort();
    })
}

/// A body's chunks as bytes; each one re-arms the idle timer, and a failed read is the call's
/// error (stopped, timed out, or the network).
fn chunks<'a>(
    body: web_sys::ReadableStream,
    call: &'a Call,
) -> Result<impl futures_util::Stream<Item = Result<Vec<u8>, ProviderError>> + 'a, ProviderError> {
    let stream = wasm_streams::ReadableStream::from_raw(body)
        .try_into_stream()
        .map_err(|(e, _)| network(&e))?;
    Ok(stream.map(move |chunk| match chunk {
        Ok(bytes) => {
            call.arm();
            Ok(js_sys::Uint8Array::new(&bytes).to_vec())
        }
        Err(e) => Err(call.error(js_message(&e))),
    }))
}

/// Reads a body to its end or to `limit` bytes. With `cut_at_limit` the rest is ignored (an
/// error message); without it, a longer body is an error.
async fn read_body(
    response: &gloo_net::http::Response,
    call: &Call,
    limit: usize,
    cut_at_limit: bool,
) -> Result<Vec<u8>, ProviderError> {
    let Some(body) = response.body() else {
        return Ok(Vec::new());
    };
    let mut chunks = std::pin::pin!(chunks(body, call)?);
    let mut bytes = Vec::new();
    while let Some(chunk) = chunks.next().await {
        bytes.extend(chunk?);
        if bytes.len() > limit {
            if cut_at_limit {
                bytes.truncate(limit);
                break;
            }
            return Err(ProviderError::Malformed(format!(
                "the answer is larger than {limit} bytes"
            )));
        }
    }
    Ok(bytes)
}

impl Drop for Call {
    fn drop(&mut self) {
        if let Some((signal, listener)) = &self.user {
            let _ = signal
                .remove_event_listener_with_callback("abort", listener.as_ref().unchecked_ref());
        }
    }
}

fn network(e: &JsValue) -> ProviderError {
    ProviderError::Network(js_message(e))
}

/// A thrown JS value in words.
pub fn js_message(e: &JsValue) -> String {
    if let Some(error) = e.dyn_ref::<js_sys::Error>() {
        format!("{}: {}", error.name(), error.message())
    } else {
        e.as_string().unwrap_or_else(|| format!("{e:?}"))
    }
}

impl Transport for Fetch {
    async fn send(
        &self,
        format: Format,
        request: &ChatRequest,
        on_piece: &mut dyn FnMut(Piece<'_>),
    ) -> Result<Answer, ProviderError> {
        if self.cancelled() {
            return Err(ProviderError::Cancelled);
        }
        let call = Call::new(self.signal.as_ref(), self.idle, self.deadline)?;
        let http = build(format, request);
        // web_sys's Headers, whose set returns the browser's refusal instead of throwing.
        let raw = web_sys::Headers::new().map_err(|e| network(&e))?;
        for (name, value) in &http.headers {
            raw.set(name, value).map_err(|e| {
                ProviderError::Request(format!("header {name}: {}", js_message(&e)))
            })?;
        }
        let headers = Headers::from_raw(raw);
        // A redirect would carry the key to another origin: the browser hands it back unread
        // (an opaque redirect) instead of following it.
        let response = Request::post(&http.url)
            .headers(headers)
            .redirect(RequestRedirect::Manual)
            .abort_signal(Some(&call.signal()))
            .body(http.body)
            .map_err(|e| call.error(e.to_string()))?
            .send()
            .await
            .map_err(|e| call.error(e.to_string()))?;
        let status = response.status();
        if response.type_() == ResponseType::Opaqueredirect || (300..400).contains(&status) {
            return Err(ProviderError::Redirect {
                status: Some(status).filter(|s| *s != 0),
                to: None,
            });
        }
        if !response.ok() {
            let head = response.headers();
            let wait = retry_after(
                head.get("retry-after-ms").as_deref(),
                head.get("retry-after").as_deref(),
            );
            let body = read_body(&response, &call, MAX_ERROR_BYTES, true)
                .await
                .unwrap_or_default();
            let body = String::from_utf8_lossy(&body);
            return Err(ProviderError::from_status(status, wait, &body));
        }
        if !request.stream {
            let body = read_body(&response, &call, MAX_BODY_BYTES, false).await?;
            let answer = parse_answer(format, &whole_body(body)?)?;
            within_limit(&answer, request.max_tokens)?;
            return Ok(answer);
        }
        let Some(body) = response.body() else {
            return Err(ProviderError::Malformed("the response has no body".into()));
        };
        let body = chunks(body, &call)?;
        let answer =
            sse::read_pieces_within(format, Some(request.max_tokens), body, on_piece).await;
        answer
    }

    fn clock(&self) -> Duration {
        Duration::from_secs_f64(js_sys::Date::now().max(0.0) / 1000.0)
    }

    async fn list_models(&self, base_url: &str) -> Option<Vec<String>> {
        let call = Call::new(self.signal.as_ref(), PROBE_WAIT, PROBE_WAIT).ok()?;
        let url = format!("{}/models", base_url.trim_end_matches('/'));
        let request = Request::get(&url)
            .redirect(RequestRedirect::Manual)
            .abort_signal(Some(&call.signal()))
            .build()
            .ok()?;
        let response = request.send().await.ok()?;
        if !response.ok() {
            return None;
        }
        let limit = crate::provider::local::MAX_LIST_BYTES;
        let body = read_body(&response, &call, limit, false).await.ok()?;
        crate::provider::local::parse_list(&body)
    }

    async fn sleep(&self, pause: Duration) {
        // In slices, so Stop during a long retry-after takes effect at once.
        let step = Duration::from_millis(100);
        let mut left = pause;
        while !left.is_zero() && !self.cancelled() {
            let now = left.min(step);
            gloo_timers::future::sleep(now).await;
            left -= now;
        }
    }
}

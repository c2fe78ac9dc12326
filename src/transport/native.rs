//! The native transport (for the CLI): blocking HTTP with `ureq`, the stream read on the
//! calling thread and fed to the same [`crate::provider::sse::read`] the browser uses.

use crate::provider::Piece;
use std::io::Read;
use std::time::Duration;

use crate::provider::{
    build, parse_answer, retry_after, sse, whole_body, within_limit, Answer, ChatRequest, Format,
    ProviderError, Transport, MAX_BODY_BYTES, MAX_ERROR_BYTES,
};

/// An HTTP client for provider calls.
#[derive(Debug, Clone)]
pub struct NativeClient {
    agent: ureq::Agent,
    timeout: Duration,
}

impl NativeClient {
    /// A client that waits at most `first_byte` for the response to start and `total` for
    /// all of it.
    pub fn new(first_byte: Duration, total: Duration) -> NativeClient {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            // A redirect would carry the key to another origin: never followed.
            .max_redirects(0)
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_recv_response(Some(first_byte))
            .timeout_global(Some(total))
            .build();
        NativeClient {
            agent: config.into(),
            timeout: total,
        }
    }

    /// Calls the provider, passing streamed text to `on_text` as it arrives.
    pub fn call(
        &self,
        format: Format,
        request: &ChatRequest,
        mut on_text: impl FnMut(&str),
    ) -> Result<Answer, ProviderError> {
        let mut on_piece = |piece: Piece<'_>| {
            if let Piece::Text(text) = piece {
                on_text(text);
            }
        };
        futures_executor::block_on(Transport::send(self, format, request, &mut on_piece))
    }

    /// [`NativeClient::call`], passing the model's shown thinking on too.
    pub fn call_pieces(
        &self,
        format: Format,
        request: &ChatRequest,
        mut on_piece: impl FnMut(Piece<'_>),
    ) -> Result<Answer, ProviderError> {
        futures_executor::block_on(Transport::send(self, format, request, &mut on_piece))
    }

    fn transport(&self, e: ureq::Error) -> ProviderError {
        match e {
            ureq::Error::Timeout(_) => ProviderError::Timeout(self.timeout),
            ureq::Error::Io(e) => self.io(&e),
            other => ProviderError::Network(other.to_string()),
        }
    }

    fn io(&self, e: &std::io::Error) -> ProviderError {
        // ureq reports its own deadlines while a body is read as I/O errors wrapping its Error.
        let ours = e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<ureq::Error>());
        if e.kind() == std::io::ErrorKind::TimedOut || matches!(ours, Some(ureq::Error::Timeout(_)))
        {
            ProviderError::Timeout(self.timeout)
        } else {
            ProviderError::Network(e.to_string())
        }
    }
}

/// The origin a `Location` header points to, resolved against the request's URL.
fn target_origin(url: &str, location: &str) -> Option<String> {
    let target = url::Url::parse(url).ok()?.join(location).ok()?;
    Some(target.origin().ascii_serialization())
}

/// A future that blocks the thread while it reads (ureq is blocking).
impl Transport for NativeClient {
    async fn send(
        &self,
        format: Format,
        request: &ChatRequest,
        on_piece: &mut dyn FnMut(Piece<'_>),
    ) -> Result<Answer, ProviderError> {
        let http = build(format, request);
        let mut call = self.agent.post(&http.url);
        for (name, value) in &http.headers {
            call = call.header(*name, value);
        }
        let response = call
            .send(http.body.as_bytes())
            .map_err(|e| self.transport(e))?;
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(String::from)
        };
        let wait = retry_after(
            header("retry-after-ms").as_deref(),
            header("retry-after").as_deref(),
        );
        if (300..400).contains(&status) {
            return Err(ProviderError::Redirect {
                status: Some(status),
                to: header("location").and_then(|l| target_origin(&http.url, &l)),
            });
        }
        let mut body = response.into_body().into_reader();
        if !(200..300).contains(&status) {
            let mut bytes = Vec::new();
            let _ = body
                .by_ref()
                .take(MAX_ERROR_BYTES as u64)
                .read_to_end(&mut bytes);
            let text = String::from_utf8_lossy(&bytes);
            return Err(ProviderError::from_status(status, wait, &text));
        }
        if !request.stream {
            let mut bytes = Vec::new();
            let limit = MAX_BODY_BYTES as u64 + 1;
            (body.by_ref().take(limit).read_to_end(&mut bytes)).map_err(|e| self.io(&e))?;
            let answer = parse_answer(format, &whole_body(bytes)?)?;
            within_limit(&answer, request.max_tokens)?;
            return Ok(answer);
        }
        let chunks = std::iter::from_fn(move || {
            let mut buf = vec![0u8; 8192];
            match body.read(&mut buf) {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some(Ok(buf))
                }
                Err(e) => Some(Err(self.io(&e))),
            }
        });
        sse::read_pieces_within(
            format,
            Some(request.max_tokens),
            futures_util::stream::iter(chunks),
            on_piece,
        )
        .await
    }

    async fn sleep(&self, pause: Duration) {
        std::thread::sleep(pause);
    }

    fn clock(&self) -> Duration {
        static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        START.get_or_init(std::time::Instant::now).elapsed()
    }

    async fn list_models(&self, base_url: &str) -> Option<Vec<String>> {
        use std::io::Read;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(2)))
            .build()
            .into();
        let url = format!("{}/models", base_url.trim_end_matches('/'));
        let response = agent.get(&url).call().ok()?;
        if !response.status().is_success() {
            return None;
        }
        let mut bytes = Vec::new();
        let limit = crate::provider::local::MAX_LIST_BYTES as u64 + 1;
        let mut body = response.into_body();
        body.as_reader().take(limit).read_to_end(&mut bytes).ok()?;
        crate::provider::local::parse_list(&bytes)
    }
}

//! Errors by origin: the HTTP status, the network, the stream, or the model's stop reason.

use std::time::Duration;

/// Why a call to a provider failed. Messages are for users; none ever holds a key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    /// 401 or 403: the key is missing, wrong or lacks access.
    #[error("the provider refused the API key (HTTP {status}): {message}")]
    Auth {
        /// 401 or 403.
        status: u16,
        /// The provider's own words.
        message: String,
    },
    /// 429: too many requests or tokens; `retry_after` is how long the provider asked to wait.
    #[error("rate limited by the provider (HTTP 429){}: {message}", wait(.retry_after))]
    RateLimited {
        /// From `retry-after` / `retry-after-ms`, when sent.
        retry_after: Option<Duration>,
        /// The provider's own words.
        message: String,
    },
    /// 503 or 529, or an `overloaded_error` event: the provider is busy; try later or elsewhere.
    #[error("the provider is overloaded (HTTP {status}): {message}")]
    Overloaded {
        /// HTTP status (529 for Anthropic).
        status: u16,
        /// The provider's own words.
        message: String,
    },
    /// Another 5xx.
    #[error("the provider failed (HTTP {status}): {message}")]
    Server {
        /// HTTP status.
        status: u16,
        /// The provider's own words.
        message: String,
    },
    /// Another 4xx: the request itself was refused (unknown model, prompt too long, ...).
    #[error("the provider rejected the request (HTTP {status}): {message}")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// The provider's own words.
        message: String,
    },
    /// No answer in time.
    #[error("the provider did not answer within {0:?}")]
    Timeout(Duration),
    /// The request never reached the provider or its answer never arrived: offline, DNS, TLS,
    /// or (in a page) a CORS refusal, which the browser reports the same way.
    #[error("network error (offline, or the provider does not allow calls from this page): {0}")]
    Network(String),
    /// The body or stream does not follow the provider's format, or was cut short.
    #[error("malformed response from the provider: {0}")]
    Malformed(String),
    /// The provider reported an error inside a stream that had started fine.
    #[error("the provider stopped with an error: {0}")]
    InStream(String),
    /// The provider answered with a redirect. It is never followed: the request carries the
    /// key, which must reach no origin but its own. A browser hides the status and the target
    /// of a redirect it was told not to follow, so both may be unknown.
    #[error("the provider answered with a redirect{}, refused: a key never follows one", redirect(.status, .to))]
    Redirect {
        /// The 3xx status, when known.
        status: Option<u16>,
        /// The origin the redirect pointed to, when known.
        to: Option<String>,
    },
    /// The provider sent more than the answer limit allows (by its own token count, or by
    /// more text than that many tokens can hold): the stream was cut there.
    #[error(
        "the provider went past the answer limit of {limit} tokens ({why}); the rest was not read"
    )]
    OverLimit {
        /// The limit the call was made with.
        limit: u32,
        /// What showed it: the provider's usage, or the text's length.
        why: String,
    },
    /// Not called: no key is bound to this origin, and it is not a server on this machine that
    /// was turned on and answered.
    #[error("not called: {0} has no key bound to it and is not a local server turned on")]
    Unbound(String),
    /// The request could not be sent as built (e.g. a header value the browser refuses).
    #[error("the request could not be sent: {0}")]
    Request(String),
    /// Not called: even its smallest answer could cost more than the spend cap leaves.
    #[error(
        "not called: it could cost US${worst:.6} or more, and US${left:.6} of the cap is left"
    )]
    OverCap {
        /// Worst case of the smallest call, US$.
        worst: f64,
        /// What the cap leaves, US$.
        left: f64,
    },
    /// The caller stopped the call (the page's Stop button).
    #[error("the call was stopped")]
    Cancelled,
    /// The model stopped for a reason the user should know about.
    #[error("{0}")]
    Stopped(StopIssue),
}

/// A stop reason that leaves the answer incomplete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StopIssue {
    /// The answer hit the token limit.
    #[error("the answer was cut off at the token limit")]
    Length,
    /// The provider's content filter withheld the rest.
    #[error("the provider's content filter stopped the answer")]
    ContentFilter,
    /// The model declined to answer.
    #[error("the model refused to answer")]
    Refusal,
}

fn redirect(status: &Option<u16>, to: &Option<String>) -> String {
    match (status, to) {
        (Some(s), Some(to)) => format!(" (HTTP {s} to {to})"),
        (Some(s), None) => format!(" (HTTP {s})"),
        (None, Some(to)) => format!(" (to {to})"),
        (None, None) => String::new(),
    }
}

fn wait(retry_after: &Option<Duration>) -> String {
    retry_after.map_or(String::new(), |d| {
        format!(", retry after {:.1} s", d.as_secs_f64())
    })
}

impl ProviderError {
    /// The error an HTTP status means. `retry_after` is the value of `retry-after-ms` (in ms)
    /// or `retry-after` (seconds) if sent; `body` is read for the provider's message.
    pub fn from_status(status: u16, retry_after: Option<Duration>, body: &str) -> ProviderError {
        let message = message_of(body);
        match status {
            401 | 403 => ProviderError::Auth { status, message },
            429 => ProviderError::RateLimited {
                retry_after,
                message,
            },
            503 | 529 => ProviderError::Overloaded { status, message },
            500..=599 => ProviderError::Server { status, message },
            _ => ProviderError::Rejected { status, message },
        }
    }

    /// Whether the call surely cost nothing: the provider refused it with an HTTP status before
    /// generating anything (no provider bills those), or it was never sent. Any other failure
    /// may have generated tokens, so a spend cap counts its worst case.
    pub fn is_unbilled(&self) -> bool {
        matches!(
            self,
            ProviderError::Auth { .. }
                | ProviderError::RateLimited { .. }
                | ProviderError::Overloaded { .. }
                | ProviderError::Server { .. }
                | ProviderError::Rejected { .. }
                | ProviderError::Redirect { .. }
                | ProviderError::Unbound(_)
                | ProviderError::Request(_)
                | ProviderError::OverCap { .. }
        )
    }

    /// The same error with `redact` applied to every text that came from the provider (its
    /// error messages may echo what it was sent, keys included).
    pub fn redacted(self, redact: impl Fn(&str) -> String) -> ProviderError {
        use ProviderError as E;
        match self {
            E::Auth { status, message } => E::Auth {
                status,
                message: redact(&message),
            },
            E::RateLimited {
                retry_after,
                message,
            } => E::RateLimited {
                retry_after,
                message: redact(&message),
            },
            E::Overloaded { status, message } => E::Overloaded {
                status,
                message: redact(&message),
            },
            E::Server { status, message } => E::Server {
                status,
                message: redact(&message),
            },
            E::Rejected { status, message } => E::Rejected {
                status,
                message: redact(&message),
            },
            E::Network(m) => E::Network(redact(&m)),
            E::Malformed(m) => E::Malformed(redact(&m)),
            E::InStream(m) => E::InStream(redact(&m)),
            E::Request(m) => E::Request(redact(&m)),
            E::Unbound(m) => E::Unbound(m),
            E::Redirect { status, to } => E::Redirect {
                status,
                to: to.map(|t| redact(&t)),
            },
            E::OverLimit { limit, why } => E::OverLimit {
                limit,
                why: redact(&why),
            },
            other @ (E::Timeout(_) | E::OverCap { .. } | E::Cancelled | E::Stopped(_)) => other,
        }
    }

    /// Whether the same provider may succeed if asked again after a pause (what the providers'
    /// SDKs retry: 408, 409, 429, 5xx, timeouts and dropped connections).
    pub fn is_retryable(&self) -> bool {
        match self {
            ProviderError::RateLimited { .. }
            | ProviderError::Overloaded { .. }
            | ProviderError::Server { .. }
            | ProviderError::Timeout(_)
            | ProviderError::Network(_) => true,
            ProviderError::Rejected { status, .. } => matches!(status, 408 | 409),
            _ => false,
        }
    }
}

/// Reads `retry-after-ms` (milliseconds) or `retry-after` (seconds; an HTTP date is ignored).
pub fn retry_after(retry_after_ms: Option<&str>, retry_after: Option<&str>) -> Option<Duration> {
    let parse = |v: &str, scale: f64| {
        v.trim()
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite() && *x >= 0.0)
            .map(|x| Duration::from_secs_f64((x * scale).min(3600.0)))
    };
    retry_after_ms
        .and_then(|v| parse(v, 1e-3))
        .or_else(|| retry_after.and_then(|v| parse(v, 1.0)))
}

/// The provider's error message in any of the three formats, else the body's start.
fn message_of(body: &str) -> String {
    let value: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let found = value.as_ref().and_then(|v| {
        v.pointer("/error/message")
            .or_else(|| v.pointer("/message"))
            .or_else(|| v.pointer("/0/error/message"))
            .and_then(serde_json::Value::as_str)
            .map(String::from)
    });
    found.unwrap_or_else(|| {
        let text: String = body.trim().chars().take(200).collect();
        if text.is_empty() {
            "no details".into()
        } else {
            text
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_errors_with_the_providers_words() {
        let openai = r#"{"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}}"#;
        let e = ProviderError::from_status(401, None, openai);
        assert!(matches!(e, ProviderError::Auth { status: 401, .. }));
        assert!(e.to_string().contains("Incorrect API key provided"), "{e}");
        let anthropic =
            r#"{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}"#;
        let e = ProviderError::from_status(529, None, anthropic);
        assert!(matches!(e, ProviderError::Overloaded { status: 529, .. }) && e.is_retryable());
        let gemini = r#"{"error": {"code": 429, "message": "Resource has been exhausted", "status": "RESOURCE_EXHAUSTED"}}"#;
        let wait = retry_after(None, Some("7"));
        let e = ProviderError::from_status(429, wait, gemini);
        assert_eq!(
            e.to_string(),
            "rate limited by the provider (HTTP 429), retry after 7.0 s: Resource has been exhausted"
        );
        let e = ProviderError::from_status(400, None, "<html>bad</html>");
        assert!(!e.is_retryable() && e.to_string().contains("<html>bad</html>"));
        assert!(ProviderError::from_status(502, None, "")
            .to_string()
            .contains("no details"));
    }

    #[test]
    fn retry_after_prefers_milliseconds_and_ignores_dates() {
        assert_eq!(
            retry_after(Some("1500"), Some("9")),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(retry_after(None, Some("2")), Some(Duration::from_secs(2)));
        assert_eq!(
            retry_after(None, Some("Wed, 21 Oct 2015 07:28:00 GMT")),
            None
        );
        assert_eq!(retry_after(Some("-1"), None), None);
        assert_eq!(
            retry_after(None, Some("1e9")),
            Some(Duration::from_secs(3600))
        );
    }
}

//! Where a provider's API lives: base URLs parsed once (WHATWG rules, the `url` crate), and the
//! origins keys are bound to.
//!
//! A base URL must be `https`, or `http` to this machine (`localhost`, 127.0.0.0/8, `[::1]`),
//! with no user info, query or fragment. Hosts are ASCII only (the IDNA back end is off), so a
//! look-alike Unicode host cannot pass for a provider's.

use std::fmt;

use url::{Host, Url};

/// Why a base URL or an origin was refused. Names the value, which never holds a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("base URL {value:?} {reason}")]
pub struct EndpointError {
    /// The value as given.
    pub value: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// A checked base URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    url: Url,
}

impl Endpoint {
    /// Parses and checks a base URL.
    pub fn parse(value: &str) -> Result<Endpoint, EndpointError> {
        let bad = |reason| EndpointError {
            value: value.to_string(),
            reason,
        };
        let text = value.trim();
        // Printable ASCII, and no escapes in the host: the IDNA back end is off, and a host
        // spelled with escapes or non-ASCII must not reach it (found by fuzzing).
        if !text.chars().all(|c| c.is_ascii_graphic()) {
            return Err(bad("is not printable ASCII"));
        }
        // As WHATWG parsers read it: after the scheme, any slashes, then the authority
        // ("https:host" names a host too).
        let after_scheme = text.split_once(':').map_or("", |(_, rest)| rest);
        let authority = after_scheme.trim_start_matches(['/', '\\']);
        let host_end = authority
            .find(['/', '\\', '?', '#'])
            .unwrap_or(authority.len());
        if authority[..host_end].contains('%') {
            return Err(bad("has an escaped host"));
        }
        let url = Url::parse(text).map_err(|_| {
            bad("is not an absolute URL (e.g. https://api.openai.com/v1; hosts are ASCII)")
        })?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("carries user info (user:password@); give keys apart"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(bad("has a query or fragment"));
        }
        let endpoint = Endpoint { url };
        match endpoint.url.scheme() {
            "https" => Ok(endpoint),
            "http" if endpoint.is_loopback() => Ok(endpoint),
            "http" => Err(bad("is plain http to another machine; use https")),
            _ => Err(bad("is neither https nor http")),
        }
    }

    /// The origin, e.g. `https://api.openai.com` (the port only when not the scheme's own).
    pub fn origin(&self) -> String {
        self.url.origin().ascii_serialization()
    }

    /// True for a host on this machine: `localhost`, 127.0.0.0/8 or `[::1]`.
    pub fn is_loopback(&self) -> bool {
        match self.url.host() {
            Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(Host::Ipv4(ip)) => ip.is_loopback(),
            Some(Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        }
    }

    /// The base URL with `segment` appended as one path segment, escaped (`/`, `?`, `#` and
    /// the like cannot change the path or add a query).
    pub fn join(&self, segment: &str) -> Url {
        let mut url = self.url.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().push(segment);
        }
        url
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.url.as_str())
    }
}

/// The official API origin of a provider the pool names, where a key given for that provider
/// may go.
pub fn official_origin(provider: &str) -> Option<&'static str> {
    Some(match provider.to_ascii_lowercase().as_str() {
        "openai" => "https://api.openai.com",
        "anthropic" => "https://api.anthropic.com",
        "google" | "gemini" => "https://generativelanguage.googleapis.com",
        "together" => "https://api.together.xyz",
        "mistral" => "https://api.mistral.ai",
        "deepseek" => "https://api.deepseek.com",
        "groq" => "https://api.groq.com",
        "openrouter" => "https://openrouter.ai",
        "fireworks" => "https://api.fireworks.ai",
        _ => return None,
    })
}

/// True when `base_url` parses as a base URL on this machine.
pub fn is_loopback(base_url: &str) -> bool {
    Endpoint::parse(base_url).is_ok_and(|e| e.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_https_or_loopback_http_without_user_info() {
        for good in [
            "https://api.openai.com/v1",
            "http://127.0.0.1:8000/v1",
            "http://127.8.9.10/v1",
            "http://localhost:11434/v1",
            "http://[::1]:1/v1",
        ] {
            assert!(Endpoint::parse(good).is_ok(), "{good}");
        }
        for (bad, says) in [
            ("http://127.0.0.1:1@evil.com/v1", "user info"),
            ("https://user:pw@api.openai.com/v1", "user info"),
            ("http://api.openai.com/v1", "plain http"),
            ("/v1", "not an absolute URL"),
            ("", "not an absolute URL"),
            ("ftp://example.com", "neither https nor http"),
            ("https://api.openai.com/v1?key=x", "query"),
            ("https://аpi.openai.com/v1", "not printable ASCII"), // Cyrillic а
            // A fuzzing find: an escaped host with a non-ASCII byte reached the IDNA stub.
            (
                "http:.%4E%c2Eioppaoneo5\u{0}\u{0}\u{0}1",
                "not printable ASCII",
            ),
            ("http://%4E%c2Eiop/v1", "escaped host"),
            ("https:tpsap%2E2E%E2t", "escaped host"),
            ("https://api.openai.com/v1 extra", "not printable ASCII"),
        ] {
            let err = Endpoint::parse(bad).unwrap_err();
            assert!(err.to_string().contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn origins_and_loopback_come_from_the_parsed_host() {
        let e = Endpoint::parse("https://API.OpenAI.com:443/v1/").unwrap();
        assert_eq!(e.origin(), "https://api.openai.com");
        assert_eq!(
            Endpoint::parse("http://localhost:8787/v1")
                .unwrap()
                .origin(),
            "http://localhost:8787"
        );
        assert!(is_loopback("http://localhost:8080/v1") && is_loopback("http://[::1]:1/v1"));
        assert!(!is_loopback("https://127.0.0.1.example.com/v1"));
        assert!(!is_loopback("http://127.0.0.1:1@evil.com"));
    }

    #[test]
    fn a_joined_segment_cannot_leave_its_place() {
        let e = Endpoint::parse("https://generativelanguage.googleapis.com/v1beta").unwrap();
        assert_eq!(
            e.join("models/../../x?key=1#y:generateContent").as_str(),
            "https://generativelanguage.googleapis.com/v1beta/\
             models%2F..%2F..%2Fx%3Fkey=1%23y:generateContent"
        );
        let trailing = Endpoint::parse("https://api.openai.com/v1/").unwrap();
        assert_eq!(
            trailing.join("chat").as_str(),
            "https://api.openai.com/v1/chat"
        );
    }
}

//! What to do after a failed call: retry the same model (as the providers' SDKs do), or fall
//! back to the next model of the router's ranked list, and remember what was tried.

use std::time::Duration;

use serde::Serialize;

use super::ProviderError;
use crate::select::Candidate;

/// Retries per model and their pauses. The defaults follow the OpenAI and Anthropic SDKs:
/// 2 retries, exponential from 0.5 s, at most 8 s, and a provider's `retry-after` when it
/// asks for no more than `max_wait`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Retries of one model before falling back.
    pub max_retries: u32,
    /// First pause.
    pub initial: Duration,
    /// Longest pause the policy chooses itself.
    pub max_delay: Duration,
    /// Longest `retry-after` worth waiting for; beyond it, fall back at once.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_retries: 2,
            initial: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            max_wait: Duration::from_secs(60),
        }
    }
}

/// The next step after an error.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// Call the same model again after this pause.
    Retry(Duration),
    /// Call this candidate instead (an index into the ranked list).
    FallBack(usize),
    /// Nothing left to try.
    GiveUp,
}

/// One failed call.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    /// Model id.
    pub model: String,
    /// Provider.
    pub provider: String,
    /// What went wrong, in words.
    pub error: String,
    /// What the call counts for under a spend cap, US$: its reported cost, else its worst case,
    /// or 0 when it surely cost nothing ([`ProviderError::is_unbilled`]).
    pub cost: f64,
}

/// Walks a ranked list of candidates, one failure at a time.
#[derive(Debug, Clone)]
pub struct Fallback {
    ranked: Vec<Candidate>,
    policy: RetryPolicy,
    current: usize,
    retries: u32,
    refused: Vec<String>,
    attempts: Vec<Attempt>,
}

impl Fallback {
    /// Starts at the first (best) candidate.
    pub fn new(ranked: Vec<Candidate>, policy: RetryPolicy) -> Fallback {
        Fallback {
            ranked,
            policy,
            current: 0,
            retries: 0,
            refused: Vec::new(),
            attempts: Vec::new(),
        }
    }

    /// The candidate to call now, if any is left.
    pub fn current(&self) -> Option<&Candidate> {
        self.ranked.get(self.current)
    }

    /// Counts the last failed call at `usd` (see [`Attempt::cost`]).
    pub fn charge(&mut self, usd: f64) {
        if let Some(a) = self.attempts.last_mut() {
            a.cost = usd;
        }
    }

    /// Every failed call so far, oldest first.
    pub fn attempts(&self) -> &[Attempt] {
        &self.attempts
    }

    /// Records a failure that came after part of the answer was shown: nothing more is tried,
    /// so no text is shown twice.
    pub fn interrupted(&mut self, error: &ProviderError) -> Next {
        if let Some(c) = self.ranked.get(self.current) {
            self.attempts.push(Attempt {
                model: c.model.clone(),
                provider: c.provider.clone(),
                error: error.to_string(),
                cost: 0.0,
            });
        }
        self.current = self.ranked.len();
        Next::GiveUp
    }

    /// Records a failure of the current candidate and says what to do next.
    pub fn failed(&mut self, error: &ProviderError) -> Next {
        let Some(c) = self.ranked.get(self.current) else {
            return Next::GiveUp;
        };
        self.attempts.push(Attempt {
            model: c.model.clone(),
            provider: c.provider.clone(),
            error: error.to_string(),
            cost: 0.0,
        });
        if let ProviderError::Auth { .. } | ProviderError::Redirect { .. } = error {
            // The key is bad for every model of this provider, or its API sends calls away.
            self.refused.push(c.provider.clone());
        } else if error.is_retryable() && self.retries < self.policy.max_retries {
            let pause = match error {
                ProviderError::RateLimited {
                    retry_after: Some(wait),
                    ..
                } => Some(*wait).filter(|w| *w <= self.policy.max_wait),
                _ => Some(self.backoff()),
            };
            if let Some(pause) = pause {
                self.retries += 1;
                return Next::Retry(pause);
            }
        }
        self.retries = 0;
        let next = (self.current + 1..self.ranked.len())
            .find(|&i| !self.refused.contains(&self.ranked[i].provider));
        match next {
            Some(i) => {
                self.current = i;
                Next::FallBack(i)
            }
            None => {
                self.current = self.ranked.len();
                Next::GiveUp
            }
        }
    }

    fn backoff(&self) -> Duration {
        let factor = 2u32.saturating_pow(self.retries);
        self.policy
            .initial
            .saturating_mul(factor)
            .min(self.policy.max_delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::CostEstimate;

    fn ranked(models: &[(&str, &str)]) -> Vec<Candidate> {
        models
            .iter()
            .map(|&(model, provider)| Candidate {
                model: model.into(),
                provider: provider.into(),
                quality: 0.5,
                margin: 0.0,
                premium: 0.0,
                cost: CostEstimate {
                    input_tokens: 1,
                    output_tokens: 1,
                    usd: 0.001,
                },
                score: 0.5,
            })
            .collect()
    }

    fn status(code: u16) -> ProviderError {
        ProviderError::from_status(code, None, "")
    }

    #[test]
    fn server_errors_retry_with_backoff_then_fall_back() {
        let mut f = Fallback::new(ranked(&[("a", "p"), ("b", "q")]), RetryPolicy::default());
        assert_eq!(
            f.failed(&status(500)),
            Next::Retry(Duration::from_millis(500))
        );
        assert_eq!(f.failed(&status(502)), Next::Retry(Duration::from_secs(1)));
        assert_eq!(f.failed(&status(500)), Next::FallBack(1));
        assert_eq!(f.current().map(|c| c.model.as_str()), Some("b"));
        assert_eq!(f.failed(&status(400)), Next::GiveUp);
        assert_eq!(f.current(), None);
        let tried: Vec<&str> = f.attempts().iter().map(|a| a.model.as_str()).collect();
        assert_eq!(tried, ["a", "a", "a", "b"]);
        assert!(f.attempts()[3].error.contains("HTTP 400"));
    }

    #[test]
    fn rate_limits_wait_as_asked_unless_too_long() {
        let limited = |secs| ProviderError::RateLimited {
            retry_after: Some(Duration::from_secs(secs)),
            message: "slow down".into(),
        };
        let mut f = Fallback::new(ranked(&[("a", "p"), ("b", "q")]), RetryPolicy::default());
        assert_eq!(f.failed(&limited(3)), Next::Retry(Duration::from_secs(3)));
        assert_eq!(f.failed(&limited(600)), Next::FallBack(1));
    }

    #[test]
    fn a_refused_key_skips_every_model_of_that_provider() {
        let list = ranked(&[("a", "p"), ("a2", "p"), ("b", "q")]);
        let mut f = Fallback::new(list, RetryPolicy::default());
        assert_eq!(f.failed(&status(401)), Next::FallBack(2));
        assert_eq!(
            f.failed(&ProviderError::Network("reset".into())),
            Next::Retry(Duration::from_millis(500))
        );
        let mut none = Fallback::new(Vec::new(), RetryPolicy::default());
        assert_eq!(none.failed(&status(500)), Next::GiveUp);
    }
}

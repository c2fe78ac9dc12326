//! Why a model is left out of a decision: the leaf that [`crate::select`], the router and the
//! crate's [`Error`](crate::Error) share.

use std::fmt;

use serde::Serialize;

/// Why a model was left out of a decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Reason {
    /// Prompt plus expected answer do not fit the context window.
    #[serde(rename_all = "camelCase")]
    ContextWindow {
        /// Tokens the request needs.
        needed: u64,
        /// Tokens the model takes.
        window: u32,
    },
    /// The request would cost more than `maxCostPerRequest`.
    #[serde(rename_all = "camelCase")]
    MaxCost {
        /// Estimated US$.
        cost: f64,
        /// The limit.
        limit: f64,
    },
    /// The model is slower than `maxLatencyMs`.
    #[serde(rename_all = "camelCase")]
    MaxLatency {
        /// The model's typical latency.
        latency_ms: u32,
        /// The limit.
        limit: u32,
    },
    /// The user has no key for the model's provider.
    NoKey {
        /// The provider.
        provider: String,
    },
    /// The request's `exclude` names the model.
    #[serde(rename = "excluded")]
    ExcludedByRequest,
    /// The request's `models` (the only ones allowed) does not name the model.
    NotAllowed,
    /// The request needs what the model does not do (its pool entry's `supports`).
    Unsupported {
        /// What it needs.
        need: crate::pool::Capability,
    },
    /// The model's predicted quality, less its margin, is below the request's `minQuality`.
    #[serde(rename_all = "camelCase")]
    BelowMinQuality {
        /// Its predicted quality less its margin.
        value: f64,
        /// The minimum asked for.
        min: f64,
    },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::ContextWindow { needed, window } => {
                write!(f, "needs {needed} tokens, context window is {window}")
            }
            Reason::MaxCost { cost, limit } => {
                write!(f, "costs ~US${cost:.6}, limit is US${limit:.6}")
            }
            Reason::MaxLatency { latency_ms, limit } => {
                write!(f, "takes ~{latency_ms} ms, limit is {limit} ms")
            }
            Reason::NoKey { provider } => write!(f, "no API key for {provider}"),
            Reason::ExcludedByRequest => f.write_str("excluded by the user"),
            Reason::NotAllowed => f.write_str("not among the models allowed"),
            Reason::Unsupported { need } => write!(f, "does not take {need}"),
            Reason::BelowMinQuality { value, min } => {
                write!(
                    f,
                    "predicted {value:.3} (less its margin), below the minimum {min}"
                )
            }
        }
    }
}

/// A model left out of a decision, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Exclusion {
    /// Model id.
    pub model: String,
    /// Why.
    pub reason: Reason,
    /// The reason in words.
    pub message: String,
}

/// The models a request excluded and why, listed in an error.
#[derive(Debug, Clone, PartialEq)]
pub struct Exclusions(pub Vec<Exclusion>);

impl fmt::Display for Exclusions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("it was offered no model");
        }
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{} ({})", e.model, e.reason)?;
        }
        Ok(())
    }
}

//! The one error type of the crate.

use crate::exclusion::Exclusions;

/// Everything that can go wrong while loading a bundle, predicting or routing.
///
/// Messages are lowercase and name the bad value, so they can be shown to a user as they are.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The prompt is empty or only whitespace.
    #[error("the prompt is empty: type something to route")]
    EmptyPrompt,
    /// A conversation breaks the turn rules (see [`crate::chat::Conversation::new`]).
    #[error("invalid conversation: {0}")]
    Conversation(String),
    /// `predictor.json` does not parse or misses a field.
    #[error("invalid predictor manifest: {0}")]
    Manifest(String),
    /// `predictor.json` has a format version this build cannot read.
    #[error("predictor manifest has format version {found}; this build reads version {supported}")]
    UnsupportedVersion {
        /// Version found in the manifest.
        found: u32,
        /// Version this build reads.
        supported: u32,
    },
    /// A bundle file's bytes do not match the sha256 recorded in the manifest.
    #[error(
        "{file} is corrupt or from another bundle: sha256 is {actual}, the manifest expects {expected}"
    )]
    Checksum {
        /// File name as written in the manifest.
        file: String,
        /// Digest recorded in the manifest.
        expected: String,
        /// Digest of the bytes given.
        actual: String,
    },
    /// `tokenizer.json` does not parse, or tokenizing failed.
    #[error("tokenizer error: {0}")]
    Tokenizer(String),
    /// The ONNX encoder failed to load or run.
    #[error("encoder error: {0}")]
    Encoder(String),
    /// A heads file does not parse, belongs to another space, or a fit failed.
    #[error("heads: {0}")]
    Heads(String),
    /// A card of published scores does not parse, or names what the bundle does not know.
    #[error("invalid card of published scores: {0}")]
    Card(String),
    /// A probe file does not parse or is inconsistent.
    #[error("invalid probe set: {0}")]
    Probes(String),
    /// A pool file does not parse or is inconsistent.
    #[error("invalid pool: {0}")]
    Pool(String),
    /// A pool model has no head in the predictor, so its quality cannot be estimated.
    #[error("pool model {model:?} has no head in the predictor (known heads: {known})")]
    MissingHead {
        /// The pool model id.
        model: String,
        /// Comma-separated head ids of the predictor.
        known: String,
    },
    /// A routing option has a value that makes no sense.
    #[error("invalid option {name}: {value} ({reason})")]
    InvalidOption {
        /// Option name as the user spells it.
        name: &'static str,
        /// The value given.
        value: String,
        /// What a valid value looks like.
        reason: &'static str,
    },
    /// Every model of the pool was excluded by the request's constraints.
    #[error("no model of the pool can take this request: {0}")]
    NoCandidate(Exclusions),
    /// No allowed model's predicted quality, less its margin, reaches the request's
    /// `minQuality`; the call does not go out.
    #[error(
        "no model reaches the minimum predicted quality {min}: the closest is {closest} at \
         {value:.3} (its predicted chance less its margin)"
    )]
    BelowMinQuality {
        /// The minimum asked for.
        min: f64,
        /// The allowed model that came closest.
        closest: String,
        /// Its predicted quality less its margin.
        value: f64,
    },
    /// A batch's total budget cannot pay even the cheapest allowed model for every prompt.
    #[error(
        "a total budget of US${budget} cannot pay for the cheapest allowed model of every prompt \
         (that needs US${needed:.8})"
    )]
    BudgetTooSmall {
        /// The total budget given, US$.
        budget: f64,
        /// The least the batch can cost, US$.
        needed: f64,
    },
    /// One prompt of a batch failed.
    #[error("prompt {index} of the batch: {source}")]
    BatchItem {
        /// Position of the prompt in the batch, from 0.
        index: usize,
        /// What went wrong with it.
        source: Box<Error>,
    },
    /// A routing table does not parse.
    #[error("invalid routing table: {0}")]
    Table(String),
    /// Reading a file failed (native only).
    #[error("cannot read {path}: {message}")]
    Io {
        /// The path that failed.
        path: String,
        /// The OS error.
        message: String,
    },
    /// Fetching a bundle file failed (browser only).
    #[error("cannot fetch {url}: {message}")]
    Fetch {
        /// The URL that failed.
        url: String,
        /// What went wrong.
        message: String,
    },
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

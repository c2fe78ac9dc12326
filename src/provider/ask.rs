//! One prompt, end to end: call the router's ranked models in turn over any transport,
//! retrying and falling back as [`Fallback`] says, until one answers. The browser and the CLI
//! run this same loop; only [`Transport`] differs.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use serde::Serialize;

use super::{Answer, ApiKey, Attempt, ChatRequest, Fallback, Format, Next, ProviderError};
use super::{Piece, RetryPolicy, StopIssue, Usage};
use crate::chat::Conversation;
use crate::cost;
use crate::endpoint::{is_loopback, official_origin, Endpoint, EndpointError};
use crate::pool::{Pool, PoolModel};
use crate::select::{Candidate, Constraints};

/// Sends one request to a provider. The browser's transport is single-threaded, so the
/// futures need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait Transport {
    /// Sends `request` in `format`; a streamed answer's text and shown thinking go to
    /// `on_piece` as they arrive.
    async fn send(
        &self,
        format: Format,
        request: &ChatRequest,
        on_piece: &mut dyn FnMut(Piece<'_>),
    ) -> Result<Answer, ProviderError>;

    /// Waits before a retry.
    async fn sleep(&self, pause: Duration);

    /// The models an OpenAI-compatible server lists at `GET {base_url}/models` (read within
    /// [`super::local::MAX_LIST_BYTES`], parsed by [`super::local::parse_list`]), or `None` when
    /// nothing answers with such a list within a couple of seconds.
    async fn list_models(&self, base_url: &str) -> Option<Vec<String>>;

    /// Time since some fixed instant, for the deadline of a whole ask.
    fn clock(&self) -> Duration;
}

/// Asks each server on this machine that `pool` names and the user turned on
/// ([`Keys::turn_on_local`]), once per origin, which models it serves, and lets `keys` call
/// the pool's models it lists ([`Keys::local_answered`]). Nothing else is asked.
pub async fn probe_local<T: Transport>(transport: &T, pool: &Pool, keys: &mut Keys) {
    let mut seen = BTreeSet::new();
    for model in &pool.models {
        let Ok(endpoint) = Endpoint::parse(&model.base_url) else {
            continue;
        };
        let origin = endpoint.origin();
        if !endpoint.is_loopback()
            || !keys.local.contains(&origin)
            || keys.can_call(model)
            || !seen.insert(origin)
        {
            continue;
        }
        if let Some(listed) = transport.list_models(&model.base_url).await {
            keys.local_answered(&model.base_url, listed);
        }
    }
}

/// API keys, each bound to the one origin it may be sent to; the servers on this machine the
/// user turned on, and those of them that answered a probe. Nothing is sent anywhere else.
/// `Debug` names the origins only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Keys {
    keys: BTreeMap<String, ApiKey>,
    local: BTreeSet<String>,
    /// Servers that answered, by origin, with the models each lists.
    answered: BTreeMap<String, Vec<String>>,
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keys")
            .field("keys", &self.keys.keys())
            .field("local", &self.local)
            .field("answered", &self.answered.keys())
            .finish()
    }
}

/// Why a key was refused. Names where it was meant to go, never the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// A provider name with no official origin: such a key must be given for an origin.
    #[error(
        "provider {0:?} has no official API origin; give its key for the origin of its base \
         URL (e.g. \"https://api.example.com\")"
    )]
    UnknownProvider(String),
    /// An origin that is not one a key may go to.
    #[error("cannot bind a key to {0}")]
    Origin(EndpointError),
    /// A server turned on as local that is not on this machine.
    #[error("{0} is not a server on this machine (localhost, 127.0.0.0/8 or [::1])")]
    NotLocal(String),
    /// A key with a character an HTTP header cannot carry (e.g. a pasted U+200B).
    #[error(
        "the key for {to} has a character an HTTP header cannot carry ({code} at position \
         {at}); paste it again"
    )]
    Character {
        /// Where the key was meant to go.
        to: String,
        /// The character, as U+XXXX.
        code: String,
        /// Its position in the key, from 1.
        at: usize,
    },
}

impl Keys {
    /// No keys.
    pub fn new() -> Keys {
        Keys::default()
    }

    /// Binds `key` to `to`: an origin (`https://host[:port]`), or a provider name, which stands
    /// for that provider's official origin ([`official_origin`]). A blank key removes the
    /// binding. Whitespace around the key is dropped; any other character outside visible
    /// ASCII is refused.
    pub fn insert(&mut self, to: &str, key: ApiKey) -> Result<(), KeyError> {
        let origin = if to.contains("://") {
            let endpoint = Endpoint::parse(to).map_err(KeyError::Origin)?;
            endpoint.origin()
        } else {
            official_origin(to)
                .ok_or_else(|| KeyError::UnknownProvider(to.to_string()))?
                .to_string()
        };
        let trimmed = key.expose().trim();
        if trimmed.is_empty() {
            self.keys.remove(&origin);
            return Ok(());
        }
        if let Some((at, c)) = trimmed
            .chars()
            .enumerate()
            .find(|(_, c)| !c.is_ascii_graphic())
        {
            return Err(KeyError::Character {
                to: to.to_string(),
                code: format!("U+{:04X}", u32::from(c)),
                at: at + 1,
            });
        }
        self.keys.insert(origin, ApiKey::new(trimmed));
        Ok(())
    }

    /// The key bound to the origin of `base_url`, if any.
    pub fn for_base_url(&self, base_url: &str) -> Option<&ApiKey> {
        let endpoint = Endpoint::parse(base_url).ok()?;
        self.keys.get(&endpoint.origin())
    }

    /// Whether a call to `model` can be made: a key is bound to its base URL's origin, or it is
    /// served on this machine by a server the user turned on ([`Keys::turn_on_local`]) that
    /// answered a probe ([`probe_local`]): local servers need no key, but nothing is sent to a
    /// port nobody turned on and vouched for.
    pub fn can_call(&self, model: &PoolModel) -> bool {
        self.for_base_url(&model.base_url).is_some() || self.served(model).is_some()
    }

    /// The name under which a server on this machine that the user turned on, and that
    /// answered, serves `model` ([`super::local::served_name`]); `None` for any other model.
    pub fn served(&self, model: &PoolModel) -> Option<&str> {
        if !is_loopback(&model.base_url) {
            return None;
        }
        let origin = Endpoint::parse(&model.base_url).ok()?.origin();
        if !self.local.contains(&origin) {
            return None;
        }
        super::local::served_name(&model.api_model, self.answered.get(&origin)?)
    }

    /// Whether the user turned on the server on this machine at `origin`.
    pub fn is_local(&self, origin: &str) -> bool {
        self.local.contains(origin)
    }

    /// What each server on this machine that answered lists, by origin.
    pub fn listed(&self) -> &BTreeMap<String, Vec<String>> {
        &self.answered
    }

    /// Lets routoo call the server on this machine at `to` (an origin or a base URL) once it
    /// answers a probe. Local servers start off: a page turns one on when its user does.
    pub fn turn_on_local(&mut self, to: &str) -> Result<(), KeyError> {
        let endpoint = Endpoint::parse(to).map_err(KeyError::Origin)?;
        if !endpoint.is_loopback() {
            return Err(KeyError::NotLocal(endpoint.origin()));
        }
        self.local.insert(endpoint.origin());
        Ok(())
    }

    /// `text` with every key held here masked, longest first (so a key that contains another
    /// is masked whole).
    pub fn redact(&self, text: &str) -> String {
        let mut keys: Vec<&str> = self.keys.values().map(ApiKey::expose).collect();
        keys.sort_by_key(|k| std::cmp::Reverse(k.len()));
        keys.into_iter()
            .fold(text.to_string(), |t, key| t.replace(key, "<redacted>"))
    }

    /// Marks the server at `base_url` as answering with the models it `listed`: if it was
    /// turned on, the pool's models among them may be called.
    pub fn local_answered(&mut self, base_url: &str, listed: Vec<String>) {
        if let Ok(e) = Endpoint::parse(base_url) {
            if e.is_loopback() && self.local.contains(&e.origin()) {
                self.answered.insert(e.origin(), listed);
            }
        }
    }

    /// The providers of `pool` that can be called, for the router's `providers` constraint.
    pub fn callable_providers(&self, pool: &Pool) -> Vec<String> {
        let mut names: Vec<String> = pool
            .models
            .iter()
            .filter(|m| self.can_call(m))
            .map(|m| m.provider.clone())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Narrows `constraints` to the providers these keys can call: those it named, or all.
    pub fn restrict(&self, pool: &Pool, constraints: &mut Constraints) {
        let callable = self.callable_providers(pool);
        constraints.providers = Some(match constraints.providers.take() {
            Some(asked) => asked.into_iter().filter(|p| callable.contains(p)).collect(),
            None => callable.clone(),
        });
        // A provider can be callable while some of its models are not (a server on this
        // machine that does not list them).
        let unserved =
            (pool.models.iter()).filter(|m| callable.contains(&m.provider) && !self.can_call(m));
        for m in unserved {
            if !constraints.exclude.contains(&m.id) {
                constraints.exclude.push(m.id.clone());
            }
        }
    }
}

/// What is happening, for a UI to show as it happens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Progress<'a> {
    /// A call to `model` starts; `retry` counts earlier calls to the same model.
    Calling {
        /// The candidate called.
        model: &'a Candidate,
        /// 0 for the first call.
        retry: u32,
    },
    /// A piece of the answer.
    Text(&'a str),
    /// A piece of the model's shown thinking.
    Reasoning(&'a str),
    /// A call failed; any text shown since `Calling` is void.
    Failed {
        /// What failed and why.
        attempt: &'a Attempt,
        /// What happens next.
        next: &'a Next,
    },
}

/// How to ask.
#[derive(Debug, Clone)]
pub struct AskOptions {
    /// Most tokens the answer may take.
    pub max_tokens: u32,
    /// Stream the answer.
    pub stream: bool,
    /// Retries and their pauses.
    pub policy: RetryPolicy,
    /// Most US$ the whole ask may cost, retries and fallbacks included: every call's worst
    /// case must fit what is left.
    pub max_cost: Option<f64>,
    /// No call starts (and no retry waits) past this time from the start of the ask; with the
    /// transport's own deadline per call, an ask ends within the two added.
    pub deadline: Option<Duration>,
}

/// Most answer tokens a call asks for when its caller names no limit (the CLI, the page, the
/// package and calibration alike).
pub const DEFAULT_MAX_TOKENS: u32 = 1024;

impl Default for AskOptions {
    fn default() -> AskOptions {
        AskOptions {
            max_tokens: DEFAULT_MAX_TOKENS,
            stream: true,
            policy: RetryPolicy::default(),
            max_cost: None,
            deadline: None,
        }
    }
}

/// The answer, who gave it, what it cost, and what failed before.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Reply {
    /// Model id that answered.
    pub model: String,
    /// Its provider.
    pub provider: String,
    /// The answer.
    pub answer: Answer,
    /// US$ from the provider's token counts; `None` when it reported none.
    pub cost: Option<f64>,
    /// The router's estimate for this model, US$.
    pub estimated_cost: f64,
    /// A stop reason the user should know about (length, content filter).
    pub note: Option<String>,
    /// The answer limit the call was made with (lowered to fit a spend cap).
    pub max_tokens: u32,
    /// What this ask counts for in all, US$: this answer's cost (its worst case if the provider
    /// reported none) plus every failed call's [`Attempt::cost`].
    pub spent: f64,
    /// Failed calls before this answer, oldest first.
    pub attempts: Vec<Attempt>,
}

/// Why no answer came.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AskError {
    /// The ranked list was empty.
    #[error("no model can take this prompt: add a key for one of the pool's providers, or raise the budget")]
    NoCandidate,
    /// Every candidate failed.
    #[error("every model failed: {}", list(.0))]
    Exhausted(Vec<Attempt>),
    /// The caller stopped the call.
    #[error("stopped")]
    Cancelled(Vec<Attempt>),
    /// A call failed after part of its answer was shown; it was not retried and no other
    /// model was asked, so no text is shown twice.
    #[error("the answer broke off after it had begun: {}", list(.0))]
    Interrupted(Vec<Attempt>),
    /// The ask's overall deadline passed before any model answered.
    #[error("no answer within {limit:?} in all: {}", list(.1), limit = .0)]
    Deadline(Duration, Vec<Attempt>),
    /// A ranked model is not in the pool (the pool changed after routing).
    #[error("the pool has no model {0:?}")]
    UnknownModel(String),
}

fn list(attempts: &[Attempt]) -> String {
    attempts
        .iter()
        .map(|a| format!("{} ({})", a.model, a.error))
        .collect::<Vec<_>>()
        .join("; ")
}

impl AskError {
    /// The failed calls, oldest first.
    pub fn attempts(&self) -> &[Attempt] {
        match self {
            AskError::Exhausted(a)
            | AskError::Cancelled(a)
            | AskError::Interrupted(a)
            | AskError::Deadline(_, a) => a,
            _ => &[],
        }
    }
}

/// Whether `answer` declined (a refusal, or the content filter) and gave nothing.
fn refused(answer: &Answer, shown: bool) -> bool {
    matches!(
        answer.issue(),
        Some(StopIssue::Refusal | StopIssue::ContentFilter)
    ) && !shown
        && answer.text.trim().is_empty()
        && answer.tool_calls.is_empty()
}

/// Asks the `ranked` candidates (best first, as the router returned them) for an answer to
/// `conversation`, each with the key `keys` binds to its base URL's origin.
pub async fn ask<T: Transport>(
    transport: &T,
    pool: &Pool,
    ranked: Vec<Candidate>,
    conversation: &Conversation,
    keys: &Keys,
    options: &AskOptions,
    mut progress: impl FnMut(Progress<'_>),
) -> Result<Reply, AskError> {
    if ranked.is_empty() {
        return Err(AskError::NoCandidate);
    }
    let mut fallback = Fallback::new(ranked, options.policy);
    let mut retry = 0;
    // What the calls so far count for under the cap (see `Attempt::cost`).
    let mut spent = 0.0;
    let started = transport.clock();
    let elapsed = || transport.clock().saturating_sub(started);
    while let Some(candidate) = fallback.current().cloned() {
        if let Some(limit) = options.deadline.filter(|d| elapsed() >= *d) {
            return Err(AskError::Deadline(limit, fallback.attempts().to_vec()));
        }
        let model = pool
            .model(&candidate.model)
            .ok_or_else(|| AskError::UnknownModel(candidate.model.clone()))?;
        let format = Format::of_provider(&model.provider);
        // Checked right before each call, whatever the caller ranked: a prompt goes only to an
        // origin a key is bound to, or to a server on this machine turned on and answering.
        let allowed = keys.can_call(model);
        // Under a cap, the call's worst case must fit what is left: max_tokens is lowered to
        // fit, and a model that cannot fit its smallest answer is passed over (an unbilled
        // failure, so it takes the same path as any other).
        let wanted = model.call_limit(options.max_tokens);
        let max_tokens = match options.max_cost {
            None => Some(wanted),
            Some(cap) => cost::max_tokens_within(model, conversation, cap - spent, wanted),
        };
        let (error, shown, worst) = match max_tokens {
            _ if !allowed => (
                ProviderError::Unbound(
                    Endpoint::parse(&model.base_url).map_or_else(|e| e.to_string(), |e| e.origin()),
                ),
                false,
                0.0,
            ),
            None => {
                let smallest = options.max_tokens.min(cost::MIN_ANSWER_TOKENS);
                let error = ProviderError::OverCap {
                    worst: cost::worst_case(model, conversation, smallest),
                    left: options.max_cost.map_or(0.0, |cap| cap - spent),
                };
                (error, false, 0.0)
            }
            Some(max_tokens) => {
                let worst = cost::worst_case(model, conversation, max_tokens);
                let request = ChatRequest {
                    base_url: model.base_url.clone(),
                    api_model: (keys.served(model).map(str::to_string))
                        .unwrap_or_else(|| model.api_model.clone()),
                    conversation: conversation.clone(),
                    max_tokens,
                    stream: options.stream,
                    key: keys.for_base_url(&model.base_url).cloned(),
                    reasoning_effort: model.reasoning_effort.clone(),
                };
                progress(Progress::Calling {
                    model: &candidate,
                    retry,
                });
                let mut shown = false;
                // Shown thinking is not the answer: a call that showed only thinking may still
                // fall back.
                let mut on_piece = |piece: Piece<'_>| match piece {
                    Piece::Text(text) => {
                        shown |= !text.is_empty();
                        progress(Progress::Text(text));
                    }
                    Piece::Reasoning(text) => progress(Progress::Reasoning(text)),
                };
                match transport.send(format, &request, &mut on_piece).await {
                    // A refusal or a filtered answer that showed nothing is a failure: the next
                    // model may answer. One that showed text keeps it, with a note.
                    Ok(answer) if refused(&answer, shown) => {
                        let issue = answer.issue().unwrap_or(StopIssue::Refusal);
                        (ProviderError::Stopped(issue), shown, worst)
                    }
                    Ok(answer) => {
                        let cost = answer
                            .usage
                            .map(|u: Usage| cost::price(model, u.input_tokens, u.output_tokens));
                        return Ok(Reply {
                            model: model.id.clone(),
                            provider: model.provider.clone(),
                            note: answer.issue().map(|i| i.to_string()),
                            spent: spent + cost.unwrap_or(worst),
                            answer,
                            cost,
                            estimated_cost: candidate.cost.usd,
                            max_tokens,
                            attempts: fallback.attempts().to_vec(),
                        });
                    }
                    // A provider's words may echo what it was sent: no key is shown or kept.
                    Err(e) => (e.redacted(|text| keys.redact(text)), shown, worst),
                }
            }
        };
        let charged = if error.is_unbilled() { 0.0 } else { worst };
        if error == ProviderError::Cancelled {
            // Stopped mid-call: tokens may have been generated, so it counts as its worst case.
            fallback.failed(&error);
            fallback.charge(worst);
            return Err(AskError::Cancelled(fallback.attempts().to_vec()));
        }
        let next = if shown {
            fallback.interrupted(&error)
        } else {
            fallback.failed(&error)
        };
        fallback.charge(charged);
        spent += charged;
        if let Some(attempt) = fallback.attempts().last() {
            progress(Progress::Failed {
                attempt,
                next: &next,
            });
        }
        if shown {
            return Err(AskError::Interrupted(fallback.attempts().to_vec()));
        }
        match next {
            Next::Retry(pause) => {
                retry += 1;
                // A pause that would end past the deadline is not waited for.
                if let Some(limit) = options.deadline.filter(|d| elapsed() + pause >= *d) {
                    return Err(AskError::Deadline(limit, fallback.attempts().to_vec()));
                }
                transport.sleep(pause).await;
            }
            Next::FallBack(_) | Next::GiveUp => retry = 0,
        }
    }
    Err(AskError::Exhausted(fallback.attempts().to_vec()))
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use std::cell::RefCell;

    use super::*;
    use crate::cost::CostEstimate;

    /// Answers from a script: one result per call, in order.
    struct Scripted {
        results: RefCell<Vec<Result<Answer, ProviderError>>>,
        calls: RefCell<Vec<(String, Option<String>)>>,
        slept: RefCell<Vec<Duration>>,
    }

    impl Transport for Scripted {
        async fn send(
            &self,
            _format: Format,
            request: &ChatRequest,
            on_text: &mut dyn FnMut(Piece<'_>),
        ) -> Result<Answer, ProviderError> {
            let key = request.key.as_ref().map(|k| k.expose().to_string());
            self.calls
                .borrow_mut()
                .push((request.base_url.clone(), key));
            let next = self.results.borrow_mut().remove(0);
            if let Ok(a) = &next {
                on_text(Piece::Text(&a.text));
            }
            next
        }

        async fn sleep(&self, pause: Duration) {
            self.slept.borrow_mut().push(pause);
        }

        async fn list_models(&self, base_url: &str) -> Option<Vec<String>> {
            base_url
                .contains("11434")
                .then(|| vec!["other:7b".to_string(), "c".to_string()])
        }

        /// Only the pauses take time here.
        fn clock(&self) -> Duration {
            self.slept.borrow().iter().sum()
        }
    }

    fn pool() -> Pool {
        let model = |id: &str, provider: &str, base: &str| PoolModel {
            id: id.into(),
            provider: provider.into(),
            api_model: id.into(),
            base_url: base.into(),
            price_in: 1.0,
            price_out: 2.0,
            context_window: 1000,
            latency_ms: 100,
            expected_output_tokens: None,
            ..Default::default()
        };
        Pool {
            expected_output_tokens: 10,
            models: vec![
                model("a", "openai", "https://api.openai.com/v1"),
                model("b", "anthropic", "https://api.anthropic.com/v1"),
                model("c", "local", "http://127.0.0.1:11434/v1"),
            ],
        }
    }

    fn ranked(ids: &[&str]) -> Vec<Candidate> {
        let pool = pool();
        ids.iter()
            .filter_map(|id| pool.model(id))
            .map(|m| Candidate {
                model: m.id.clone(),
                provider: m.provider.clone(),
                quality: 0.5,
                margin: 0.0,
                premium: 0.0,
                cost: CostEstimate {
                    input_tokens: 1,
                    output_tokens: 1,
                    usd: 0.25,
                },
                score: 0.5,
            })
            .collect()
    }

    fn answer(text: &str) -> Answer {
        Answer {
            text: text.into(),
            finish: Some(super::super::Finish::Stop),
            usage: Some(Usage {
                input_tokens: 1000,
                output_tokens: 500,
            }),
            tool_calls: Vec::new(),
            reasoning: String::new(),
        }
    }

    /// Keys for the test pool's two remote providers.
    fn both_keys() -> Keys {
        let mut keys = Keys::new();
        keys.insert("openai", ApiKey::new("sk-a")).unwrap();
        keys.insert("anthropic", ApiKey::new("sk-b")).unwrap();
        keys
    }

    fn run(
        results: Vec<Result<Answer, ProviderError>>,
        ids: &[&str],
    ) -> (Result<Reply, AskError>, Scripted, Vec<String>) {
        let transport = Scripted {
            results: RefCell::new(results),
            calls: RefCell::default(),
            slept: RefCell::default(),
        };
        let mut keys = Keys::new();
        keys.insert("openai", ApiKey::new("sk-a")).unwrap();
        keys.insert("anthropic", ApiKey::new("sk-b")).unwrap();
        let mut seen = Vec::new();
        let reply = futures_executor::block_on(ask(
            &transport,
            &pool(),
            ranked(ids),
            &Conversation::from_prompt("hi"),
            &keys,
            &AskOptions::default(),
            |p| {
                seen.push(match p {
                    Progress::Calling { model, retry } => format!("call {} {retry}", model.model),
                    Progress::Text(t) => format!("text {t}"),
                    Progress::Reasoning(t) => format!("thinking {t}"),
                    Progress::Failed { attempt, next } => {
                        format!("fail {} {next:?}", attempt.model)
                    }
                })
            },
        ));
        (reply, transport, seen)
    }

    /// Shows some text, then fails as a cut stream does.
    struct BreaksOff(RefCell<u32>);

    impl Transport for BreaksOff {
        async fn send(
            &self,
            _format: Format,
            _request: &ChatRequest,
            on_text: &mut dyn FnMut(Piece<'_>),
        ) -> Result<Answer, ProviderError> {
            *self.0.borrow_mut() += 1;
            on_text(Piece::Text("The sky is"));
            Err(ProviderError::InStream("Overloaded".into()))
        }

        async fn sleep(&self, _pause: Duration) {}

        async fn list_models(&self, _base_url: &str) -> Option<Vec<String>> {
            None
        }

        fn clock(&self) -> Duration {
            Duration::ZERO
        }
    }

    #[test]
    fn text_once_shown_is_never_retried_nor_followed_by_another_answer() {
        let transport = BreaksOff(RefCell::new(0));
        let mut seen = Vec::new();
        let reply = futures_executor::block_on(ask(
            &transport,
            &pool(),
            ranked(&["a", "b"]),
            &Conversation::from_prompt("Why is the sky blue?"),
            &both_keys(),
            &AskOptions::default(),
            |p| {
                seen.push(match p {
                    Progress::Calling { model, .. } => format!("call {}", model.model),
                    Progress::Text(t) => format!("text {t}"),
                    Progress::Reasoning(t) => format!("thinking {t}"),
                    Progress::Failed { next, .. } => format!("fail {next:?}"),
                })
            },
        ));
        assert_eq!(*transport.0.borrow(), 1, "one call, no retry, no fallback");
        assert_eq!(seen, ["call a", "text The sky is", "fail GiveUp"]);
        let err = reply.unwrap_err();
        assert!(matches!(err, AskError::Interrupted(ref a) if a.len() == 1));
        assert_eq!(
            err.to_string(),
            "the answer broke off after it had begun: a (the provider stopped with an error: \
             Overloaded)"
        );
    }

    /// How a scripted call ends: the provider bills `bill` × the call's worst case (what it
    /// may really charge), and the call fails with `error`, or succeeds reporting that usage.
    #[derive(Debug, Clone)]
    struct Outcome {
        error: Option<ProviderError>,
        bill: f64,
        shows_text: bool,
    }

    /// Plays outcomes in order and keeps the providers' real bills.
    struct Billing {
        outcomes: RefCell<Vec<Outcome>>,
        pool: Pool,
        prompt: String,
        bills: RefCell<Vec<f64>>,
        worst: RefCell<Vec<f64>>,
    }

    impl Transport for Billing {
        async fn send(
            &self,
            _format: Format,
            request: &ChatRequest,
            on_text: &mut dyn FnMut(Piece<'_>),
        ) -> Result<Answer, ProviderError> {
            let model = (self.pool.models.iter())
                .find(|m| m.api_model == request.api_model)
                .unwrap();
            let worst = cost::worst_case(
                model,
                &Conversation::from_prompt(&self.prompt),
                request.max_tokens,
            );
            self.worst.borrow_mut().push(worst);
            let o = {
                let mut outcomes = self.outcomes.borrow_mut();
                if outcomes.is_empty() {
                    Outcome {
                        error: None,
                        bill: 1.0,
                        shows_text: true,
                    }
                } else {
                    outcomes.remove(0)
                }
            };
            if o.shows_text {
                on_text(Piece::Text("partial"));
            }
            // What the provider may charge: nothing for an HTTP refusal, at most the bound.
            let usage = Usage {
                input_tokens: (cost::worst_input_tokens(&Conversation::from_prompt(&self.prompt))
                    as f64
                    * o.bill) as u64,
                output_tokens: (f64::from(request.max_tokens) * o.bill) as u64,
            };
            let billed = match &o.error {
                Some(e) if e.is_unbilled() => 0.0,
                _ => cost::price(model, usage.input_tokens, usage.output_tokens),
            };
            self.bills.borrow_mut().push(billed);
            match o.error {
                Some(e) => Err(e),
                None => Ok(Answer {
                    text: "partial".into(),
                    finish: Some(super::super::Finish::Stop),
                    usage: Some(usage),
                    tool_calls: Vec::new(),
                    reasoning: String::new(),
                }),
            }
        }

        async fn sleep(&self, _pause: Duration) {}

        async fn list_models(&self, _base_url: &str) -> Option<Vec<String>> {
            None
        }

        fn clock(&self) -> Duration {
            Duration::ZERO
        }
    }

    fn outcome() -> impl proptest::strategy::Strategy<Value = Outcome> {
        use proptest::prelude::*;
        let error = prop_oneof![
            Just(None),
            Just(Some(ProviderError::from_status(500, None, ""))),
            Just(Some(ProviderError::from_status(429, None, ""))),
            Just(Some(ProviderError::Timeout(Duration::from_secs(1)))),
            Just(Some(ProviderError::Network("reset".into()))),
            Just(Some(ProviderError::Malformed("cut".into()))),
        ];
        (error, 0.0..=1.0f64, any::<bool>()).prop_map(|(error, bill, shows_text)| Outcome {
            error,
            bill,
            shows_text,
        })
    }

    proptest::proptest! {
        /// Whatever fails and however often, the providers' real bills for one ask never add
        /// up to more than its cap, nor does what the ask counts.
        #[test]
        fn the_spend_cap_holds_across_retries_and_fallbacks(
            prices in proptest::collection::vec((0.0..50.0f64, 0.0..100.0f64), 1..4),
            prompt in "\\PC{1,400}",
            cap in 0.0..0.2f64,
            max_tokens in 1u32..4096,
            outcomes in proptest::collection::vec(outcome(), 0..12),
        ) {
            let models: Vec<PoolModel> = prices.iter().enumerate().map(|(i, &(pi, po))| PoolModel {
                id: format!("m{i}"),
                provider: "openai".into(),
                api_model: format!("m{i}"),
                base_url: "https://api.openai.com/v1".into(),
                price_in: pi,
                price_out: po,
                context_window: 100_000,
                latency_ms: 1,
                expected_output_tokens: None,
                ..Default::default()
            }).collect();
            let pool = Pool { expected_output_tokens: 10, models };
            let ranked: Vec<Candidate> = pool.models.iter().map(|m| Candidate {
                model: m.id.clone(),
                provider: m.provider.clone(),
                quality: 0.5,
                margin: 0.0,
                premium: 0.0,
                cost: CostEstimate { input_tokens: 1, output_tokens: 1, usd: 0.0 },
                score: 0.5,
            }).collect();
            let transport = Billing {
                outcomes: RefCell::new(outcomes),
                pool: pool.clone(),
                prompt: prompt.clone(),
                bills: RefCell::default(),
                worst: RefCell::default(),
            };
            let options = AskOptions { max_tokens, max_cost: Some(cap), ..AskOptions::default() };
            let reply = futures_executor::block_on(ask(
                &transport, &pool, ranked, &Conversation::from_prompt(&prompt), &both_keys(), &options, |_| {},
            ));
            let billed: f64 = transport.bills.borrow().iter().sum();
            proptest::prop_assert!(billed <= cap + 1e-12, "billed {billed} over the cap {cap}");
            let counted = match &reply {
                Ok(r) => r.spent,
                Err(e) => e.attempts().iter().map(|a| a.cost).sum(),
            };
            proptest::prop_assert!(counted <= cap + 1e-12, "counted {counted} over the cap {cap}");
            proptest::prop_assert!(counted + 1e-12 >= billed, "counted {counted} under billed {billed}");
            for w in transport.worst.borrow().iter() {
                proptest::prop_assert!(*w <= cap + 1e-12);
            }
        }
    }

    #[test]
    fn no_call_starts_and_no_pause_is_waited_past_the_deadline() {
        let server = || ProviderError::from_status(500, None, "");
        let transport = Scripted {
            results: RefCell::new(vec![Err(server()), Err(server()), Ok(answer("late"))]),
            calls: RefCell::default(),
            slept: RefCell::default(),
        };
        let mut keys = Keys::new();
        keys.insert("openai", ApiKey::new("sk-a")).unwrap();
        let options = AskOptions {
            deadline: Some(Duration::from_millis(1200)),
            ..AskOptions::default()
        };
        let reply = futures_executor::block_on(ask(
            &transport,
            &pool(),
            ranked(&["a"]),
            &Conversation::from_prompt("hi"),
            &keys,
            &options,
            |_| {},
        ));
        // Pauses of 0.5 s then 1 s: the second would end past 1.2 s, so it is not waited for.
        let err = reply.unwrap_err();
        assert!(
            matches!(err, AskError::Deadline(_, ref a) if a.len() == 2),
            "{err:?}"
        );
        assert!(
            err.to_string().starts_with("no answer within 1.2s in all"),
            "{err}"
        );
        assert_eq!(transport.calls.borrow().len(), 2);
        assert_eq!(*transport.slept.borrow(), [Duration::from_millis(500)]);
    }

    #[test]
    fn a_thinking_model_gets_its_room_on_top_of_the_answer_limit_within_the_cap() {
        let mut pool = pool();
        pool.models[0].thinking_room = Some(3000);
        pool.models[0].context_window = 100_000;
        let limit_sent = |max_cost: Option<f64>, id: &str| {
            let transport = Scripted {
                results: RefCell::new(vec![Ok(answer("yes"))]),
                calls: RefCell::default(),
                slept: RefCell::default(),
            };
            let options = AskOptions {
                max_tokens: 500,
                max_cost,
                ..AskOptions::default()
            };
            let conversation = Conversation::from_prompt("hi");
            let reply = futures_executor::block_on(ask(
                &transport,
                &pool,
                ranked(&[id]),
                &conversation,
                &both_keys(),
                &options,
                |_| {},
            ))
            .unwrap();
            let model = pool.model(id).unwrap();
            let worst = cost::worst_case(model, &conversation, reply.max_tokens);
            assert!(
                max_cost.is_none_or(|cap| worst <= cap),
                "{worst} over {max_cost:?}"
            );
            reply.max_tokens
        };
        assert_eq!(limit_sent(None, "a"), 3500, "answer limit plus room");
        assert_eq!(
            limit_sent(None, "b"),
            500,
            "no room for a model that does not think"
        );
        // US$0.004 leaves (0.004 − worst input) / US$2 per 1M ≈ 1,980 output tokens.
        let capped = limit_sent(Some(0.004), "a");
        assert!((1900..3500).contains(&capped), "{capped}");
    }

    #[test]
    fn retries_then_falls_back_and_reports_every_step() {
        let server = || ProviderError::from_status(500, None, "");
        let (reply, transport, seen) = run(
            vec![
                Err(server()),
                Err(server()),
                Err(server()),
                Ok(answer("yes")),
            ],
            &["a", "b"],
        );
        let reply = reply.unwrap();
        assert_eq!(
            (reply.model.as_str(), reply.answer.text.as_str()),
            ("b", "yes")
        );
        assert_eq!(reply.cost, Some((1000.0 * 1.0 + 500.0 * 2.0) / 1e6));
        assert_eq!(reply.estimated_cost, 0.25);
        assert_eq!(reply.attempts.len(), 3);
        assert_eq!(
            *transport.slept.borrow(),
            [Duration::from_millis(500), Duration::from_secs(1)]
        );
        let keys: Vec<_> = transport
            .calls
            .borrow()
            .iter()
            .map(|c| c.1.clone())
            .collect();
        assert_eq!(keys[0].as_deref(), Some("sk-a"));
        assert_eq!(
            keys[3].as_deref(),
            Some("sk-b"),
            "each provider gets its own key"
        );
        assert_eq!(seen[0], "call a 0");
        assert_eq!(seen[2], "call a 1");
        assert_eq!(seen[5], "fail a FallBack(1)");
        assert_eq!(seen[6..], ["call b 0", "text yes"]);
    }

    #[test]
    fn stops_at_once_when_cancelled_and_lists_failures_when_exhausted() {
        let (reply, transport, _) = run(vec![Err(ProviderError::Cancelled)], &["a", "b"]);
        let err = reply.unwrap_err();
        assert!(
            matches!(err, AskError::Cancelled(ref a) if a.len() == 1),
            "{err:?}"
        );
        assert_eq!(err.to_string(), "stopped");
        assert_eq!(transport.calls.borrow().len(), 1);

        let refused = ProviderError::from_status(401, None, r#"{"error":{"message":"no"}}"#);
        let (reply, _, _) = run(vec![Err(refused.clone()), Err(refused)], &["a", "b"]);
        let err = reply.unwrap_err();
        assert_eq!(err.attempts().len(), 2);
        assert!(err
            .to_string()
            .starts_with("every model failed: a (the provider refused"));

        let (reply, _, _) = run(Vec::new(), &[]);
        assert_eq!(reply.unwrap_err(), AskError::NoCandidate);
    }

    #[test]
    fn keys_decide_which_providers_can_be_called() {
        let mut keys = Keys::new();
        keys.insert("openai", ApiKey::new("sk-secret")).unwrap();
        keys.insert("anthropic", ApiKey::new("  ")).unwrap();
        // The local server counts once it was turned on and answered a probe, and not before.
        assert_eq!(keys.callable_providers(&pool()), ["openai"]);
        let scripted = Scripted {
            results: RefCell::default(),
            calls: RefCell::default(),
            slept: RefCell::default(),
        };
        futures_executor::block_on(probe_local(&scripted, &pool(), &mut keys));
        assert_eq!(
            keys.callable_providers(&pool()),
            ["openai"],
            "probed while off"
        );
        let err = keys.turn_on_local("https://api.openai.com").unwrap_err();
        assert!(
            err.to_string().contains("not a server on this machine"),
            "{err}"
        );
        keys.turn_on_local("http://127.0.0.1:11434/v1").unwrap();
        assert_eq!(
            keys.callable_providers(&pool()),
            ["openai"],
            "not probed yet"
        );
        futures_executor::block_on(probe_local(&scripted, &pool(), &mut keys));
        assert_eq!(keys.callable_providers(&pool()), ["local", "openai"]);
        let mut silent = Keys::new();
        silent.turn_on_local("http://127.0.0.1:11434").unwrap();
        let none = BreaksOff(RefCell::new(0));
        futures_executor::block_on(probe_local(&none, &pool(), &mut silent));
        assert!(silent.callable_providers(&pool()).is_empty());
        let mut asked = Constraints {
            providers: Some(vec!["anthropic".into(), "openai".into()]),
            ..Constraints::default()
        };
        keys.restrict(&pool(), &mut asked);
        assert_eq!(
            asked.providers.as_deref(),
            Some(&["openai".to_string()][..])
        );
        let mut any = Constraints::default();
        keys.restrict(&pool(), &mut any);
        assert_eq!(
            any.providers.as_deref(),
            Some(&["local".into(), "openai".into()][..])
        );
        assert!(any.exclude.is_empty());
        // A model the server does not list is not called, nor routed to, though its server is.
        let mut more = pool();
        let mut unlisted = more.models[2].clone();
        unlisted.id = "d".into();
        unlisted.api_model = "qwen3:8b".into();
        more.models.push(unlisted);
        assert_eq!(keys.served(&more.models[2]), Some("c"));
        assert!(!keys.can_call(&more.models[3]));
        let mut some = Constraints::default();
        keys.restrict(&more, &mut some);
        assert_eq!(some.exclude, ["d"]);
        assert_eq!(
            format!("{keys:?}"),
            r#"Keys { keys: ["https://api.openai.com"], local: {"http://127.0.0.1:11434"}, answered: ["http://127.0.0.1:11434"] }"#
        );
    }

    #[test]
    fn a_model_no_key_or_turned_on_server_vouches_for_is_never_called() {
        // Ranked by a caller that skipped the filter: b (no Anthropic key here) and c (a local
        // server never turned on) are passed over unbilled; a answers.
        let transport = Scripted {
            results: RefCell::new(vec![Ok(answer("from a"))]),
            calls: RefCell::default(),
            slept: RefCell::default(),
        };
        let mut keys = Keys::new();
        keys.insert("openai", ApiKey::new("sk-a")).unwrap();
        let reply = futures_executor::block_on(ask(
            &transport,
            &pool(),
            ranked(&["b", "c", "a"]),
            &Conversation::from_prompt("hi"),
            &keys,
            &AskOptions::default(),
            |_| {},
        ))
        .unwrap();
        assert_eq!(reply.model, "a");
        let calls = transport.calls.borrow();
        assert_eq!(calls.len(), 1, "{calls:?}");
        assert_eq!(calls[0].0, "https://api.openai.com/v1");
        let why: Vec<&str> = reply.attempts.iter().map(|a| a.error.as_str()).collect();
        assert_eq!(
            why,
            [
                "not called: https://api.anthropic.com has no key bound to it and is not a local server turned on",
                "not called: http://127.0.0.1:11434 has no key bound to it and is not a local server turned on",
            ]
        );
        assert!(reply.attempts.iter().all(|a| a.cost == 0.0));
    }

    #[test]
    fn a_key_goes_only_to_the_origin_it_is_bound_to() {
        let mut keys = Keys::new();
        keys.insert("openai", ApiKey::new(" sk-official ")).unwrap();
        keys.insert("https://llm.example.com:8443", ApiKey::new("sk-custom"))
            .unwrap();
        let key = |url: &str| keys.for_base_url(url).map(|k| k.expose().to_string());
        assert_eq!(
            key("https://api.openai.com/v1").as_deref(),
            Some("sk-official")
        );
        // A pool entry that says "openai" but lives elsewhere gets no OpenAI key.
        assert_eq!(key("https://anything.example/v1"), None);
        assert_eq!(
            key("https://llm.example.com:8443/v1").as_deref(),
            Some("sk-custom")
        );
        assert_eq!(
            key("https://llm.example.com/v1"),
            None,
            "another port, another origin"
        );
        assert_eq!(key("http://127.0.0.1:1@evil.com/v1"), None);

        let err = keys.insert("my-vllm", ApiKey::new("k")).unwrap_err();
        assert!(
            err.to_string()
                .contains("\"my-vllm\" has no official API origin"),
            "{err}"
        );
        let err = keys
            .insert("http://evil.com", ApiKey::new("k"))
            .unwrap_err();
        assert!(err.to_string().contains("plain http"), "{err}");
        let err = keys
            .insert("anthropic", ApiKey::new("sk-ant\u{200b}123"))
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("U+200B at position 7"), "{text}");
        assert!(!text.contains("sk-ant"), "the error shows no key: {text}");
    }
}

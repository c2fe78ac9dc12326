//! Calibration: a model no routing table labels gets its place in the shared space from its
//! graded answers to a probe set. This module sends the probes, grades the answers and keeps
//! the spend within its cap; [`crate::heads`] fits the head from the grades.

use serde::{Deserialize, Serialize};

use crate::bundle::Head;
use crate::card::Card;
use crate::chat::Conversation;
use crate::cost;
use crate::error::{Error, Result};
use crate::heads::{fit_evidence, MeanScore, Prior};
pub use crate::heads::{HeadsFile, HEADS_FORMAT};
use crate::pool::{Pool, PoolModel};
use crate::probe::{grade, ProbeSet};
use crate::provider::{ask, AskOptions, Keys, Transport, DEFAULT_MAX_TOKENS};
use crate::select::Candidate;
use crate::Predictor;

// ---- Sending the probes ----

/// How to calibrate.
#[derive(Debug, Clone)]
pub struct CalibrateOptions {
    /// Probes to send, from the start of the set.
    pub probes: usize,
    /// Most answer tokens per probe (chains of thought need room).
    pub max_tokens: u32,
    /// Most US$ the whole calibration may cost; each probe's worst case must fit what is left.
    pub max_cost: Option<f64>,
    /// Per probe: retries, deadline (as for any ask).
    pub ask: AskOptions,
}

/// Probes a calibration sends when its caller names no number.
pub const DEFAULT_PROBES: usize = 100;

impl Default for CalibrateOptions {
    fn default() -> CalibrateOptions {
        CalibrateOptions {
            probes: DEFAULT_PROBES,
            max_tokens: DEFAULT_MAX_TOKENS,
            max_cost: None,
            ask: AskOptions::default(),
        }
    }
}

/// What `n` probes to `model` are expected to cost, and at most, US$.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CostOutlook {
    /// Probes counted.
    pub probes: usize,
    /// At the pool's expected answer length.
    pub expected: f64,
    /// Every prompt at one token per byte and every answer at the token limit.
    pub worst: f64,
}

/// One probe's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbeResult {
    /// The probe's id.
    pub id: String,
    /// Whether the answer was right; `None` when no answer came.
    pub correct: Option<bool>,
    /// What the probe counts for, US$ (failed calls included).
    pub spent: f64,
    /// Why no answer came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What is happening, for a UI to show.
#[derive(Debug, Clone, PartialEq)]
pub enum Step<'a> {
    /// Probe `index` (from 0) of `total` is being sent.
    Sending {
        /// Its place.
        index: usize,
        /// Probes to send in all.
        total: usize,
    },
    /// It was answered and graded, or failed.
    Done {
        /// Its place.
        index: usize,
        /// The outcome.
        result: &'a ProbeResult,
    },
}

/// The outcome of a calibration: the fitted head and every probe's result.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Calibration {
    /// The model's head in the bundle's space.
    pub head: Head,
    /// The model calibrated, as called: its pool entry (provider, API id, base URL, prices),
    /// so that a heads file also says how to add the model to a pool.
    pub model: PoolModel,
    /// Probes answered right.
    pub correct: usize,
    /// Probes graded.
    pub graded: usize,
    /// US$ spent in all.
    pub spent: f64,
    /// Why it ended before every probe was sent, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// The published scores it started from, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card: Option<Card>,
    /// Each probe's outcome, in the order sent.
    pub results: Vec<ProbeResult>,
}

/// What a heads file keeps of a calibration: enough to fit its head again in another space.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Kept {
    model: PoolModel,
    #[serde(default)]
    spent: f64,
    #[serde(default)]
    stopped: Option<String>,
    #[serde(default)]
    card: Option<Card>,
    #[serde(default)]
    results: Vec<ProbeResult>,
}

/// Fits every head of `file` again in `predictor`'s space from the evidence its calibration
/// kept: the card of published scores, and each graded probe answer, found by id in `set` (the
/// bundle's probe set) and placed where this bundle puts its prompt. No call is made. A probe
/// the set no longer holds is left out, and named in `stopped`; a calibration with no evidence
/// left is an error naming the model.
pub fn refit(predictor: &Predictor, set: &ProbeSet, file: &HeadsFile) -> Result<HeadsFile> {
    let mut done = Vec::new();
    for value in &file.calibrations {
        let kept: Kept = serde_json::from_value(value.clone())
            .map_err(|e| Error::Heads(format!("a calibration cannot be read: {e}")))?;
        let model = kept.model;
        let prior = Prior::for_calibration(predictor.manifest(), &model.id)?;
        let mut graded = Vec::new();
        let mut missing = Vec::new();
        for r in &kept.results {
            let Some(right) = r.correct else { continue };
            match set.probes.iter().find(|p| p.id == r.id) {
                Some(p) => graded.push((predictor.embed(&p.prompt)?.0, right)),
                None => missing.push(r.id.as_str()),
            }
        }
        let scores = match &kept.card {
            Some(card) => {
                card.check()?;
                card.targets(predictor.manifest())?
            }
            None => Vec::new(),
        };
        if graded.is_empty() && scores.is_empty() {
            return Err(Error::Heads(format!(
                "{} kept no evidence this bundle can use (no card, no probe it knows): calibrate \
                 it again",
                model.id
            )));
        }
        let mut head = fit_evidence(&model.id, &prior, &graded, &scores)?;
        head.evidence = Some(crate::bundle::Evidence {
            scores: kept
                .card
                .as_ref()
                .map(|c| c.scores.clone())
                .unwrap_or_default(),
            probes: u32::try_from(graded.len()).unwrap_or(u32::MAX),
            price: None,
        });
        let stopped = match missing.len() {
            0 => kept.stopped,
            n => Some(format!(
                "placed again without {n} probe(s) this bundle no longer has ({})",
                missing.join(", ")
            )),
        };
        done.push(Calibration {
            head,
            correct: graded.iter().filter(|(_, c)| *c).count(),
            graded: graded.len(),
            spent: kept.spent,
            stopped,
            card: kept.card,
            results: kept.results,
            model,
        });
    }
    if done.is_empty() {
        return Err(Error::Heads(
            "the file keeps no calibration to fit again".into(),
        ));
    }
    Ok(HeadsFile::of(predictor, &done))
}

impl Calibration {
    /// `model` placed from a card of its published scores alone, without a call: the head
    /// whose mean prediction over each score's reference prompts matches it, under the prior
    /// of the predictor's other heads (as a [`Plan`] with a card and no probes).
    pub fn from_card(predictor: &Predictor, model: &PoolModel, card: Card) -> Result<Calibration> {
        Pool::from_models(vec![model.clone()])?;
        card_is_of(&card, model)?;
        let head = crate::card::place(predictor.manifest(), &model.id, &card.scores)?;
        Ok(Calibration {
            head,
            model: model.clone(),
            correct: 0,
            graded: 0,
            spent: 0.0,
            stopped: None,
            card: Some(card),
            results: Vec::new(),
        })
    }
}

/// Fails unless the card names `model`, by its pool id or its API id.
fn card_is_of(card: &Card, model: &PoolModel) -> Result<()> {
    if card.model != model.id && card.model != model.api_model {
        return Err(Error::Card(format!(
            "the card is of {:?}, not of {} ({})",
            card.model, model.id, model.api_model
        )));
    }
    Ok(())
}

/// Failed calls in a row after which a calibration stops (a wrong key fails every call).
const FAILURES_IN_A_ROW: usize = 3;

/// A calibration ready to run: the prior, and each probe's message and position, computed
/// before any call so that the run needs the predictor no more (a page's router stays free).
#[derive(Debug, Clone)]
pub struct Plan {
    prior: Prior,
    /// The model alone.
    pool: Pool,
    probes: Vec<Planned>,
    /// A card of published scores, and what its scores stand for in the bundle.
    card: Option<(Card, Vec<MeanScore>)>,
}

#[derive(Debug, Clone)]
struct Planned {
    id: String,
    grading: crate::probe::Grading,
    answer: String,
    message: String,
    z: Vec<f32>,
}

impl Plan {
    /// The first `n` probes of `set` for `model` (a pool entry: provider, API id, base URL,
    /// prices), under the prior of the predictor's heads other than the model's own.
    pub fn new(predictor: &Predictor, set: &ProbeSet, model: &PoolModel, n: usize) -> Result<Plan> {
        let pool = Pool::from_models(vec![model.clone()])?;
        let prior = Prior::for_calibration(predictor.manifest(), &model.id)?;
        let probes = (set.probes.iter().take(n))
            .map(|p| {
                let (z, _, _) = predictor.embed(&p.prompt)?;
                Ok(Planned {
                    id: p.id.clone(),
                    grading: p.grading,
                    answer: p.answer.clone(),
                    message: set.message(p),
                    z,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Plan {
            prior,
            pool,
            probes,
            card: None,
        })
    }

    /// Starts from a card of the model's published scores: the head fits them first and the
    /// probes, if any, sharpen it. With no probes the calibration makes no call at all.
    pub fn with_card(mut self, predictor: &Predictor, card: Card) -> Result<Plan> {
        let model = self.model();
        card_is_of(&card, model)?;
        let targets = card.targets(predictor.manifest())?;
        self.card = Some((card, targets));
        Ok(self)
    }

    /// Probes the plan sends.
    pub fn probes(&self) -> usize {
        self.probes.len()
    }

    /// The model the probes go to.
    pub fn model(&self) -> &PoolModel {
        // `new` built the pool from this one model, and a pool is never empty.
        &self.pool.models[0]
    }

    /// A pool of that model alone.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// What the probes are expected to cost, and at most, with answers up to `max_tokens` (and
    /// the model's room for thinking).
    pub fn outlook(&self, max_tokens: u32) -> CostOutlook {
        let (expected, worst) = self.probes.iter().fold((0.0, 0.0), |(e, w), p| {
            let chars = p.message.chars().count();
            let expected = cost::estimate(&self.pool, self.model(), chars, None).usd;
            (
                e + expected,
                w + cost::worst_case(
                    self.model(),
                    &Conversation::from_prompt(&p.message),
                    self.model().call_limit(max_tokens),
                ),
            )
        });
        CostOutlook {
            probes: self.probes.len(),
            expected,
            worst,
        }
    }

    /// Sends the probes to the model alone (no fallback to any other), grades the answers and
    /// fits its head. It stops early, keeping what was graded, when `stop()` says so, when the
    /// spend cap leaves no room, or after three failed probes in a row; it fails only when
    /// nothing was graded.
    pub async fn run<T: Transport>(
        self,
        transport: &T,
        keys: &Keys,
        options: &CalibrateOptions,
        stop: &dyn Fn() -> bool,
        mut on_step: impl FnMut(Step<'_>),
    ) -> Result<Calibration> {
        let target = self.model();
        let mut graded = Vec::new();
        let mut results = Vec::new();
        let mut spent = 0.0;
        let mut stopped = None;
        let mut failures = 0;
        let total = self.probes.len();
        for (index, probe) in self.probes.iter().enumerate() {
            if stop() {
                stopped = Some("stopped".to_string());
                break;
            }
            on_step(Step::Sending { index, total });
            let candidate = Candidate {
                model: target.id.clone(),
                provider: target.provider.clone(),
                quality: 0.0,
                margin: 0.0,
                premium: 0.0,
                cost: cost::estimate(&self.pool, target, probe.message.chars().count(), None),
                score: 0.0,
            };
            let ask_options = AskOptions {
                max_tokens: options.max_tokens,
                max_cost: options.max_cost.map(|cap| (cap - spent).max(0.0)),
                ..options.ask.clone()
            };
            let outcome = ask(
                transport,
                &self.pool,
                vec![candidate],
                &Conversation::from_prompt(&probe.message),
                keys,
                &ask_options,
                |_| {},
            )
            .await;
            let result = match outcome {
                Ok(reply) => {
                    failures = 0;
                    let correct = grade(probe.grading, &probe.answer, &reply.answer.text);
                    graded.push((probe.z.clone(), correct));
                    ProbeResult {
                        id: probe.id.clone(),
                        correct: Some(correct),
                        spent: reply.spent,
                        error: None,
                    }
                }
                Err(e) => {
                    failures += 1;
                    ProbeResult {
                        id: probe.id.clone(),
                        correct: None,
                        spent: e.attempts().iter().map(|a| a.cost).sum(),
                        error: Some(e.to_string()),
                    }
                }
            };
            spent += result.spent;
            on_step(Step::Done {
                index,
                result: &result,
            });
            let error = result.error.clone();
            results.push(result);
            if stop() {
                stopped = Some("stopped".to_string());
                break;
            }
            if let Some(error) = error {
                let over_cap = options.max_cost.is_some_and(|cap| cap - spent <= 0.0);
                if failures >= FAILURES_IN_A_ROW || over_cap {
                    stopped = Some(format!(
                        "{failures} probe(s) in a row failed; the last: {error}"
                    ));
                    break;
                }
            }
        }
        let (card, scores) = match &self.card {
            Some((card, scores)) => (Some(card.clone()), &scores[..]),
            None => (None, &[][..]),
        };
        if graded.is_empty() && card.is_none() {
            let why = stopped.unwrap_or_else(|| "no probe was sent".into());
            return Err(Error::Heads(format!(
                "no probe was graded for {}: {why}",
                target.id
            )));
        }
        let correct = graded.iter().filter(|(_, c)| *c).count();
        let mut head = fit_evidence(&target.id, &self.prior, &graded, scores)?;
        head.evidence = Some(crate::bundle::Evidence {
            scores: card.as_ref().map(|c| c.scores.clone()).unwrap_or_default(),
            probes: u32::try_from(graded.len()).unwrap_or(u32::MAX),
            price: None,
        });
        Ok(Calibration {
            head,
            model: target.clone(),
            correct,
            graded: graded.len(),
            spent,
            stopped,
            card,
            results,
        })
    }
}

impl HeadsFile {
    /// A heads file holding calibrations made with `predictor`.
    pub fn of(predictor: &Predictor, calibrations: &[Calibration]) -> HeadsFile {
        HeadsFile::with_encoder(predictor.manifest().encoder.sha256.clone(), calibrations)
    }

    /// A heads file holding calibrations made in the space of the encoder of this digest.
    pub fn with_encoder(encoder: String, calibrations: &[Calibration]) -> HeadsFile {
        HeadsFile {
            format: HEADS_FORMAT.into(),
            encoder,
            heads: calibrations.iter().map(|c| c.head.clone()).collect(),
            calibrations: calibrations
                .iter()
                .map(|c| {
                    let mut v = serde_json::to_value(c).unwrap_or_default();
                    if let Some(o) = v.as_object_mut() {
                        o.remove("head");
                    }
                    v
                })
                .collect(),
        }
    }
}

//! The router: a predictor, a pool and the pool's budget curve, ready to route prompts.

use serde::{Deserialize, Serialize};

use crate::batch::{self, BatchPlan};
use crate::bundle::Head;
use crate::chat::Conversation;
use crate::cost;
use crate::error::{Error, Result};
use crate::exclusion::{Exclusion, Exclusions};
use crate::explain::{self, Rule};
use crate::heads::{price_index, HeadsFile, HEADS_FORMAT};
use crate::pool::{Pool, PoolModel};
use crate::predictor::{Estimate, ModelQuality, Prediction, Predictor};
use crate::select::{self, BudgetCurve, Candidate, Constraints, Margin};

/// How to trade quality for cost on one request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RouteOptions {
    /// Target average spend, in US$ per 1,000 requests. By default none: the best predicted
    /// quality wins whatever it costs.
    #[serde(default)]
    pub budget: Option<f64>,
    /// Use this λ (quality per US$) instead of deriving one from `budget`.
    #[serde(default)]
    pub lambda: Option<f64>,
    /// Least predicted quality (the chance of a good answer less its margin, 0–1) the chosen
    /// model must reach: the cheapest that does, or the budget's choice when it does. When
    /// none does, the request fails naming the closest instead of going out.
    #[serde(default)]
    pub min_quality: Option<f64>,
    /// Most US$ one request may cost in all, retries and fallbacks included: a call (`ask`,
    /// the SDK adapters, `routoo ask`) holds each call's worst case under what is left, and
    /// routing leaves it to them. `constraints.max_cost_per_request` bounds the estimate.
    #[serde(default)]
    pub max_cost: Option<f64>,
    /// Put the models on this machine first, in the order the other rules rank them; the
    /// others stay as fallbacks.
    #[serde(default)]
    pub prefer_local: Option<bool>,
    /// Hard limits on this request.
    #[serde(default, flatten)]
    pub constraints: Constraints,
}

impl RouteOptions {
    /// These options with `over`'s where `over` sets them (a request's policy over a default).
    pub fn overridden_by(self, over: RouteOptions) -> RouteOptions {
        let (c, o) = (self.constraints, over.constraints);
        RouteOptions {
            budget: over.budget.or(self.budget),
            lambda: over.lambda.or(self.lambda),
            min_quality: over.min_quality.or(self.min_quality),
            max_cost: over.max_cost.or(self.max_cost),
            prefer_local: over.prefer_local.or(self.prefer_local),
            constraints: Constraints {
                max_cost_per_request: o.max_cost_per_request.or(c.max_cost_per_request),
                max_latency_ms: o.max_latency_ms.or(c.max_latency_ms),
                providers: o.providers.or(c.providers),
                models: o.models.or(c.models),
                exclude: if o.exclude.is_empty() {
                    c.exclude
                } else {
                    o.exclude
                },
                needs: if o.needs.is_empty() { c.needs } else { o.needs },
            },
        }
    }

    /// Fails on a spend cap that is not a US$ amount.
    pub fn validate(&self) -> Result<()> {
        match self.max_cost {
            Some(c) if !c.is_finite() || c < 0.0 => Err(Error::InvalidOption {
                name: "maxCost",
                value: c.to_string(),
                reason: "US$ per request, 0 or more",
            }),
            _ => Ok(()),
        }
    }
}

/// The router's answer for one prompt.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    /// The model to call.
    pub choice: Candidate,
    /// Every allowed model, best first (the choice is the first); fall back down this list.
    pub ranked: Vec<Candidate>,
    /// Models the request's constraints ruled out, and why.
    pub excluded: Vec<Exclusion>,
    /// λ used, in quality per US$.
    pub lambda: f64,
    /// The budget asked for, in US$ per 1,000 requests.
    pub budget: Option<f64>,
    /// The minimum predicted quality asked for.
    pub min_quality: Option<f64>,
    /// The rule that picked the choice. With the choice, the runner-up (`ranked[1]`), λ and
    /// `excluded`, this is the route's reason; `why` says it in one sentence.
    pub rule: Rule,
    /// Why this model, in one plain sentence built from the figures above.
    pub why: String,
    /// Expected mean spend at this λ on the reference prompts, US$ per 1,000 requests.
    pub expected_cost_per_1k: f64,
    /// Tokens the encoder read.
    pub tokens: usize,
    /// True when the prompt was cut to the encoder's `max_tokens` before predicting.
    pub truncated: bool,
}

/// What a pool model's estimate rests on, as a user should be told it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Basis {
    /// Its own head, trained on the labels of these routing tables.
    Labels {
        /// Table names (file stems).
        tables: Vec<String>,
        /// Labelled rows.
        rows: u32,
    },
    /// Its own head, placed from published scores, graded probes or both.
    Evidence {
        /// The scores, each with its source and date.
        scores: Vec<crate::card::Score>,
        /// Probes graded.
        probes: u32,
    },
    /// An average model at its price: the prior, its level read off the labelled models'
    /// prices ([`crate::heads::Prior::at_price`]). Nothing is known of the model itself.
    Price {
        /// Its price index, US$ per 1M input tokens plus four times per 1M output tokens.
        index: f64,
    },
    /// The head of another model it is said to be like.
    Like {
        /// That model.
        model: String,
        /// The tables that labelled it (file stems; empty when its head does not say).
        tables: Vec<String>,
        /// The domains those labels cover (empty when its head does not say).
        domains: Vec<String>,
        /// Outside them, the share of its head's logit the estimate keeps; the rest is an
        /// average model's ([`crate::bundle::TransferSpec`]). `None` where it is kept whole.
        keeps: Option<f64>,
    },
    /// An average model's (the prior): nothing is known of this one.
    Prior,
    /// Its own head, which states nothing of how it was fitted (an older heads file).
    Unstated,
}

impl std::fmt::Display for Basis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Basis::Labels { tables, rows } => {
                write!(f, "labels: {rows} rows of {}", tables.join(", "))
            }
            Basis::Evidence { scores, probes } => {
                let mut parts = Vec::new();
                if !scores.is_empty() {
                    let mut dates: Vec<&str> = scores.iter().map(|s| s.date.as_str()).collect();
                    dates.sort_unstable();
                    let names: Vec<String> = scores
                        .iter()
                        .map(|s| match &s.subject {
                            Some(sub) => format!("{} ({sub})", s.benchmark),
                            None => s.benchmark.clone(),
                        })
                        .collect();
                    parts.push(format!(
                        "card: {} published up to {}",
                        names.join(", "),
                        dates.last().copied().unwrap_or_default()
                    ));
                }
                if *probes > 0 {
                    parts.push(format!("{probes} probes"));
                }
                if parts.is_empty() {
                    parts.push("no evidence".into());
                }
                write!(f, "{}", parts.join(" + "))
            }
            Basis::Price { index } => write!(
                f,
                "prior at its price (an average model at US${index} per 1M in + 4 out)"
            ),
            Basis::Like {
                model,
                tables,
                keeps,
                ..
            } => {
                match tables.as_slice() {
                    [] => write!(f, "like {model}"),
                    [one] => write!(f, "like {model} (labelled on {one} only"),
                    many => write!(f, "like {model} (labelled on {}", many.join(", ")),
                }?;
                match (tables.is_empty(), keeps) {
                    (true, _) => Ok(()),
                    (false, None) => write!(f, ")"),
                    (false, Some(w)) => write!(
                        f,
                        "; elsewhere {:.0} % its level, {:.0} % an average model's)",
                        100.0 * w,
                        100.0 * (1.0 - w)
                    ),
                }
            }
            Basis::Prior => write!(f, "prior alone (an average model)"),
            Basis::Unstated => write!(f, "own head (basis not stated)"),
        }
    }
}

/// A predictor bound to a pool.
#[derive(Debug)]
pub struct Router {
    predictor: Predictor,
    pool: Pool,
    /// Index of each pool model's head in the predictor's output.
    heads: Vec<usize>,
    margin: Margin,
    curve: BudgetCurve,
    /// Models whose head this router placed from the pool's published scores.
    placed: std::collections::HashSet<String>,
    /// The last budget curve of a part of the pool (the models a request's constraints left),
    /// by the pool indices it was traced over.
    part: std::sync::Mutex<Option<(Vec<usize>, BudgetCurve)>>,
}

/// Heads for the pool models that have published scores and no head of their own (labels, or
/// a calibration a user added), placed from those scores; a head placed from an earlier
/// pool's scores is placed again when they changed.
fn placements(
    predictor: &Predictor,
    pool: &Pool,
    placed: &std::collections::HashSet<String>,
) -> Result<Vec<Head>> {
    let manifest = predictor.manifest();
    let (scored, priced): (Vec<&PoolModel>, Vec<&PoolModel>) = (pool.models.iter())
        .filter(|m| !m.scores.is_empty() || m.uncalibrated)
        .filter(|m| match manifest.heads.iter().find(|h| h.id == m.id) {
            None => true,
            Some(h) => placed.contains(&m.id) && h.evidence != Some(evidence_of(m)),
        })
        .partition(|m| !m.scores.is_empty());
    let mut heads: Vec<Head> = (scored.into_iter())
        .map(|m| crate::card::place(manifest, &m.id, &m.scores))
        .collect::<Result<_>>()?;
    if priced.is_empty() {
        return Ok(heads);
    }
    // Prices of the labelled models: the shipped pool's list prices, under this pool's own.
    let mut prices: std::collections::HashMap<&str, f64> = std::collections::HashMap::new();
    let shipped = Pool::default_pool().unwrap_or_else(|_| pool.clone());
    for m in shipped.models.iter().chain(&pool.models) {
        prices.insert(m.id.as_str(), price_index(m.price_in, m.price_out));
    }
    let labelled: Vec<&Head> = (manifest.heads.iter())
        .filter(|h| h.labels.is_some())
        .collect();
    let prior = crate::heads::Prior::from_heads(&labelled)?;
    for m in priced {
        let price = price_index(m.price_in, m.price_out);
        // Without priced labelled models to read a price off, an unplaced model stays the
        // shared prior's.
        let Some(at) = prior.at_price(&labelled, |id| prices.get(id).copied(), price) else {
            continue;
        };
        let mut head = at.head(&m.id);
        head.evidence = Some(evidence_of(m));
        heads.push(head);
    }
    Ok(heads)
}

/// The evidence a model placed from the pool alone rests on: its published scores, or, with
/// none, its price.
fn evidence_of(m: &PoolModel) -> crate::bundle::Evidence {
    crate::bundle::Evidence {
        scores: m.scores.clone(),
        probes: 0,
        price: (m.scores.is_empty()).then(|| price_index(m.price_in, m.price_out)),
    }
}

/// Adds the heads the pool places (from published scores, or at a price), and notes their
/// models in `placed`.
fn place_scored(
    predictor: &mut Predictor,
    pool: &Pool,
    placed: &mut std::collections::HashSet<String>,
) -> Result<()> {
    let heads = placements(predictor, pool, placed)?;
    if heads.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = heads.iter().map(|h| h.id.clone()).collect();
    predictor.add_heads(&HeadsFile {
        format: HEADS_FORMAT.into(),
        encoder: predictor.manifest().encoder.sha256.clone(),
        heads,
        calibrations: Vec::new(),
    })?;
    placed.extend(ids);
    Ok(())
}

/// What binding a predictor to a pool derives: each pool model's head index, the selector's
/// margin and the pool's budget curve on the reference prompts.
fn bind(predictor: &Predictor, pool: &Pool) -> Result<(Vec<usize>, Margin, BudgetCurve)> {
    let heads = head_indices(predictor, pool)?;
    let reference = reference_estimates(predictor, &heads);
    let margin =
        margin_over(predictor, pool, &heads, &reference).with_unknown(unknown(predictor, &heads));
    let chars = &predictor.manifest().reference.chars;
    let curve = BudgetCurve::trace(pool, chars, &reference, &margin);
    Ok((heads, margin, curve))
}

/// The margin over `pool` (its heads, their reference estimates): κ, the floors, the lead by
/// the labels, the mean costs that choose the incumbent at each trade-off and the cost
/// estimate's resolution.
fn margin_over(
    predictor: &Predictor,
    pool: &Pool,
    heads: &[usize],
    reference: &[Vec<Estimate>],
) -> Margin {
    let manifest = predictor.manifest();
    Margin::over(manifest.selection.margin, reference)
        .with_floors(floors(predictor, heads))
        .with_lead(lead(predictor, heads))
        .with_costs(mean_costs(pool, &manifest.reference.chars, reference))
        .with_cost_margin(manifest.selection.cost_margin)
}

/// Each pool model's mean estimated US$ per request over the reference prompts (`chars`,
/// `reference[prompt][model]`), in pool order.
fn mean_costs(pool: &Pool, chars: &[usize], reference: &[Vec<Estimate>]) -> Vec<f64> {
    let n = reference.len().max(1) as f64;
    (pool.models.iter().enumerate())
        .map(|(m, model)| {
            (chars.iter().zip(reference))
                .map(|(&c, es)| cost::estimate(pool, model, c, es[m].billing).usd)
                .sum::<f64>()
                / n
        })
        .collect()
}

/// Which of these heads stand for a model known only by the prior: the prior itself, or a
/// head placed at a price with no evidence of the model's own.
fn unknown(predictor: &Predictor, heads: &[usize]) -> Vec<bool> {
    let manifest = predictor.manifest();
    (heads.iter())
        .map(|&h| match manifest.heads.get(h) {
            None => true,
            Some(head) => head
                .evidence
                .as_ref()
                .is_some_and(|e| e.price.is_some() && e.scores.is_empty() && e.probes == 0),
        })
        .collect()
}

/// Each pair's floor from the manifest, `[challenger][incumbent]` over these heads; none for a
/// head the training did not see (added later, or the prior).
fn floors(predictor: &Predictor, heads: &[usize]) -> Vec<Vec<f64>> {
    let floors = &predictor.manifest().selection.floors;
    if floors.is_empty() {
        return Vec::new();
    }
    by_pair(predictor, heads, |m, b| floors.get(b)?.get(m).copied())
        .into_iter()
        .map(|row| row.into_iter().map(|f| f.unwrap_or(0.0)).collect())
        .collect()
}

/// Each pair's lead by the labels from the manifest, `[m][b]` over these heads; none for a
/// head the training did not see.
fn lead(predictor: &Predictor, heads: &[usize]) -> Vec<Vec<Option<f64>>> {
    let selection = &predictor.manifest().selection;
    if selection.lead.is_empty() {
        return Vec::new();
    }
    by_pair(predictor, heads, |m, b| selection.lead(m, b))
}

/// `value(m, b)` for each pair of these heads' model ids, `[m][b]`.
fn by_pair<T>(
    predictor: &Predictor,
    heads: &[usize],
    value: impl Fn(&str, &str) -> Option<T>,
) -> Vec<Vec<Option<T>>> {
    let manifest = predictor.manifest();
    let id = |h: usize| manifest.heads.get(h).map(|head| head.id.as_str());
    (heads.iter())
        .map(|&m| {
            (heads.iter())
                .map(|&b| id(m).zip(id(b)).and_then(|(m, b)| value(m, b)))
                .collect()
        })
        .collect()
}

/// The reference prompts' estimates for the given heads: `[prompt][model]`.
fn reference_estimates(predictor: &Predictor, heads: &[usize]) -> Vec<Vec<Estimate>> {
    (predictor.reference().iter())
        .map(|p| heads.iter().map(|&h| p[h]).collect())
        .collect()
}

/// Index of each pool model's estimate in the predictor's output: its own head, the head it
/// borrows (`like`), or the prior (`uncalibrated`); fails on a model that has none of these.
fn head_indices(predictor: &Predictor, pool: &Pool) -> Result<Vec<usize>> {
    let manifest = predictor.manifest();
    let find = |id: &str| manifest.heads.iter().position(|h| h.id == id);
    let known = || {
        (manifest.heads.iter())
            .map(|h| h.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    pool.models
        .iter()
        .map(|m| {
            if let Some(h) = find(&m.id) {
                return Ok(h);
            }
            if let Some(like) = &m.like {
                return find(like).ok_or_else(|| Error::MissingHead {
                    model: format!("{} (like {like})", m.id),
                    known: known(),
                });
            }
            match (m.uncalibrated, predictor.prior_index()) {
                (true, Some(prior)) => Ok(prior),
                _ => Err(Error::MissingHead {
                    model: m.id.clone(),
                    known: known(),
                }),
            }
        })
        .collect()
}

impl Router {
    /// Binds a predictor to a pool, placing the models that have published scores and no head
    /// from those scores; fails if a pool model has no head.
    pub fn new(mut predictor: Predictor, pool: Pool) -> Result<Router> {
        let mut placed = std::collections::HashSet::new();
        place_scored(&mut predictor, &pool, &mut placed)?;
        let (heads, margin, curve) = bind(&predictor, &pool)?;
        Ok(Router {
            predictor,
            pool,
            heads,
            margin,
            curve,
            placed,
            part: std::sync::Mutex::new(None),
        })
    }

    /// Routes over another pool from now on (models toggled, prices edited). On error the
    /// router keeps its pool (a head placed from the new pool's scores may stay: it is used by
    /// no pool that lacks its model).
    pub fn set_pool(&mut self, pool: Pool) -> Result<()> {
        place_scored(&mut self.predictor, &pool, &mut self.placed)?;
        let (heads, margin, curve) = bind(&self.predictor, &pool)?;
        self.pool = pool;
        self.heads = heads;
        self.margin = margin;
        self.curve = curve;
        if let Ok(mut part) = self.part.lock() {
            *part = None;
        }
        Ok(())
    }

    /// Adds or replaces heads (a calibration's; see [`Predictor::add_heads`]); the budget
    /// curve and margin follow. A file that does not fit changes nothing.
    pub fn add_heads(&mut self, file: &HeadsFile) -> Result<()> {
        self.predictor.add_heads(file)?;
        // A user's head stands over one placed from the pool's scores.
        for h in &file.heads {
            self.placed.remove(&h.id);
        }
        // Heads are replaced in place or appended, so the pool's head indices stay valid even
        // if this failed; it cannot, as no head was removed.
        self.set_pool(self.pool.clone())
    }

    /// At most `k` models of the pool that together give the most expected accuracy at
    /// `budget` US$ per 1,000 requests on the bundle's reference prompts, and what each adds
    /// ([`crate::suggest`]).
    pub fn suggest_pool(&self, budget: f64, k: usize) -> Result<crate::suggest::Suggestion> {
        let estimates = reference_estimates(&self.predictor, &self.heads);
        let prompts = crate::suggest::Prompts {
            pool: &self.pool,
            chars: &self.predictor.manifest().reference.chars,
            estimates: &estimates,
            kappa: self.margin.kappa,
        };
        crate::suggest::suggest(prompts, budget, k)
    }

    /// The predictor.
    pub fn predictor(&self) -> &Predictor {
        &self.predictor
    }

    /// The pool.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The pool's budget curve.
    pub fn curve(&self) -> &BudgetCurve {
        &self.curve
    }

    /// The margin the selector applies over this router's pool.
    pub fn margin(&self) -> &Margin {
        &self.margin
    }

    /// The margin the selector would apply over another pool of this predictor's models (as
    /// `routoo eval` needs for the models it evaluates), at each trade-off keeping the model
    /// best there by their mean costs at the router's prices.
    pub fn margin_for(&self, pool: &Pool) -> Result<Margin> {
        let heads = head_indices(&self.predictor, pool)?;
        let reference = reference_estimates(&self.predictor, &heads);
        Ok(margin_over(&self.predictor, pool, &heads, &reference))
    }

    /// Predicted quality of every head for a prompt.
    pub fn predict(&self, prompt: &str) -> Result<Prediction> {
        self.predictor.predict(prompt)
    }

    /// Chooses a model for a prompt.
    pub fn route(&self, prompt: &str, options: &RouteOptions) -> Result<Decision> {
        let prediction = self.predictor.predict(prompt)?;
        self.decide(&prediction, options)
    }

    /// Predicted quality of every head for the conversation's next answer: the predictor reads
    /// [`Conversation::routing_text`] (the last user turn first), and the cost estimates count
    /// every turn sent.
    pub fn predict_conversation(&self, conversation: &Conversation) -> Result<Prediction> {
        let mut prediction = self.predictor.predict(&conversation.routing_text())?;
        prediction.chars = conversation.chars();
        prediction.needs = conversation.needs();
        Ok(prediction)
    }

    /// Chooses a model for the conversation's next answer.
    pub fn route_conversation(
        &self,
        conversation: &Conversation,
        options: &RouteOptions,
    ) -> Result<Decision> {
        self.decide(&self.predict_conversation(conversation)?, options)
    }

    /// Chooses a model given a prediction made earlier.
    pub fn decide(&self, prediction: &Prediction, options: &RouteOptions) -> Result<Decision> {
        options.validate()?;
        options.constraints.validate(&self.pool)?;
        let curve = self.curve_for(&options.constraints);
        let lambda = self.lambda(options, &curve)?;
        let estimates = self.estimates(prediction);
        let constraints = Constraints {
            needs: prediction.needs.clone(),
            ..options.constraints.clone()
        };
        let (ranked, excluded) = select::rank(
            &self.pool,
            &estimates,
            prediction.chars,
            lambda,
            &self.margin,
            &constraints,
        );
        let budgeted = options.budget.is_some() || options.lambda.is_some();
        let (ranked, excluded, rule) = match options.min_quality {
            None if budgeted => (ranked, excluded, Rule::Budget),
            None => (ranked, excluded, Rule::Best),
            Some(min) if !(0.0..=1.0).contains(&min) => {
                return Err(Error::InvalidOption {
                    name: "minQuality",
                    value: min.to_string(),
                    reason: "a predicted chance, 0 to 1",
                })
            }
            Some(min) => {
                // The budget's choice stands when it reaches the minimum.
                let stands = budgeted && ranked.first().is_some_and(|c| c.value() >= min);
                let (ranked, excluded) = select::at_least(ranked, excluded, min, stands)?;
                let rule = if stands {
                    Rule::BudgetAbove { min }
                } else {
                    Rule::CheapestAbove { min }
                };
                (ranked, excluded, rule)
            }
        };
        let (ranked, rule) = match options.prefer_local {
            Some(true) => self.local_first(ranked, rule),
            _ => (ranked, rule),
        };
        let Some(choice) = ranked.first().cloned() else {
            return Err(Error::NoCandidate(Exclusions(excluded)));
        };
        let expected_cost_per_1k = curve
            .points
            .iter()
            .take_while(|p| p.lambda <= lambda)
            .last()
            .map_or(0.0, |p| p.cost_per_1k);
        let why = explain::sentence(rule, lambda, &choice, ranked.get(1), &excluded);
        Ok(Decision {
            choice,
            ranked,
            excluded,
            lambda,
            budget: options.budget,
            min_quality: options.min_quality,
            rule,
            why,
            expected_cost_per_1k,
            tokens: prediction.tokens,
            truncated: prediction.truncated,
        })
    }

    /// `ranked` with the models on this machine first, each part in its order; the rule is
    /// [`Rule::Local`] when that changes the choice.
    fn local_first(&self, ranked: Vec<Candidate>, rule: Rule) -> (Vec<Candidate>, Rule) {
        let is_local = |c: &Candidate| {
            (self.pool.model(&c.model)).is_some_and(|m| crate::endpoint::is_loopback(&m.base_url))
        };
        let changed = ranked.first().is_some_and(|c| !is_local(c)) && ranked.iter().any(is_local);
        let (mut local, remote): (Vec<Candidate>, Vec<Candidate>) =
            ranked.into_iter().partition(is_local);
        local.extend(remote);
        (local, if changed { Rule::Local } else { rule })
    }

    /// Chooses a model for each prompt so that the batch's estimated spend stays within
    /// `budget_total` US$ and its expected accuracy is as high as the plan can make it.
    pub fn route_batch(
        &self,
        prompts: &[&str],
        budget_total: f64,
        constraints: &Constraints,
    ) -> Result<BatchPlan> {
        let predictions = prompts
            .iter()
            .enumerate()
            .map(|(index, p)| {
                self.predictor.predict(p).map_err(|e| Error::BatchItem {
                    index,
                    source: Box::new(e),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        self.plan_batch(&predictions, budget_total, constraints)
    }

    /// [`Router::route_batch`] given predictions made earlier.
    pub fn plan_batch(
        &self,
        predictions: &[Prediction],
        budget_total: f64,
        constraints: &Constraints,
    ) -> Result<BatchPlan> {
        constraints.validate(&self.pool)?;
        let candidates = predictions
            .iter()
            .enumerate()
            .map(|(index, prediction)| {
                let estimates = self.estimates(prediction);
                let (ranked, excluded) = select::rank(
                    &self.pool,
                    &estimates,
                    prediction.chars,
                    0.0,
                    &self.margin,
                    constraints,
                );
                if ranked.is_empty() {
                    return Err(Error::BatchItem {
                        index,
                        source: Box::new(Error::NoCandidate(Exclusions(excluded))),
                    });
                }
                Ok(ranked)
            })
            .collect::<Result<Vec<_>>>()?;
        batch::plan(&candidates, budget_total)
    }

    /// Each pool model's estimate for a prediction, in pool order: its own head's, the head it
    /// borrows, or the prior's for an uncalibrated model.
    pub fn pool_estimates(&self, prediction: &Prediction) -> Vec<ModelQuality> {
        (self.pool.models.iter())
            .zip(self.estimates(prediction))
            .map(|(m, e)| ModelQuality {
                model: m.id.clone(),
                quality: e.quality,
                sd: e.sd,
                billing: e.billing,
            })
            .collect()
    }

    /// What each pool model's estimate rests on, in pool order.
    pub fn bases(&self) -> Vec<Basis> {
        let manifest = self.predictor.manifest();
        let prior = self.predictor.prior_index();
        (self.pool.models.iter())
            .zip(&self.heads)
            .map(|(m, &h)| match manifest.heads.get(h) {
                None if Some(h) == prior => Basis::Prior,
                None => Basis::Unstated,
                Some(head) if head.id != m.id => Basis::Like {
                    model: head.id.clone(),
                    tables: (head.labels.as_ref()).map_or_else(Vec::new, |l| l.tables.clone()),
                    domains: (head.labels.as_ref()).map_or_else(Vec::new, |l| l.domains.clone()),
                    keeps: self.predictor.keeps(h),
                },
                Some(head) => match (&head.labels, &head.evidence) {
                    (_, Some(e)) if e.scores.is_empty() && e.probes == 0 && e.price.is_some() => {
                        Basis::Price {
                            index: e.price.unwrap_or_default(),
                        }
                    }
                    (_, Some(e)) => Basis::Evidence {
                        scores: e.scores.clone(),
                        probes: e.probes,
                    },
                    (Some(l), None) => Basis::Labels {
                        tables: l.tables.clone(),
                        rows: l.rows,
                    },
                    (None, None) => Basis::Unstated,
                },
            })
            .collect()
    }

    /// The estimate for each pool model, in pool order. A model that borrows another's head
    /// borrows its quality, not how the routing data billed it.
    fn estimates(&self, prediction: &Prediction) -> Vec<Estimate> {
        let prior = self.predictor.prior_index();
        (self.heads.iter().zip(&self.pool.models))
            .map(|(&h, model)| match prediction.quality.get(h) {
                Some(q) => Estimate {
                    quality: q.quality,
                    sd: q.sd,
                    billing: q.billing.filter(|_| q.model == model.id),
                },
                None if Some(h) == prior => prediction.uncalibrated.unwrap_or_default(),
                None => Estimate::default(),
            })
            .collect()
    }

    /// The budget curve of the models `constraints` leave (their providers, less those they
    /// exclude): a budget buys what those models can give, not what others could. The pool's
    /// own when they leave every model, or none.
    fn curve_for(&self, constraints: &Constraints) -> std::borrow::Cow<'_, BudgetCurve> {
        use std::borrow::Cow;
        let keep: Vec<usize> = (0..self.pool.models.len())
            .filter(|&i| {
                let m = &self.pool.models[i];
                (constraints.providers.as_ref()).is_none_or(|p| p.contains(&m.provider))
                    && !constraints.exclude.contains(&m.id)
            })
            .collect();
        if keep.is_empty() || keep.len() == self.pool.models.len() {
            return Cow::Borrowed(&self.curve);
        }
        if let Ok(part) = self.part.lock() {
            if let Some((_, curve)) = part.as_ref().filter(|(at, _)| *at == keep) {
                return Cow::Owned(curve.clone());
            }
        }
        let pool = Pool {
            expected_output_tokens: self.pool.expected_output_tokens,
            models: keep.iter().map(|&i| self.pool.models[i].clone()).collect(),
        };
        let heads: Vec<usize> = keep.iter().map(|&i| self.heads[i]).collect();
        let reference = reference_estimates(&self.predictor, &heads);
        let chars = &self.predictor.manifest().reference.chars;
        // The margin as it stands, each kept model with its own reference average.
        let margin = self.margin.subset(&keep);
        let curve = BudgetCurve::trace(&pool, chars, &reference, &margin);
        if let Ok(mut part) = self.part.lock() {
            *part = Some((keep, curve.clone()));
        }
        Cow::Owned(curve)
    }

    fn lambda(&self, options: &RouteOptions, curve: &BudgetCurve) -> Result<f64> {
        match (options.budget, options.lambda) {
            (Some(_), Some(_)) => Err(Error::InvalidOption {
                name: "lambda",
                value: "given with budget".into(),
                reason: "give a budget or a lambda, not both",
            }),
            (Some(b), None) if !b.is_finite() || b < 0.0 => Err(Error::InvalidOption {
                name: "budget",
                value: b.to_string(),
                reason: "US$ per 1,000 requests, 0 or more",
            }),
            (Some(b), None) => Ok(curve.lambda_for(b)),
            (None, Some(l)) if !l.is_finite() || l < 0.0 => Err(Error::InvalidOption {
                name: "lambda",
                value: l.to_string(),
                reason: "quality per US$, 0 or more",
            }),
            (None, Some(l)) => Ok(l),
            (None, None) => Ok(0.0),
        }
    }
}

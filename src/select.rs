//! Cost-aware selection: argmax of quality − margin − λ·cost over the models a request allows.
//!
//! The margin is what a model gives up for the predictor's uncertainty: every model but the
//! incumbent must beat it by κ standard deviations of the predicted difference, so the router
//! leaves a strong default only when it is sure. The incumbent is the model ahead of the most
//! others: by the training labels where they compared two models (`selection.lead`), else by
//! the mean prediction on the reference prompts. Given the models' mean costs
//! ([`Margin::with_costs`]), each comparison is made at the trade-off λ, in quality less λ
//! times mean cost, so at every budget the default is the single model best there. The
//! budget curve judges every point against the top incumbent, one scale, and keeps only the
//! points no cheaper one beats ([`BudgetCurve`]); one prompt can still go to a cheaper model at
//! a larger budget, when the dearer default there is surely beaten by it.
//!
//! A pair's floor (fitted on out-of-fold predictions, `selection.floors`) then discounts a
//! challenger's predicted gain over that model, never below it: the sd covers the head's own
//! uncertainty, the floor what the predictor overstates for that pair.
//!
//! What that guarantees, when each prediction lies within its stated sd of the truth (tested on
//! tables with known answers, `tests/select.rs`): at λ = 0 with κ ≥ √2 the router never picks a
//! model truly worse than that default; and at any single model m's cost the budget curve,
//! mixing neighbouring λ, is at most mean(sd_m + margin_m) + mean(largest sd) below m. Where
//! predictions stray further than their sd, as across tables they do, no such bound holds.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::cost::{self, CostEstimate};
use crate::error::{Error, Result};
use crate::exclusion::{Exclusion, Reason};
use crate::pool::{Pool, PoolModel};
use crate::predictor::Estimate;

/// How sure the predictor must be before the router leaves its incumbent ([`Margin::incumbent`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Margin {
    /// Standard deviations of the predicted difference a model must clear (κ; 0: none).
    pub kappa: f64,
    /// Each pool model's mean predicted quality over the reference prompts, in pool order.
    pub average: Vec<f64>,
    /// The pool models known only by the prior (at their price, or not even that), in pool
    /// order; absent ones are known. The incumbent is worth keeping only if it is known: an
    /// unknown one is but the prior's guess, no incumbent to leave only for a sure
    /// gain.
    pub unknown: Vec<bool>,
    /// `floors[m][b]`: by how much model m's predicted gain over incumbent b is discounted,
    /// never below b, in pool order; empty or absent: no floor.
    pub floors: Vec<Vec<f64>>,
    /// `lead[m][b]`: m's accuracy less b's on the training rows that labelled both, in pool
    /// order; absent where they shared too few. Where the labels compare two models they, not
    /// the reference average, say which is ahead (see [`Margin::incumbent`]).
    pub lead: Vec<Vec<Option<f64>>>,
    /// Each pool model's mean estimated US$ per request over the reference prompts, in pool
    /// order. With them the incumbent depends on the trade-off: at λ the one ahead of the most
    /// others in quality − λ·cost ([`Margin::incumbent_at`]), so at every budget the router
    /// leaves the single model best there only when it is sure. Empty: one incumbent, the
    /// top one, at every λ.
    pub cost: Vec<f64>,
    /// The cost estimate's resolution, a share of a model's estimated cost: a model other
    /// than the incumbent counts as cheaper than it only by more than this share of its own
    /// estimate (its cost weighs `1 + cost_margin` times in the choice). Among models whose
    /// costs lie closer than the estimate can tell, the router keeps the incumbent at every
    /// budget it cannot tell them apart by, so the curve's cheapest point is the cheapest
    /// model's and not a mix that costs more (0: none). Like the handicaps, it keeps only an
    /// incumbent that is known, not one known only by the prior.
    pub cost_margin: f64,
}

/// The incumbents along λ, as [`Margin::incumbents`] gives them: `(from, incumbent)` by
/// increasing `from`.
pub type Incumbents = Vec<(f64, Option<usize>)>;

/// How far below the incumbent a challenger whose gain its floor discounts to nothing stays:
/// enough that the incumbent wins at λ = 0, too little to matter once cost counts.
const BELOW_INCUMBENT: f64 = 1e-9;

impl Margin {
    /// κ, and each model's mean predicted quality over `estimates` (`[prompt][model]`).
    pub fn over(kappa: f64, estimates: &[Vec<Estimate>]) -> Margin {
        let n = estimates.len().max(1) as f64;
        let models = estimates.first().map_or(0, Vec::len);
        Margin {
            kappa,
            average: (0..models)
                .map(|m| estimates.iter().map(|p| p[m].quality).sum::<f64>() / n)
                .collect(),
            unknown: Vec::new(),
            floors: Vec::new(),
            lead: Vec::new(),
            cost: Vec::new(),
            cost_margin: 0.0,
        }
    }

    /// The same margin, with the models known only by the prior marked.
    pub fn with_unknown(mut self, unknown: Vec<bool>) -> Margin {
        self.unknown = unknown;
        self
    }

    /// The same margin, with each pair's floor (`floors[challenger][incumbent]`).
    pub fn with_floors(mut self, floors: Vec<Vec<f64>>) -> Margin {
        self.floors = floors;
        self
    }

    /// The same margin, with each pair's lead by the labels (`lead[m][b]`).
    pub fn with_lead(mut self, lead: Vec<Vec<Option<f64>>>) -> Margin {
        self.lead = lead;
        self
    }

    /// The same margin, with each model's mean estimated cost per request (see
    /// [`Margin::cost`]).
    pub fn with_costs(mut self, cost: Vec<f64>) -> Margin {
        self.cost = cost;
        self
    }

    /// The same margin, with the cost estimate's resolution (see [`Margin::cost_margin`]).
    pub fn with_cost_margin(mut self, cost_margin: f64) -> Margin {
        self.cost_margin = cost_margin;
        self
    }

    /// The margin over the models `keep` (indices into its pool), in that order.
    pub fn subset(&self, keep: &[usize]) -> Margin {
        let pick = |v: &[f64], i: usize| v.get(i).copied().unwrap_or(0.0);
        Margin {
            kappa: self.kappa,
            average: keep.iter().map(|&i| pick(&self.average, i)).collect(),
            unknown: (keep.iter())
                .map(|&i| self.unknown.get(i).copied().unwrap_or(false))
                .collect(),
            floors: pairs_over(&self.floors, keep, 0.0),
            lead: pairs_over(&self.lead, keep, None),
            cost: if self.cost.is_empty() {
                Vec::new()
            } else {
                keep.iter().map(|&i| pick(&self.cost, i)).collect()
            },
            cost_margin: self.cost_margin,
        }
    }

    /// The allowed model the router keeps at λ = 0 unless another is surely better: the one
    /// ahead of the most others (the first of equals by reference average, then pool order).
    /// Of two models the labels compared, the one they put ahead is ahead; of others, the one
    /// with the higher reference average. With no leads this is the best model on average. The
    /// labels decide where they can because the reference prompts mix every table, so a
    /// model's average there can rank it above one that beats it on every row both answered.
    pub fn incumbent(&self, allowed: &[usize]) -> Option<usize> {
        self.incumbent_at(allowed, 0.0)
    }

    /// The incumbent at trade-off `lambda`: as [`Margin::incumbent`], each comparison made in
    /// quality − λ·cost (a lead less λ times the difference of the two models' mean costs).
    /// Without costs, the incumbent at λ = 0.
    pub fn incumbent_at(&self, allowed: &[usize], lambda: f64) -> Option<usize> {
        let ahead = |m: usize, b: usize| {
            let (lead, cost) = self.edge(m, b);
            lead - lambda * cost > 0.0
        };
        let wins = |m: usize| allowed.iter().filter(|&&b| b != m && ahead(m, b)).count();
        let wins: Vec<usize> = allowed.iter().map(|&m| wins(m)).collect();
        self.most_wins(allowed, &wins, lambda)
    }

    /// The incumbents over the whole range of λ, as `(from, incumbent)` by increasing `from`:
    /// each holds from its λ up to the next one's (the first from 0, the last without end).
    /// One entry without costs. The comparisons change sign only where a lead or a difference
    /// of averages equals λ times a difference of costs, so those λ split the range, and the
    /// sign changes are applied as λ passes them (O(k² log k + cuts·k) for k models, not a
    /// fresh count per cut).
    pub fn incumbents(&self, allowed: &[usize]) -> Incumbents {
        if self.cost.is_empty() {
            return vec![(0.0, self.incumbent_at(allowed, 0.0))];
        }
        let k = allowed.len();
        let crossing = |(lead, cost): (f64, f64)| {
            let t = lead / cost;
            (cost != 0.0 && t.is_finite() && t >= 0.0).then_some(t)
        };
        let mut flips: Vec<(f64, usize, usize)> = Vec::new();
        let mut cuts: Vec<f64> = Vec::new();
        for i in 0..k {
            for j in (0..k).filter(|&j| j != i) {
                let (m, b) = (allowed[i], allowed[j]);
                if let Some(t) = crossing(self.edge(m, b)) {
                    flips.push((t, i, j));
                    cuts.push(t);
                }
                // Ties in wins go to the higher average less λ·cost, which can change here.
                let worth = (
                    self.average_of(m) - self.average_of(b),
                    self.cost_of(m) - self.cost_of(b),
                );
                cuts.extend(crossing(worth));
            }
        }
        cuts.retain(|&t| t > 0.0);
        cuts.sort_by(f64::total_cmp);
        cuts.dedup();
        flips.sort_by(|a, b| a.0.total_cmp(&b.0));
        // Between two cuts nothing changes sign: each range is judged at its middle.
        let middles =
            (cuts.windows(2).map(|w| 0.5 * (w[0] + w[1]))).chain(cuts.last().map(|&t| 2.0 * t));
        let ahead = |i: usize, j: usize, lambda: f64| {
            let (lead, cost) = self.edge(allowed[i], allowed[j]);
            lead - lambda * cost > 0.0
        };
        let mut state: Vec<Vec<bool>> = (0..k)
            .map(|i| (0..k).map(|j| i != j && ahead(i, j, 0.0)).collect())
            .collect();
        let mut wins: Vec<usize> = state
            .iter()
            .map(|r| r.iter().filter(|&&a| a).count())
            .collect();
        let mut out = vec![(0.0, self.most_wins(allowed, &wins, 0.0))];
        let mut next = 0;
        for (&from, lambda) in cuts.iter().zip(middles) {
            while let Some(&(_, i, j)) = flips.get(next).filter(|f| f.0 <= lambda) {
                let now = ahead(i, j, lambda);
                if now != state[i][j] {
                    state[i][j] = now;
                    wins[i] = if now { wins[i] + 1 } else { wins[i] - 1 };
                }
                next += 1;
            }
            let best = self.most_wins(allowed, &wins, lambda);
            if out.last().map(|l| l.1) != Some(best) {
                out.push((from, best));
            }
        }
        out
    }

    /// m's lead over b as (a, c): at trade-off λ, m is ahead when a − λ·c > 0. `a` is the
    /// labels' lead where they compared the two, else the difference of reference averages;
    /// `c` the difference of mean costs (0 without costs).
    fn edge(&self, m: usize, b: usize) -> (f64, f64) {
        let lead = self.lead.get(m).and_then(|r| r.get(b)).copied().flatten();
        (
            lead.unwrap_or(self.average_of(m) - self.average_of(b)),
            self.cost_of(m) - self.cost_of(b),
        )
    }

    fn average_of(&self, m: usize) -> f64 {
        self.average.get(m).copied().unwrap_or(0.0)
    }

    fn cost_of(&self, m: usize) -> f64 {
        self.cost.get(m).copied().unwrap_or(0.0)
    }

    /// The allowed model with the most wins (`wins` in the order of `allowed`); of equals the
    /// one with the higher average less λ·cost, then the first.
    fn most_wins(&self, allowed: &[usize], wins: &[usize], lambda: f64) -> Option<usize> {
        let worth = |m: usize| self.average_of(m) - lambda * self.cost_of(m);
        (allowed.iter().copied().zip(wins.iter().copied()))
            .reduce(|(a, wa), (b, wb)| {
                if wb > wa || (wb == wa && worth(b) > worth(a)) {
                    (b, wb)
                } else {
                    (a, wa)
                }
            })
            .map(|(m, _)| m)
    }

    /// What each allowed model gives up, in the order of `allowed` (indices into the pool):
    /// 0 for the incumbent ([`Margin::incumbent`]), κ·√(sd² + sd_best²) for the others, and
    /// then, where what is left is predicted above the incumbent, that gain discounted by the
    /// pair's floor, never below the incumbent; nothing at all when the incumbent is known only
    /// by the prior. Each is a constant of the prompt, so selection stays an argmax of
    /// quality − handicap − λ·cost.
    pub fn handicaps(&self, estimates: &[Estimate], allowed: &[usize]) -> Vec<f64> {
        self.handicaps_against(estimates, allowed, self.incumbent(allowed))
    }

    /// [`Margin::handicaps`] against the incumbent at trade-off `lambda`
    /// ([`Margin::incumbent_at`]).
    pub fn handicaps_at(&self, estimates: &[Estimate], allowed: &[usize], lambda: f64) -> Vec<f64> {
        self.handicaps_against(estimates, allowed, self.incumbent_at(allowed, lambda))
    }

    /// The share by which each allowed model's estimated cost weighs more in the choice, in
    /// the order of `allowed`: [`Margin::cost_margin`] for every model but the incumbent
    /// `best`, 0 for it; 0 for all when there is none or it is known only by the prior, as
    /// with the handicaps (no incumbent to keep).
    pub(crate) fn premiums_against(&self, allowed: &[usize], best: Option<usize>) -> Vec<f64> {
        let margin = self.cost_margin.max(0.0);
        let unknown = |m: usize| self.unknown.get(m).copied().unwrap_or(false);
        (allowed.iter())
            .map(|&m| match best {
                Some(b) if b != m && !unknown(b) => margin,
                _ => 0.0,
            })
            .collect()
    }

    /// [`Margin::handicaps`] against an incumbent already found for `allowed`.
    pub(crate) fn handicaps_against(
        &self,
        estimates: &[Estimate],
        allowed: &[usize],
        best: Option<usize>,
    ) -> Vec<f64> {
        let sd = |m: usize| estimates.get(m).map_or(0.0, |e| e.sd);
        let unknown = |m: usize| self.unknown.get(m).copied().unwrap_or(false);
        allowed
            .iter()
            .map(|&m| match best {
                Some(b) if b != m && !unknown(b) => {
                    let unsure = self.kappa.max(0.0) * sd(m).hypot(sd(b));
                    let floor = (self.floors.get(m))
                        .and_then(|row| row.get(b))
                        .copied()
                        .unwrap_or(0.0);
                    let quality = |i: usize| estimates.get(i).map_or(0.0, |e| e.quality);
                    let gain = quality(m) - unsure - quality(b);
                    if floor > 0.0 && gain > 0.0 {
                        unsure + gain - (gain - floor).max(-BELOW_INCUMBENT)
                    } else {
                        unsure
                    }
                }
                _ => 0.0,
            })
            .collect()
    }
}

/// A pair matrix (`[m][b]`, in pool order) over the models `keep`, in that order, `missing`
/// where it has no value; empty stays empty.
fn pairs_over<T: Copy>(pairs: &[Vec<T>], keep: &[usize], missing: T) -> Vec<Vec<T>> {
    if pairs.is_empty() {
        return Vec::new();
    }
    (keep.iter())
        .map(|&m| {
            let row = pairs.get(m).map_or(&[][..], Vec::as_slice);
            (keep.iter())
                .map(|&b| row.get(b).copied().unwrap_or(missing))
                .collect()
        })
        .collect()
}

/// What a request allows, beyond the budget.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Constraints {
    /// Most US$ one request may cost. By default no limit.
    #[serde(default)]
    pub max_cost_per_request: Option<f64>,
    /// Slowest typical latency allowed, in milliseconds. By default no limit.
    #[serde(default)]
    pub max_latency_ms: Option<u32>,
    /// Providers the user has keys for. By default every provider is allowed.
    #[serde(default)]
    pub providers: Option<Vec<String>>,
    /// The only model ids that may be chosen. By default every pool model may.
    #[serde(default)]
    pub models: Option<Vec<String>>,
    /// Model ids never to choose.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// What the request needs beyond text, set by the router from the conversation.
    #[serde(skip)]
    pub needs: Vec<crate::pool::Capability>,
}

impl Constraints {
    /// Fails on a limit that cannot be met by anything, or an exclusion naming no pool model.
    pub fn validate(&self, pool: &Pool) -> Result<()> {
        if let Some(c) = self.max_cost_per_request {
            if !c.is_finite() || c < 0.0 {
                return Err(Error::InvalidOption {
                    name: "maxCostPerRequest",
                    value: c.to_string(),
                    reason: "US$ per request, 0 or more",
                });
            }
        }
        let named = (self.exclude.iter().map(|id| ("exclude", id)))
            .chain(self.models.iter().flatten().map(|id| ("models", id)));
        for (name, id) in named {
            if pool.model(id).is_none() {
                return Err(Error::InvalidOption {
                    name,
                    value: id.clone(),
                    reason: "not a model of the pool",
                });
            }
        }
        Ok(())
    }
}

/// A model a request may go to, with what the router expects of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Candidate {
    /// Model id.
    pub model: String,
    /// Provider.
    pub provider: String,
    /// Predicted probability of a good answer.
    pub quality: f64,
    /// Quality given up for the predictor's uncertainty about beating the pool's best model
    /// on average (0 for that model); see [`Margin`].
    pub margin: f64,
    /// Estimated cost.
    pub cost: CostEstimate,
    /// The share by which its estimated cost weighs more in the choice: the cost estimate's
    /// resolution for a model that is not the incumbent, 0 for it; see [`Margin::cost_margin`].
    pub premium: f64,
    /// quality − margin − λ·cost·(1 + premium): what the router maximises.
    pub score: f64,
}

impl Candidate {
    /// quality − margin: what the router weighs against cost.
    pub fn value(&self) -> f64 {
        self.quality - self.margin
    }

    /// The US$ the router weighs against value: its estimate times 1 + premium.
    pub fn weighed(&self) -> f64 {
        weigh(self.cost.usd, self.premium)
    }
}

/// Estimated US$ as the choice weighs it, at a premium (see [`Margin::cost_margin`]).
fn weigh(usd: f64, premium: f64) -> f64 {
    usd * (1.0 + premium)
}

/// Splits the pool into candidates ranked best first and excluded models.
///
/// `estimates[i]` is the predictor's estimate for `pool.models[i]`. Ties in score go to the
/// cheaper model, then to the smaller id, so the ranking is deterministic.
pub fn rank(
    pool: &Pool,
    estimates: &[Estimate],
    chars: usize,
    lambda: f64,
    margin: &Margin,
    constraints: &Constraints,
) -> (Vec<Candidate>, Vec<Exclusion>) {
    rank_by(
        pool,
        estimates,
        chars,
        lambda,
        constraints,
        margin,
        |allowed| margin.incumbent_at(allowed, lambda),
    )
}

/// [`rank`], against the incumbent `incumbent` finds among the allowed models (from their
/// indices into the pool, in pool order).
pub(crate) fn rank_by(
    pool: &Pool,
    estimates: &[Estimate],
    chars: usize,
    lambda: f64,
    constraints: &Constraints,
    margin: &Margin,
    incumbent: impl FnOnce(&[usize]) -> Option<usize>,
) -> (Vec<Candidate>, Vec<Exclusion>) {
    let mut allowed = Vec::with_capacity(pool.models.len());
    let mut excluded = Vec::new();
    for (m, model) in pool.models.iter().enumerate().take(estimates.len()) {
        let cost = cost::estimate(pool, model, chars, estimates[m].billing);
        match exclusion(model, &cost, constraints) {
            Some(reason) => excluded.push(Exclusion {
                model: model.id.clone(),
                message: reason.to_string(),
                reason,
            }),
            None => allowed.push((m, cost)),
        }
    }
    let indices: Vec<usize> = allowed.iter().map(|a| a.0).collect();
    let best = incumbent(&indices);
    let handicaps = margin.handicaps_against(estimates, &indices, best);
    let premiums = margin.premiums_against(&indices, best);
    let mut candidates: Vec<Candidate> = (allowed.into_iter().zip(handicaps).zip(premiums))
        .map(|(((m, cost), handicap), premium)| {
            let model = &pool.models[m];
            let mut candidate = Candidate {
                model: model.id.clone(),
                provider: model.provider.clone(),
                quality: estimates[m].quality,
                margin: handicap,
                premium,
                score: 0.0,
                cost,
            };
            candidate.score = candidate.value() - lambda * candidate.weighed();
            candidate
        })
        .collect();
    candidates.sort_by(compare);
    (candidates, excluded)
}

/// Keeps the candidates whose quality less margin reaches `min` and moves the others to the
/// exclusions. The kept stay in the ranking's order when `keep_order` (the budget's choice
/// reaches `min`), else go cheapest first, so the first is the one to call. Fails, naming the
/// candidate that came closest, when none reaches it; an empty ranking is left for the caller
/// to report.
pub fn at_least(
    ranked: Vec<Candidate>,
    mut excluded: Vec<Exclusion>,
    min: f64,
    keep_order: bool,
) -> Result<(Vec<Candidate>, Vec<Exclusion>)> {
    let closest = (ranked.iter())
        .max_by(|a, b| a.value().total_cmp(&b.value()))
        .map(|c| (c.model.clone(), c.value()));
    let (mut kept, below): (Vec<Candidate>, Vec<Candidate>) =
        ranked.into_iter().partition(|c| c.value() >= min);
    if kept.is_empty() {
        if let Some((closest, value)) = closest {
            return Err(Error::BelowMinQuality {
                min,
                closest,
                value,
            });
        }
    }
    if !keep_order {
        kept.sort_by(|a, b| {
            (a.cost.usd.total_cmp(&b.cost.usd))
                .then(b.value().total_cmp(&a.value()))
                .then_with(|| a.model.cmp(&b.model))
        });
    }
    excluded.extend(below.into_iter().map(|c| {
        let reason = Reason::BelowMinQuality {
            value: c.value(),
            min,
        };
        Exclusion {
            model: c.model,
            message: reason.to_string(),
            reason,
        }
    }));
    Ok((kept, excluded))
}

fn compare(a: &Candidate, b: &Candidate) -> Ordering {
    b.score
        .total_cmp(&a.score)
        .then(a.weighed().total_cmp(&b.weighed()))
        .then_with(|| a.model.cmp(&b.model))
}

fn exclusion(model: &PoolModel, cost: &CostEstimate, c: &Constraints) -> Option<Reason> {
    if c.exclude.contains(&model.id) {
        return Some(Reason::ExcludedByRequest);
    }
    if c.models.as_ref().is_some_and(|m| !m.contains(&model.id)) {
        return Some(Reason::NotAllowed);
    }
    if let Some(&need) = c.needs.iter().find(|n| !model.supports.contains(n)) {
        return Some(Reason::Unsupported { need });
    }
    if let Some(providers) = &c.providers {
        if !providers.contains(&model.provider) {
            return Some(Reason::NoKey {
                provider: model.provider.clone(),
            });
        }
    }
    let needed = cost.input_tokens + cost.output_tokens;
    if needed > u64::from(model.context_window) {
        return Some(Reason::ContextWindow {
            needed,
            window: model.context_window,
        });
    }
    if let Some(limit) = c.max_latency_ms {
        if model.latency_ms > limit {
            return Some(Reason::MaxLatency {
                latency_ms: model.latency_ms,
                limit,
            });
        }
    }
    if let Some(limit) = c.max_cost_per_request {
        if cost.usd > limit {
            return Some(Reason::MaxCost {
                cost: cost.usd,
                limit,
            });
        }
    }
    None
}

/// One point of a pool's budget curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CurvePoint {
    /// The trade-off λ, in quality per US$.
    pub lambda: f64,
    /// Mean estimated US$ per 1,000 requests over the reference prompts.
    pub cost_per_1k: f64,
    /// Expected accuracy over the reference prompts: the mean of the chosen models' quality
    /// less their margin against the top incumbent, so it never falls as λ falls.
    pub quality: f64,
}

/// λ versus expected spend and quality for one pool, on the predictor's reference prompts.
///
/// Spend never rises with λ, so a budget maps to the smallest λ whose spend fits it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetCurve {
    /// Points by increasing λ; the first has λ = 0.
    pub points: Vec<CurvePoint>,
}

/// The points a budget can buy, by increasing λ: spend and quality both fall as λ rises.
///
/// With one incumbent they do already. Where the incumbent changes, a larger λ can spend more
/// than a smaller one, or a smaller λ spend more for less quality (all of it judged against
/// the top incumbent, so one scale): such a point is never worth buying, and a budget goes to
/// the next point that fits instead. The λ = 0 point, the best by that scale, always stays.
fn frontier(points: Vec<CurvePoint>) -> Vec<CurvePoint> {
    let mut least = f64::INFINITY;
    let mut points: Vec<CurvePoint> = (points.into_iter())
        .filter(|p| {
            let keep = p.cost_per_1k <= least;
            least = least.min(p.cost_per_1k);
            keep
        })
        .collect();
    let mut most = f64::NEG_INFINITY;
    points.reverse();
    points.retain(|p| {
        let keep = p.quality >= most;
        most = most.max(p.quality);
        keep
    });
    points.reverse();
    points
}

/// One of a prompt's options on the budget curve.
#[derive(Debug, Clone, Copy)]
struct Choice {
    /// Quality less margin against the incumbent of its λ.
    value: f64,
    /// The US$ weighed against value (the estimate times 1 + premium).
    weighed: f64,
    /// Estimated US$ (what is spent).
    usd: f64,
    /// Rank of the model's id.
    rank: usize,
    /// Quality less margin against the top incumbent.
    against_top: f64,
}

/// The best of a prompt's options at λ: the most value less λ times weighed US$, then the
/// cheaper by that, then the lower id rank.
fn best_at(options: &[Choice], lambda: f64) -> Option<&Choice> {
    options.iter().min_by(|a, b| {
        let (sa, sb) = (a.value - lambda * a.weighed, b.value - lambda * b.weighed);
        sb.total_cmp(&sa)
            .then(a.weighed.total_cmp(&b.weighed))
            .then(a.rank.cmp(&b.rank))
    })
}

/// The options no other option beats at every λ ≥ 0: an option worth as much or more for no
/// more weighed US$ (the cheaper, then the lower id rank, on a tie) wins wherever the other
/// would, as [`best_at`] compares them, so leaving it out changes no choice. Most of a pool is
/// dominated on a prompt, and the λ sweep then looks at a few options instead of every model.
fn undominated(mut options: Vec<Choice>) -> Vec<Choice> {
    options.sort_by(|a, b| {
        (a.weighed.total_cmp(&b.weighed))
            .then(b.value.total_cmp(&a.value))
            .then(a.rank.cmp(&b.rank))
    });
    let mut best: Option<f64> = None;
    options.retain(|o| {
        let keep = best.is_none_or(|b| o.value.total_cmp(&b).is_gt());
        if keep {
            best = Some(o.value);
        }
        keep
    });
    options
}

/// λ grid: 0, then 25 steps a decade from 1e-2 to 1e8 quality per US$.
fn lambda_grid() -> impl Iterator<Item = f64> {
    std::iter::once(0.0).chain((0..=250).map(|i| 10f64.powf(-2.0 + f64::from(i) / 25.0)))
}

impl BudgetCurve {
    /// Traces the curve. `estimates[p][i]` is the estimate for `pool.models[i]` on reference
    /// prompt `p`, whose length in characters is `chars[p]`.
    pub fn trace(
        pool: &Pool,
        chars: &[usize],
        estimates: &[Vec<Estimate>],
        margin: &Margin,
    ) -> BudgetCurve {
        // Each prompt's allowed models, priced once. The top of `rank` at a λ is the best of
        // these by score, then weighed cost, then id, as `compare` orders.
        let none = Constraints::default();
        let mut by_id: Vec<usize> = (0..pool.models.len()).collect();
        by_id.sort_by(|&a, &b| pool.models[a].id.cmp(&pool.models[b].id));
        let mut id_rank = vec![0; pool.models.len()];
        for (r, &m) in by_id.iter().enumerate() {
            id_rank[m] = r;
        }
        // The incumbents depend on the allowed models alone, and they seldom change from one
        // reference prompt to the next: found once per set, not once per prompt. Each prompt
        // gets its options against each incumbent of its set, with the λ it holds from.
        let mut schedule: Option<(Vec<usize>, Incumbents)> = None;
        type Options = Vec<Choice>;
        let options: Vec<Vec<(f64, Options)>> = chars
            .iter()
            .zip(estimates)
            .map(|(&c, es)| {
                let allowed: Vec<(usize, f64)> = (pool.models.iter().enumerate())
                    .take(es.len())
                    .filter_map(|(m, model)| {
                        let cost = cost::estimate(pool, model, c, es[m].billing);
                        exclusion(model, &cost, &none)
                            .is_none()
                            .then_some((m, cost.usd))
                    })
                    .collect();
                let indices: Vec<usize> = allowed.iter().map(|a| a.0).collect();
                let incumbents = match &schedule {
                    Some((set, incumbents)) if *set == indices => incumbents.clone(),
                    _ => {
                        let incumbents = margin.incumbents(&indices);
                        schedule = Some((indices.clone(), incumbents.clone()));
                        incumbents
                    }
                };
                let top = incumbents.first().and_then(|i| i.1);
                let against_top = margin.handicaps_against(es, &indices, top);
                (incumbents.into_iter())
                    .map(|(from, best)| {
                        // The first incumbent is the top one, whose handicaps are at hand.
                        let handicaps = if best == top {
                            against_top.clone()
                        } else {
                            margin.handicaps_against(es, &indices, best)
                        };
                        let premiums = margin.premiums_against(&indices, best);
                        let values = (allowed.iter().zip(handicaps).zip(premiums))
                            .zip(&against_top)
                            .map(|(((&(m, usd), h), p), t)| Choice {
                                value: es[m].quality - h,
                                weighed: weigh(usd, p),
                                usd,
                                rank: id_rank[m],
                                against_top: es[m].quality - t,
                            })
                            .collect();
                        (from, undominated(values))
                    })
                    .collect()
            })
            .collect();
        let points = lambda_grid()
            .map(|lambda| {
                let (mut spend, mut q, mut n) = (0.0, 0.0, 0usize);
                for by_incumbent in &options {
                    let Some((_, models)) = by_incumbent.iter().rev().find(|o| o.0 <= lambda)
                    else {
                        continue;
                    };
                    if let Some(o) = best_at(models, lambda) {
                        spend += o.usd;
                        q += o.against_top;
                        n += 1;
                    }
                }
                let n = n.max(1) as f64;
                CurvePoint {
                    lambda,
                    cost_per_1k: spend / n * 1000.0,
                    quality: q / n,
                }
            })
            .collect::<Vec<_>>();
        BudgetCurve {
            points: frontier(points),
        }
    }

    /// The smallest λ whose expected spend fits `per_1k` US$ per 1,000 requests; the largest λ
    /// of the curve when even that spends more.
    pub fn lambda_for(&self, per_1k: f64) -> f64 {
        self.point_for(per_1k).map_or(0.0, |p| p.lambda)
    }

    /// The curve point a budget selects.
    pub fn point_for(&self, per_1k: f64) -> Option<&CurvePoint> {
        self.points
            .iter()
            .find(|p| p.cost_per_1k <= per_1k)
            .or(self.points.last())
    }
}

/// Candidates with made-up figures, for the tests of what follows ranking.
#[cfg(test)]
pub(crate) mod testing {
    use super::Candidate;
    use crate::cost::CostEstimate;

    /// `model` at `quality` for `usd`, one token each way, no margin.
    pub fn candidate(model: &str, quality: f64, usd: f64) -> Candidate {
        Candidate {
            model: model.into(),
            provider: "test".into(),
            quality,
            margin: 0.0,
            premium: 0.0,
            cost: CostEstimate {
                input_tokens: 1,
                output_tokens: 1,
                usd,
            },
            score: quality,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{best_at, frontier, lambda_grid, undominated, Choice, CurvePoint};

    #[test]
    fn leaving_out_the_dominated_options_changes_no_choice_at_any_lambda() {
        // Coarse values and costs, so ties in value, in cost and in both are common.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut draw = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let mut kept = 0;
        for _ in 0..300 {
            let options: Vec<Choice> = (0..12)
                .map(|rank| {
                    let value = draw(8) as f64 / 8.0;
                    let usd = draw(6) as f64 * 1e-3;
                    // Some weigh more than they spend, as a challenger under a cost margin.
                    let weighed = usd * (1.0 + draw(2) as f64 * 0.05);
                    Choice {
                        value,
                        weighed,
                        usd,
                        rank,
                        against_top: value,
                    }
                })
                .collect();
            let few = undominated(options.clone());
            kept += few.len();
            for lambda in lambda_grid() {
                let rank = |o: &[Choice]| best_at(o, lambda).map(|c| c.rank);
                assert_eq!(rank(&options), rank(&few), "λ {lambda}");
            }
        }
        assert!(
            kept < 300 * 12 / 2,
            "most options are dominated: {kept} kept"
        );
    }

    #[test]
    fn the_frontier_drops_points_that_spend_more_or_expect_less_than_a_cheaper_one() {
        let p = |lambda, cost_per_1k, quality| CurvePoint {
            lambda,
            cost_per_1k,
            quality,
        };
        let points = vec![
            p(0.0, 9.0, 0.90),
            p(1.0, 5.0, 0.80),
            // Spends more than λ = 1 did: never the smallest λ a budget fits.
            p(2.0, 6.0, 0.85),
            // Spends more than λ = 4 for less: a budget that fits it buys λ = 4 instead.
            p(3.0, 4.0, 0.70),
            p(4.0, 3.0, 0.75),
            p(5.0, 3.0, 0.75),
            p(6.0, 1.0, 0.60),
        ];
        let kept: Vec<f64> = frontier(points).iter().map(|p| p.lambda).collect();
        assert_eq!(kept, [0.0, 1.0, 4.0, 5.0, 6.0]);
    }
}

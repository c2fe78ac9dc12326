//! Routing many prompts under one total budget (the Routoo paper's cost-aware decoding).
//!
//! Each prompt starts on its cheapest allowed model. Moving a prompt up its upper convex hull of
//! (estimated cost, predicted quality less the selector's margin) buys value at a falling rate;
//! all such moves of the batch are taken best rate first while the total still fits the budget.
//! This is the Lagrangian solution: every prompt ends on argmax(quality − margin − λ·cost) for
//! the reported λ. Because the order of moves does not depend on the budget, a larger budget
//! takes a longer prefix of the same moves, so the plan's expected accuracy (its value) never
//! falls as the budget grows. The price of that guarantee is that budget smaller than the next move's cost stays
//! unspent.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::select::Candidate;

/// Models chosen for a batch of prompts under a total budget.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchPlan {
    /// One choice per prompt, in the order given; `score` is quality − margin − λ·cost at
    /// `lambda`.
    pub choices: Vec<Candidate>,
    /// Total estimated US$ of the choices; never more than `budget_total`.
    pub spend: f64,
    /// The total budget asked for, US$.
    pub budget_total: f64,
    /// The expected accuracy of the batch: the mean of the choices' quality less margin (a
    /// challenger of the pool's best model on average counts at its discounted quality).
    pub expected_accuracy: f64,
    /// The trade-off the plan stops at, in quality per US$ (0 when every prompt got its best).
    pub lambda: f64,
    /// What the batch costs on the cheapest allowed models.
    pub min_spend: f64,
    /// What the batch costs on its best predicted models; no budget above this buys more.
    pub max_spend: f64,
}

/// Indices of the points of `(cost, value)` on the upper convex hull that no cheaper point
/// matches: cost and value strictly increasing, slopes decreasing. Ties in cost keep the
/// higher value.
pub(crate) fn upper_hull(points: &[(f64, f64)]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..points.len()).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (points[a], points[b]);
        a.0.total_cmp(&b.0).then(b.1.total_cmp(&a.1))
    });
    let mut out: Vec<usize> = Vec::with_capacity(points.len());
    for i in order {
        let p = points[i];
        if out.last().is_some_and(|&last| p.1 <= points[last].1) {
            continue; // costs at least as much for no more value
        }
        while out.len() >= 2 {
            let (a, b) = (points[out[out.len() - 2]], points[out[out.len() - 1]]);
            // b lies on or under the segment a–p: it is never the best trade-off
            if (b.0 - a.0) * (p.1 - a.1) - (b.1 - a.1) * (p.0 - a.0) >= 0.0 {
                out.pop();
            } else {
                break;
            }
        }
        out.push(i);
    }
    out
}

/// A prompt's hull: (cost, quality − margin, index into its candidates), cheapest first.
fn hull(candidates: &[Candidate]) -> Vec<(f64, f64, usize)> {
    let points: Vec<(f64, f64)> = candidates.iter().map(|c| (c.cost.usd, c.value())).collect();
    upper_hull(&points)
        .into_iter()
        .map(|i| (points[i].0, points[i].1, i))
        .collect()
}

/// The Lagrangian path of a batch: each prompt's hull, and every move up a hull, best rate
/// first. Applying the first `n` moves gives, for every prompt, argmax(quality − λ·cost) for
/// λ between the rates of moves `n` and `n + 1`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Path {
    /// Per prompt: (cost, quality − margin, index into its candidates), cheapest first.
    pub hulls: Vec<Vec<(f64, f64, usize)>>,
    /// (rate, prompt, step): prompt moves from hull point `step − 1` to `step`.
    pub moves: Vec<(f64, usize, usize)>,
}

impl Path {
    /// The path of prompts whose allowed models are `candidates[p]`. A prompt with no
    /// candidate gets an empty hull.
    pub fn new(candidates: &[Vec<Candidate>]) -> Path {
        let hulls: Vec<Vec<(f64, f64, usize)>> = candidates.iter().map(|c| hull(c)).collect();
        let mut moves: Vec<(f64, usize, usize)> = Vec::new();
        for (p, h) in hulls.iter().enumerate() {
            for j in 1..h.len() {
                moves.push(((h[j].1 - h[j - 1].1) / (h[j].0 - h[j - 1].0), p, j));
            }
        }
        // Ties by prompt then step, so the order never depends on anything but the input.
        moves.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        Path { hulls, moves }
    }
}

/// Plans a batch. `candidates[p]` are the allowed models of prompt `p` with their predicted
/// quality and estimated cost (as [`crate::select::rank`] returns them).
pub fn plan(candidates: &[Vec<Candidate>], budget_total: f64) -> Result<BatchPlan> {
    if !budget_total.is_finite() || budget_total < 0.0 {
        return Err(Error::InvalidOption {
            name: "budget-total",
            value: budget_total.to_string(),
            reason: "US$ for the whole batch, 0 or more",
        });
    }
    let Path { hulls, moves } = Path::new(candidates);
    if let Some(index) = hulls.iter().position(Vec::is_empty) {
        return Err(Error::BatchItem {
            index,
            source: Box::new(Error::NoCandidate(crate::Exclusions(Vec::new()))),
        });
    }
    let min_spend: f64 = hulls.iter().map(|h| h[0].0).sum();
    let max_spend: f64 = hulls.iter().filter_map(|h| h.last()).map(|p| p.0).sum();
    if min_spend > budget_total {
        return Err(Error::BudgetTooSmall {
            budget: budget_total,
            needed: min_spend,
        });
    }
    let mut step = vec![0usize; hulls.len()];
    let mut spend = min_spend;
    let mut lambda = 0.0;
    let mut taken = 0;
    for &(rate, p, j) in &moves {
        let delta = hulls[p][j].0 - hulls[p][j - 1].0;
        if spend + delta > budget_total {
            lambda = rate;
            break;
        }
        spend += delta;
        step[p] = j;
        taken += 1;
    }
    let total = |step: &[usize]| -> f64 { hulls.iter().zip(step).map(|(h, &s)| h[s].0).sum() };
    // The running sum may round differently from the final one: undo moves until it fits.
    while taken > 0 && total(&step) > budget_total {
        taken -= 1;
        let (rate, p, j) = moves[taken];
        step[p] = j - 1;
        lambda = rate;
    }
    let choices: Vec<Candidate> = hulls
        .iter()
        .zip(&step)
        .zip(candidates)
        .map(|((h, &s), c)| {
            let mut chosen = c[h[s].2].clone();
            chosen.score = chosen.value() - lambda * chosen.cost.usd;
            chosen
        })
        .collect();
    let spend: f64 = choices.iter().map(|c| c.cost.usd).sum();
    let n = choices.len().max(1) as f64;
    Ok(BatchPlan {
        expected_accuracy: choices.iter().map(Candidate::value).sum::<f64>() / n,
        choices,
        spend,
        budget_total,
        lambda,
        min_spend,
        max_spend,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::CostEstimate;

    fn candidate(model: &str, quality: f64, usd: f64) -> Candidate {
        Candidate {
            model: model.into(),
            provider: "test".into(),
            quality,
            margin: 0.0,
            cost: CostEstimate {
                input_tokens: 1,
                output_tokens: 1,
                usd,
            },
            score: quality,
        }
    }

    #[test]
    fn the_hull_drops_dominated_and_concave_points() {
        let c = [
            candidate("a", 0.5, 1.0),
            candidate("dominated", 0.4, 2.0),
            candidate("under", 0.55, 3.0),
            candidate("b", 0.9, 4.0),
        ];
        let ids: Vec<usize> = hull(&c).iter().map(|p| p.2).collect();
        assert_eq!(ids, [0, 3]);
    }

    #[test]
    fn moves_go_to_the_best_rate_first() {
        let batch = vec![
            vec![candidate("cheap", 0.5, 1.0), candidate("dear", 0.6, 11.0)],
            vec![candidate("cheap", 0.2, 1.0), candidate("dear", 0.9, 11.0)],
        ];
        let plan = plan(&batch, 12.0).unwrap();
        let ids: Vec<&str> = plan.choices.iter().map(|c| c.model.as_str()).collect();
        assert_eq!(ids, ["cheap", "dear"]);
        assert_eq!(plan.spend, 12.0);
        assert!((plan.lambda - 0.01).abs() < 1e-12);
        assert_eq!((plan.min_spend, plan.max_spend), (2.0, 22.0));
        assert!((plan.expected_accuracy - 0.7).abs() < 1e-12);
    }

    #[test]
    fn bad_budgets_are_errors() {
        let batch = vec![vec![candidate("a", 0.5, 1.0)]];
        let small = plan(&batch, 0.5).unwrap_err().to_string();
        assert!(
            small.contains("US$0.5") && small.contains("US$1"),
            "{small}"
        );
        assert!(plan(&batch, f64::NAN).is_err());
        assert!(plan(&batch, -1.0).is_err());
        let empty = plan(&[vec![]], 1.0).unwrap_err().to_string();
        assert!(empty.contains("prompt 0"), "{empty}");
        assert_eq!(plan(&[], 0.0).unwrap().spend, 0.0);
    }
}

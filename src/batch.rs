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
use crate::exclusion::Exclusions;
use crate::hull::{LambdaPath, Move};
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
    /// challenger of the pool's incumbent counts at its discounted quality).
    pub expected_accuracy: f64,
    /// The trade-off the plan stops at, in quality per US$ (0 when every prompt got its best).
    pub lambda: f64,
    /// What the batch costs on the cheapest allowed models.
    pub min_spend: f64,
    /// What the batch costs on its best predicted models; no budget above this buys more.
    pub max_spend: f64,
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
    let LambdaPath { hulls, moves } = LambdaPath::new(candidates);
    if let Some(index) = hulls.iter().position(Vec::is_empty) {
        return Err(Error::BatchItem {
            index,
            source: Box::new(Error::NoCandidate(Exclusions(Vec::new()))),
        });
    }
    let min_spend: f64 = hulls.iter().map(|h| h[0].cost).sum();
    let max_spend: f64 = hulls.iter().filter_map(|h| h.last()).map(|p| p.cost).sum();
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
    for &Move {
        rate,
        prompt,
        step: to,
    } in &moves
    {
        let delta = hulls[prompt][to].cost - hulls[prompt][to - 1].cost;
        if spend + delta > budget_total {
            lambda = rate;
            break;
        }
        spend += delta;
        step[prompt] = to;
        taken += 1;
    }
    let total = |step: &[usize]| -> f64 { hulls.iter().zip(step).map(|(h, &s)| h[s].cost).sum() };
    // The running sum may round differently from the final one: undo moves until it fits.
    while taken > 0 && total(&step) > budget_total {
        taken -= 1;
        let Move {
            rate,
            prompt,
            step: to,
        } = moves[taken];
        step[prompt] = to - 1;
        lambda = rate;
    }
    let choices: Vec<Candidate> = hulls
        .iter()
        .zip(&step)
        .zip(candidates)
        .map(|((h, &s), c)| {
            let mut chosen = c[h[s].candidate].clone();
            chosen.score = chosen.value() - lambda * chosen.weighed();
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
    use crate::select::testing::candidate;

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
        assert!(
            empty.ends_with(
                "prompt 0 of the batch: no model of the pool can take this request: \
                 it was offered no model"
            ),
            "{empty}"
        );
        assert_eq!(plan(&[], 0.0).unwrap().spend, 0.0);
    }
}

//! Suggesting a pool: the few models that together buy the most expected accuracy at a
//! budget (the paper's "universe constructor").
//!
//! A pool's worth at a budget is what the router would make of it: the budget curve traced on
//! the predicted qualities of a set of prompts ([`BudgetCurve::trace`], margins included), read
//! at the budget. Models are added greedily, each time the one that raises that figure most,
//! so the answer also says what each model adds. [`best_subset`] searches every subset, to
//! check the greedy choice where that is affordable.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::eval::Inputs;
use crate::pool::Pool;
use crate::predictor::Estimate;
use crate::select::{BudgetCurve, Margin};

/// One model of a suggested pool, in the order chosen.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Added {
    /// Model id.
    pub model: String,
    /// Expected accuracy of the pool so far, at the budget.
    pub expected_accuracy: f64,
    /// Its expected spend, US$ per 1,000 requests.
    pub expected_spend_per_1k: f64,
    /// What this model added to the expected accuracy.
    pub adds: f64,
}

/// A suggested pool.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Suggestion {
    /// The budget, US$ per 1,000 requests.
    pub budget_per_1k: f64,
    /// The models, in the order chosen.
    pub models: Vec<Added>,
    /// Expected accuracy of the whole pool at the budget.
    pub expected_accuracy: f64,
    /// Its expected spend, US$ per 1,000 requests.
    pub expected_spend_per_1k: f64,
}

/// Prompts with the router's estimates for every model of a pool: what a suggestion reads.
#[derive(Debug, Clone, Copy)]
pub struct Prompts<'a> {
    /// The models to choose from, with their prices.
    pub pool: &'a Pool,
    /// Each prompt's length in characters.
    pub chars: &'a [usize],
    /// `[prompt][model]`, models in pool order.
    pub estimates: &'a [Vec<Estimate>],
    /// The selector's κ.
    pub kappa: f64,
}

/// Expected accuracy and spend (US$ per 1,000) at `budget` of the models `subset` of the pool,
/// from the predictions alone; `None` when even its cheapest routing costs more.
pub fn expected(prompts: Prompts<'_>, subset: &[usize], budget: f64) -> Option<(f64, f64)> {
    if subset.is_empty() {
        return None;
    }
    let pool = Pool {
        expected_output_tokens: prompts.pool.expected_output_tokens,
        models: subset
            .iter()
            .map(|&m| prompts.pool.models[m].clone())
            .collect(),
    };
    let estimates: Vec<Vec<Estimate>> = (prompts.estimates.iter())
        .map(|row| subset.iter().map(|&m| row[m]).collect())
        .collect();
    let margin = Margin::over(prompts.kappa, &estimates);
    let curve = BudgetCurve::trace(&pool, prompts.chars, &estimates, &margin);
    let point = curve.point_for(budget)?;
    (point.cost_per_1k <= budget).then_some((point.quality, point.cost_per_1k))
}

/// A table's rows as [`Prompts`]: its estimates, one row per prompt.
pub fn estimates_of(inputs: &Inputs) -> Vec<Vec<Estimate>> {
    (0..inputs.quality.len())
        .map(|r| inputs.estimates(r))
        .collect()
}

/// At most `k` models of the pool, added greedily for expected accuracy at `budget` (US$ per
/// 1,000 requests). Stops early when no model adds anything.
pub fn suggest(prompts: Prompts<'_>, budget: f64, k: usize) -> Result<Suggestion> {
    if !budget.is_finite() || budget < 0.0 {
        return Err(Error::InvalidOption {
            name: "budget",
            value: budget.to_string(),
            reason: "US$ per 1,000 requests, 0 or more",
        });
    }
    if k == 0 {
        return Err(Error::InvalidOption {
            name: "max-models",
            value: "0".into(),
            reason: "a pool needs at least one model",
        });
    }
    let mut chosen: Vec<usize> = Vec::new();
    let mut added = Vec::new();
    let mut current = (f64::NEG_INFINITY, 0.0);
    while chosen.len() < k {
        let best = (0..prompts.pool.models.len())
            .filter(|m| !chosen.contains(m))
            .filter_map(|m| {
                let mut with = chosen.clone();
                with.push(m);
                expected(prompts, &with, budget).map(|e| (m, e))
            })
            // Ties to the earlier model, so the answer is deterministic.
            .fold(None, |best: Option<(usize, (f64, f64))>, c| match best {
                Some(b) if b.1 .0 >= c.1 .0 => Some(b),
                _ => Some(c),
            });
        let Some((m, (accuracy, spend))) = best else {
            break;
        };
        if accuracy <= current.0 + 1e-9 {
            break;
        }
        let adds = if chosen.is_empty() {
            accuracy
        } else {
            accuracy - current.0
        };
        chosen.push(m);
        current = (accuracy, spend);
        added.push(Added {
            model: prompts.pool.models[m].id.clone(),
            expected_accuracy: accuracy,
            expected_spend_per_1k: spend,
            adds,
        });
    }
    if added.is_empty() {
        return Err(Error::InvalidOption {
            name: "budget",
            value: budget.to_string(),
            reason: "no model's cheapest routing fits it",
        });
    }
    Ok(Suggestion {
        budget_per_1k: budget,
        models: added,
        expected_accuracy: current.0,
        expected_spend_per_1k: current.1,
    })
}

/// The accuracy the table's labels give the router over the models `subset` at `budget` US$
/// per 1,000 requests of true cost: the best point of its curve ([`crate::eval::evaluate`])
/// that fits; `None` when none does.
pub fn routed_accuracy(inputs: &Inputs, subset: &[usize], budget: f64) -> Option<f64> {
    let report = crate::eval::evaluate(&inputs.subset(subset));
    (report.curve.iter())
        .filter(|p| p.mean_cost * 1000.0 <= budget)
        .map(|p| p.accuracy)
        .max_by(f64::total_cmp)
}

/// The subset of at most `k` of `n` models with the highest `score` (`None`: not allowed),
/// by trying every one; with the number of subsets tried.
pub fn best_subset(
    n: usize,
    k: usize,
    score: impl Fn(&[usize]) -> Option<f64>,
) -> (Option<(Vec<usize>, f64)>, usize) {
    let mut best: Option<(Vec<usize>, f64)> = None;
    let mut tried = 0;
    let mut subset = Vec::with_capacity(k);
    fn walk(
        start: usize,
        n: usize,
        k: usize,
        subset: &mut Vec<usize>,
        visit: &mut dyn FnMut(&[usize]),
    ) {
        if !subset.is_empty() {
            visit(subset);
        }
        if subset.len() == k {
            return;
        }
        for m in start..n {
            subset.push(m);
            walk(m + 1, n, k, subset, visit);
            subset.pop();
        }
    }
    walk(0, n, k, &mut subset, &mut |s| {
        tried += 1;
        if let Some(v) = score(s) {
            if best.as_ref().is_none_or(|b| v > b.1 + 1e-12) {
                best = Some((s.to_vec(), v));
            }
        }
    });
    (best, tried)
}

/// Number of non-empty subsets of at most `k` of `n` models (saturating).
pub fn subsets(n: usize, k: usize) -> u64 {
    let mut total = 0u64;
    let mut c = 1u64; // C(n, 0)
    for i in 0..k.min(n) {
        c = c.saturating_mul((n - i) as u64) / (i as u64 + 1);
        total = total.saturating_add(c);
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pool::PoolModel;

    /// Four models over 40 prompts: `left` is sure on the first half, `right` on the second,
    /// `middling` is fair everywhere, `dear` is best everywhere and costs a hundred times more.
    fn inputs() -> Inputs {
        let model = |id: &str, price: f64| PoolModel {
            id: id.into(),
            provider: "openai".into(),
            api_model: id.into(),
            base_url: "https://api.openai.com/v1".into(),
            price_in: price,
            price_out: price,
            context_window: 100_000,
            latency_ms: 1000,
            expected_output_tokens: None,
            ..Default::default()
        };
        let pool = Pool::from_models(vec![
            model("left", 1.0),
            model("right", 1.0),
            model("middling", 0.5),
            model("dear", 100.0),
        ])
        .unwrap();
        let n = 40;
        let quality: Vec<Vec<f64>> = (0..n)
            .map(|r| {
                if r < n / 2 {
                    vec![0.9, 0.3, 0.6, 0.95]
                } else {
                    vec![0.3, 0.9, 0.6, 0.95]
                }
            })
            .collect();
        Inputs {
            billing: Vec::new(),
            pool,
            chars: vec![400; n],
            correct: quality
                .iter()
                .map(|q| q.iter().map(|&x| x > 0.5).collect())
                .collect(),
            cost: vec![vec![1e-4, 1e-4, 5e-5, 1e-2]; n],
            sd: vec![vec![0.0; 4]; n],
            quality,
            margin: Margin {
                kappa: 0.0,
                average: vec![0.6, 0.6, 0.6, 0.95],
                unknown: Vec::new(),
                floors: Vec::new(),
                lead: Vec::new(),
                cost: Vec::new(),
                cost_margin: 0.0,
            },
        }
    }

    #[test]
    fn complementary_models_are_chosen_together_and_each_step_adds() {
        let inputs = inputs();
        let estimates = estimates_of(&inputs);
        let prompts = Prompts {
            pool: &inputs.pool,
            chars: &inputs.chars,
            estimates: &estimates,
            kappa: 0.0,
        };
        // A budget that buys the cheap models but not the dear one.
        let s = suggest(prompts, 1.0, 3).unwrap();
        let ids: Vec<&str> = s.models.iter().map(|a| a.model.as_str()).collect();
        assert_eq!(&ids[..2], ["left", "right"], "{s:?}");
        assert!((s.models[1].expected_accuracy - 0.9).abs() < 1e-9, "{s:?}");
        assert!(s
            .models
            .windows(2)
            .all(|w| w[1].expected_accuracy > w[0].expected_accuracy));
        assert!(s.expected_spend_per_1k <= 1.0);
        // Greedy is optimal here: the exhaustive search by the same measure agrees.
        let (best, _) = best_subset(4, 2, |sub| expected(prompts, sub, 1.0).map(|e| e.0));
        assert_eq!(best.unwrap().0, vec![0, 1]);
        // With money for it, the dear model alone is best.
        let rich = suggest(prompts, 1e3, 1).unwrap();
        assert_eq!(rich.models[0].model, "dear");
        // Labels agree: the pair routes every row right within the budget.
        assert_eq!(routed_accuracy(&inputs, &[0, 1], 1.0), Some(1.0));
        assert!(suggest(prompts, 0.0, 2).is_err());
        assert!(suggest(prompts, 1.0, 0).is_err());
    }

    #[test]
    fn every_subset_is_tried_once() {
        let (best, tried) = best_subset(5, 2, |s| Some(s.iter().sum::<usize>() as f64));
        assert_eq!(tried as u64, subsets(5, 2));
        assert_eq!(tried, 5 + 10);
        assert_eq!(best.unwrap().0, vec![3, 4]);
        assert_eq!(subsets(41, 3), 41 + 820 + 10660);
    }
}

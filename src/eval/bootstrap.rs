//! Intervals for an evaluation's figures: a paired bootstrap over the table's rows (each row one
//! question), the router and every single model scored on the same draws.

use std::collections::BTreeMap;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use super::{evaluate, Inputs, Report};

/// Lower and upper one-sided 95 % bounds (the 5th and 95th percentiles of the draws): a gain
/// whose upper bound is below 0 is a loss at 95 %, as issue 23 counts one. `None` is a bound
/// beyond reach: no curve point at the model's cost (a gain), or never matched (a cost ratio).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    /// 5th percentile.
    pub low: Option<f64>,
    /// 95th percentile.
    pub high: Option<f64>,
}

/// What `routoo eval --bootstrap N` adds to the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Intervals {
    /// Draws of the table's rows, with replacement.
    pub draws: usize,
    /// The seed the draws came from.
    pub seed: u64,
    /// AIQ.
    pub aiq: Interval,
    /// Each model's accuracy.
    pub accuracy: BTreeMap<String, Interval>,
    /// The router's cost to match each model (a ratio of its cost).
    pub cost_to_match: BTreeMap<String, Interval>,
    /// The router's gain at each model's cost.
    pub gain_at_cost: BTreeMap<String, Interval>,
    /// APGR, for two models.
    pub apgr: Option<Interval>,
    /// APGR by cost, for two models.
    pub apgr_by_cost: Option<Interval>,
}

/// Bootstraps `inputs` `draws` times from `seed` (reproducible: the same seed draws the same
/// rows).
pub fn intervals(inputs: &Inputs, draws: usize, seed: u64) -> Intervals {
    let n = inputs.correct.len();
    let mut rng = SmallRng::seed_from_u64(seed);
    let reports: Vec<Report> = (0..draws)
        .map(|_| {
            let rows: Vec<usize> = (0..n).map(|_| rng.random_range(0..n.max(1))).collect();
            evaluate(&inputs.rows(&rows))
        })
        .collect();
    let ids: Vec<String> = inputs.pool.models.iter().map(|m| m.id.clone()).collect();
    let per_model = |figure: &dyn Fn(&Report, &str) -> Option<f64>, missing: f64| {
        (ids.iter())
            .map(|id| {
                let values = reports.iter().map(|r| figure(r, id));
                (id.clone(), bounds(values, missing))
            })
            .collect()
    };
    let pair = |figure: &dyn Fn(&Report) -> Option<f64>| {
        (ids.len() == 2).then(|| bounds(reports.iter().map(figure), f64::NEG_INFINITY))
    };
    Intervals {
        draws,
        seed,
        aiq: bounds(reports.iter().map(|r| Some(r.aiq)), f64::NEG_INFINITY),
        accuracy: per_model(
            &|r, id| r.models.get(id).map(|s| s.accuracy),
            f64::NEG_INFINITY,
        ),
        cost_to_match: per_model(
            &|r, id| r.cost_to_match.get(id).copied().flatten(),
            f64::INFINITY,
        ),
        gain_at_cost: per_model(
            &|r, id| r.gain_at_cost.get(id).copied().flatten(),
            f64::NEG_INFINITY,
        ),
        apgr: pair(&|r| r.apgr),
        apgr_by_cost: pair(&|r| r.apgr_by_cost),
    }
}

/// The 5th and 95th percentiles of `values`, a missing value counted as `missing` (−∞ for a
/// figure where more is better, +∞ for a cost); a bound that lands on it is `None`.
fn bounds(values: impl Iterator<Item = Option<f64>>, missing: f64) -> Interval {
    let mut v: Vec<f64> = values.map(|x| x.unwrap_or(missing)).collect();
    if v.is_empty() {
        return Interval {
            low: None,
            high: None,
        };
    }
    v.sort_by(f64::total_cmp);
    // Nearest rank: each bound is one of the draws.
    let at = |q: f64| {
        let i = ((q * (v.len() - 1) as f64).round() as usize).min(v.len() - 1);
        Some(v[i]).filter(|x| x.is_finite())
    };
    Interval {
        low: at(0.05),
        high: at(0.95),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_the_5th_and_95th_percentiles_and_missing_values_sit_beyond_them() {
        let v = (0..=100).map(|i| Some(f64::from(i)));
        assert_eq!(
            bounds(v, f64::NEG_INFINITY),
            Interval {
                low: Some(5.0),
                high: Some(95.0)
            }
        );
        // Ten of 101 draws with no point: the lower bound is out of reach, the upper is not.
        let v = (0..=100).map(|i| (i >= 10).then_some(f64::from(i)));
        let b = bounds(v, f64::NEG_INFINITY);
        assert_eq!((b.low, b.high), (None, Some(95.0)));
        // A cost never matched in most draws: the upper bound is "never", and in all but 3
        // of them, the lower too.
        let v = (0..=100).map(|i| (i < 10).then_some(1.0));
        let b = bounds(v, f64::INFINITY);
        assert_eq!((b.low, b.high), (Some(1.0), None));
        let v = (0..=100).map(|i| (i < 3).then_some(1.0));
        let b = bounds(v, f64::INFINITY);
        assert_eq!((b.low, b.high), (None, None));
        let v = (0..=100).map(|i| (i < 90).then_some(1.0));
        let b = bounds(v, f64::INFINITY);
        assert_eq!((b.low, b.high), (Some(1.0), None));
    }
}

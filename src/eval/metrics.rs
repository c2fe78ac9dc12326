//! The measures of a curve and of a pair of models: RouterBench's AIQ (as its
//! `evaluation/AIQ.py` computes it), RouteLLM's APGR and CPT (as `routellm/evals/evaluate.py`
//! does), and the compensated sum the sweep adds costs with.

use crate::hull::upper_hull;

use super::Inputs;

/// RouteLLM's measures for two models.
pub(super) struct Pair {
    pub apgr: f64,
    pub apgr_by_cost: f64,
    pub cpt50: Option<f64>,
    pub cpt80: Option<f64>,
}

/// The mean of `values` over `n` (0 for none).
pub(super) fn mean(values: impl Iterator<Item = f64>, n: usize) -> f64 {
    values.sum::<f64>() / n.max(1) as f64
}

/// Neumaier's compensated sum.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Sum {
    sum: f64,
    compensation: f64,
}

impl Sum {
    pub fn add(&mut self, x: f64) {
        let t = self.sum + x;
        self.compensation += if self.sum.abs() >= x.abs() {
            (self.sum - t) + x
        } else {
            (x - t) + self.sum
        };
        self.sum = t;
    }

    pub fn value(&self) -> f64 {
        self.sum + self.compensation
    }
}

/// The area under the non-decreasing upper convex hull of the (cost, accuracy) points, from
/// the cheapest point to the dearest (flat past the hull's peak), with that cost span.
fn hull_area(points: &[(f64, f64)]) -> Option<(f64, f64, f64)> {
    let lo = points.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
    let hi = points.iter().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
    if points.is_empty() || hi <= lo {
        return None;
    }
    let hull: Vec<(f64, f64)> = upper_hull(points).into_iter().map(|i| points[i]).collect();
    let mut area: f64 = hull
        .windows(2)
        .map(|w| (w[1].0 - w[0].0) * (w[0].1 + w[1].1) / 2.0)
        .sum();
    if let Some(&(last, y)) = hull.last() {
        area += (hi - last) * y;
    }
    Some((area, lo, hi))
}

fn best_accuracy(points: &[(f64, f64)]) -> f64 {
    if points.is_empty() {
        return 0.0;
    }
    points.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max)
}

/// RouterBench's AIQ as its code (`evaluation/AIQ.py`) computes it: the area under the
/// non-decreasing upper convex hull of the (cost, accuracy) points, divided by the largest
/// cost. A single cost gives its accuracy.
pub fn aiq(points: &[(f64, f64)]) -> f64 {
    match hull_area(points) {
        Some((area, _, hi)) => area / hi,
        None => best_accuracy(points),
    }
}

/// The same hull area divided by the cost range instead (the mean accuracy the hull gives
/// over the costs the router spans).
pub fn aiq_range(points: &[(f64, f64)]) -> f64 {
    match hull_area(points) {
        Some((area, lo, hi)) => area / (hi - lo),
        None => best_accuracy(points),
    }
}

/// RouteLLM's measures for two models.
pub(super) fn pair(inputs: &Inputs) -> Pair {
    let n = inputs.correct.len();
    let acc = |m: usize| mean((0..n).map(|r| f64::from(u8::from(inputs.correct[r][m]))), n);
    let (weak, strong) = if acc(0) <= acc(1) { (0, 1) } else { (1, 0) };
    // What the selector weighs: quality less each model's margin.
    let gain = |r: usize| {
        let estimates = inputs.estimates(r);
        let h = inputs.margin.handicaps(&estimates, &[0, 1]);
        (estimates[strong].quality - h[strong]) - (estimates[weak].quality - h[weak])
    };
    let by_gain = strong_call_curve(inputs, weak, strong, gain);
    let by_cost = strong_call_curve(inputs, weak, strong, |r| {
        let dc = inputs.estimate(r, strong) - inputs.estimate(r, weak);
        let dq = gain(r);
        if dc > 0.0 {
            dq / dc
        } else if dq >= 0.0 {
            f64::INFINITY
        } else {
            f64::NEG_INFINITY
        }
    });
    let (weak_accuracy, gap) = (acc(weak), acc(strong) - acc(weak));
    let pgr = |curve: &[f64]| -> Vec<f64> {
        curve
            .iter()
            .map(|&a| {
                if gap > 0.0 {
                    (a - weak_accuracy) / gap
                } else {
                    0.0
                }
            })
            .collect()
    };
    let (recovered, recovered_by_cost) = (pgr(&by_gain), pgr(&by_cost));
    Pair {
        apgr: trapezoid(&recovered),
        apgr_by_cost: trapezoid(&recovered_by_cost),
        cpt50: (gap > 0.0).then(|| first_share(&recovered, 0.5)).flatten(),
        cpt80: (gap > 0.0).then(|| first_share(&recovered, 0.8)).flatten(),
    }
}

/// Accuracy after the first i rows (by decreasing `key`, ties by row) go to the strong model,
/// for i = 0..=n.
fn strong_call_curve(
    inputs: &Inputs,
    weak: usize,
    strong: usize,
    key: impl Fn(usize) -> f64,
) -> Vec<f64> {
    let n = inputs.correct.len();
    let mut order: Vec<(f64, usize)> = (0..n).map(|r| (key(r), r)).collect();
    order.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let right = |r: usize, m: usize| i64::from(inputs.correct[r][m]);
    let mut correct: i64 = (0..n).map(|r| right(r, weak)).sum();
    let mut curve = Vec::with_capacity(n + 1);
    curve.push(correct as f64 / n.max(1) as f64);
    for &(_, r) in &order {
        correct += right(r, strong) - right(r, weak);
        curve.push(correct as f64 / n.max(1) as f64);
    }
    curve
}

/// Mean of a curve sampled at equal steps over [0, 1] (trapezoid rule).
fn trapezoid(curve: &[f64]) -> f64 {
    match curve.len() {
        0 => 0.0,
        1 => curve[0],
        len => {
            let inner: f64 = curve.windows(2).map(|w| (w[0] + w[1]) / 2.0).sum();
            inner / (len - 1) as f64
        }
    }
}

/// The first share of strong calls (linear between steps) at which `curve` reaches `level`.
fn first_share(curve: &[f64], level: f64) -> Option<f64> {
    let steps = curve.len().checked_sub(1)?.max(1) as f64;
    let i = curve.iter().position(|&v| v >= level)?;
    if i == 0 {
        return Some(0.0);
    }
    let (a, b) = (curve[i - 1], curve[i]);
    Some((i as f64 - 1.0 + (level - a) / (b - a)) / steps)
}

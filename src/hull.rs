//! Upper convex hulls of (cost, value) points, and the Lagrangian path through the hulls of
//! many prompts: the geometry that batch routing and the evaluator's sweep share.

use crate::select::Candidate;

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

/// A point of a prompt's hull.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct HullPoint {
    /// Estimated US$ (what is spent).
    pub cost: f64,
    /// The US$ weighed against value ([`Candidate::weighed`]): the hull's abscissa.
    pub weighed: f64,
    /// Quality less margin.
    pub value: f64,
    /// Index into the prompt's candidates.
    pub candidate: usize,
}

/// A move up one prompt's hull, from point `step − 1` to `step`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Move {
    /// Value gained per US$ spent.
    pub rate: f64,
    /// The prompt that moves.
    pub prompt: usize,
    /// The hull point it moves to.
    pub step: usize,
}

/// A prompt's hull, cheapest first by weighed US$.
fn hull(candidates: &[Candidate]) -> Vec<HullPoint> {
    let points: Vec<(f64, f64)> = candidates
        .iter()
        .map(|c| (c.weighed(), c.value()))
        .collect();
    upper_hull(&points)
        .into_iter()
        .map(|i| HullPoint {
            cost: candidates[i].cost.usd,
            weighed: points[i].0,
            value: points[i].1,
            candidate: i,
        })
        .collect()
}

/// The Lagrangian path of a batch: each prompt's hull, and every move up a hull, best rate
/// first. Applying the first `n` moves gives, for every prompt, argmax(quality − λ·cost) for
/// λ between the rates of moves `n` and `n + 1`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LambdaPath {
    /// Per prompt, its hull, cheapest first.
    pub hulls: Vec<Vec<HullPoint>>,
    /// Every move, best rate first.
    pub moves: Vec<Move>,
}

impl LambdaPath {
    /// The path of prompts whose allowed models are `candidates[p]`. A prompt with no
    /// candidate gets an empty hull.
    pub fn new(candidates: &[Vec<Candidate>]) -> LambdaPath {
        let hulls: Vec<Vec<HullPoint>> = candidates.iter().map(|c| hull(c)).collect();
        let mut moves = Vec::new();
        for (prompt, h) in hulls.iter().enumerate() {
            for step in 1..h.len() {
                let rate =
                    (h[step].value - h[step - 1].value) / (h[step].weighed - h[step - 1].weighed);
                moves.push(Move { rate, prompt, step });
            }
        }
        // Ties by prompt then step, so the order never depends on anything but the input.
        moves.sort_by(|a, b| {
            b.rate
                .total_cmp(&a.rate)
                .then(a.prompt.cmp(&b.prompt))
                .then(a.step.cmp(&b.step))
        });
        LambdaPath { hulls, moves }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::select::testing::candidate;

    #[test]
    fn the_hull_drops_dominated_and_concave_points() {
        let c = [
            candidate("a", 0.5, 1.0),
            candidate("dominated", 0.4, 2.0),
            candidate("under", 0.55, 3.0),
            candidate("b", 0.9, 4.0),
        ];
        let ids: Vec<usize> = hull(&c).iter().map(|p| p.candidate).collect();
        assert_eq!(ids, [0, 3]);
    }
}

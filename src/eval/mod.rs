//! Offline evaluation on a routing table: the router's accuracy–cost curve against the single
//! models, the oracle and random routing, with the metrics of the Routoo paper, RouterBench
//! (AIQ, as its `evaluation/AIQ.py` computes it) and RouteLLM (APGR and CPT, as
//! `routellm/evals/evaluate.py` computes them).
//!
//! The router decides with its own estimates (predicted quality, pool prices × token
//! estimates); each choice is charged the table's true cost and scored with its true label.

mod bootstrap;
mod inputs;
mod metrics;
mod table;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::hull::{LambdaPath, Move};
use crate::select::Candidate;

pub use self::bootstrap::{intervals, Interval, Intervals};
pub use self::inputs::Inputs;
pub use self::metrics::{aiq, aiq_range};
use self::metrics::{mean, pair, Sum};
pub use self::table::{models_in, Selection, Table};

/// Accuracy and mean true cost of one way of routing.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Score {
    /// Fraction of rows answered correctly.
    pub accuracy: f64,
    /// Mean US$ per row.
    pub mean_cost: f64,
}

/// One point of the router's curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Point {
    /// λ, quality per US$.
    pub lambda: f64,
    /// Fraction of rows answered correctly.
    pub accuracy: f64,
    /// Mean true US$ per row.
    pub mean_cost: f64,
}

/// Everything `routoo eval --json` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Rows evaluated.
    pub rows: usize,
    /// Each model alone.
    pub models: BTreeMap<String, Score>,
    /// Always the cheapest correct model (the cheapest model when none is correct).
    pub oracle: Score,
    /// A model drawn uniformly at random for each row (expected values).
    pub random: Score,
    /// The router, from always-cheapest to always-best-predicted.
    pub curve: Vec<Point>,
    /// Router's lowest mean cost reaching the model's accuracy ÷ the model's mean cost.
    pub cost_to_match: BTreeMap<String, Option<f64>>,
    /// Router's best accuracy at a mean cost ≤ the model's, minus the model's accuracy; `None`
    /// when even the router's cheapest routing costs more than the model.
    pub gain_at_cost: BTreeMap<String, Option<f64>>,
    /// RouterBench's AIQ: the area under the non-decreasing convex hull of (cost, accuracy),
    /// from the cheapest to the dearest point, ÷ the largest cost (as `evaluation/AIQ.py`).
    pub aiq: f64,
    /// The same area ÷ the cost range (the figure `routoo eval` called AIQ before).
    pub aiq_range: f64,
    /// RouteLLM's APGR, for exactly two models: the gap between the weak and the strong model
    /// recovered, averaged over every share of calls to the strong model from 0 to 1
    /// (trapezoid), the rows sent to it in order of predicted gain (its "strong win rate").
    pub apgr: Option<f64>,
    /// The same, the rows ordered by predicted gain ÷ estimated extra cost (the order in which
    /// argmax(quality − λ·cost) moves them as λ falls).
    pub apgr_by_cost: Option<f64>,
    /// RouteLLM's CPT(50 %): the share of calls to the strong model (in APGR's order) at which
    /// half the gap is first recovered; `None` when never or not two models.
    pub cpt50: Option<f64>,
    /// CPT(80 %), likewise.
    pub cpt80: Option<f64>,
}

/// The router's accuracy and true cost for every λ, from λ = ∞ (each row on its cheapest
/// estimate) down to λ = 0 (each row on its highest predicted quality).
///
/// The choice argmax(quality − λ·cost) changes only where λ crosses the slope of a row's upper
/// hull of (estimated cost, quality), so the sweep walks those slopes in order (the path batch
/// routing walks) instead of sampling a grid, and sees every routing the router can make.
/// Returns the points no cheaper point matches in accuracy, by increasing λ.
fn sweep(inputs: &Inputs) -> Vec<Point> {
    let segments = inputs.candidates_by_incumbent();
    let mut points = Vec::new();
    for (s, (from, candidates, index)) in segments.iter().enumerate() {
        let until = segments.get(s + 1).map_or(f64::INFINITY, |next| next.0);
        walk(inputs, candidates, index, *from, until, &mut points);
    }
    // Keep what a budget can buy: each point must beat every cheaper one in accuracy.
    points.sort_by(|a, b| {
        a.mean_cost
            .total_cmp(&b.mean_cost)
            .then(b.accuracy.total_cmp(&a.accuracy))
    });
    let mut best = f64::NEG_INFINITY;
    points.retain(|p| {
        let keep = p.accuracy > best;
        best = best.max(p.accuracy);
        keep
    });
    points.sort_by(|a, b| a.lambda.total_cmp(&b.lambda));
    points
}

/// The routings of [`sweep`] whose λ lies in `[from, until)`, where every row's options are
/// `candidates` (one incumbent holds there), pushed onto `points`: the path's states in turn,
/// each valid from the next move's rate up to its own.
fn walk(
    inputs: &Inputs,
    candidates: &[Vec<Candidate>],
    index: &[Vec<usize>],
    from: f64,
    until: f64,
    points: &mut Vec<Point>,
) {
    let n = inputs.correct.len();
    let path = LambdaPath::new(candidates);
    let model = |r: usize, step: usize| -> Option<usize> {
        let h = path.hulls[r].get(step)?;
        index[r].get(h.candidate).copied()
    };
    // Counts are exact; the spend is summed with Neumaier's compensation so that a point
    // routing every row to one model costs what that model does, to the last bit or two.
    let (mut right, mut spend) = (0i64, Sum::default());
    for r in 0..n {
        // A row no model can take (context windows) goes to the first model.
        let m = model(r, 0).unwrap_or(0);
        right += i64::from(inputs.correct[r][m]);
        spend.add(inputs.cost[r][m]);
    }
    let point = |lambda: f64, right: i64, spend: &Sum| Point {
        lambda,
        accuracy: right as f64 / n.max(1) as f64,
        mean_cost: spend.value() / n.max(1) as f64,
    };
    // The state before the moves at rate `below` holds for λ from `below` up to `above`.
    let (mut i, mut above) = (0, f64::INFINITY);
    loop {
        let below = path.moves.get(i).map_or(0.0, |m| m.rate);
        if below < until && above > from {
            points.push(point(below.max(from), right, &spend));
        }
        if i >= path.moves.len() {
            break;
        }
        // Moves at one rate happen together: between two rates the routing is fixed.
        while i < path.moves.len() && path.moves[i].rate == below {
            let Move {
                prompt: r, step: j, ..
            } = path.moves[i];
            if let (Some(from), Some(to)) = (model(r, j - 1), model(r, j)) {
                right += i64::from(inputs.correct[r][to]) - i64::from(inputs.correct[r][from]);
                spend.add(inputs.cost[r][to]);
                spend.add(-inputs.cost[r][from]);
            }
            i += 1;
        }
        above = below;
    }
}

/// Relative slack when comparing the router's mean cost with a model's: both are sums of the
/// same numbers in different orders.
const COST_SLACK: f64 = 1e-9;

/// Evaluates the router on `inputs`.
pub fn evaluate(inputs: &Inputs) -> Report {
    let n = inputs.correct.len();
    let k = inputs.pool.models.len();
    let score_of = |pick: &dyn Fn(usize) -> usize| Score {
        accuracy: mean(
            (0..n).map(|r| f64::from(u8::from(inputs.correct[r][pick(r)]))),
            n,
        ),
        mean_cost: mean((0..n).map(|r| inputs.cost[r][pick(r)]), n),
    };
    let models: BTreeMap<String, Score> = (0..k)
        .map(|m| (inputs.pool.models[m].id.clone(), score_of(&|_| m)))
        .collect();
    let oracle = score_of(&|r| {
        let by_cost = |a: &usize, b: &usize| inputs.cost[r][*a].total_cmp(&inputs.cost[r][*b]);
        (0..k)
            .filter(|&m| inputs.correct[r][m])
            .min_by(by_cost)
            .or_else(|| (0..k).min_by(by_cost))
            .unwrap_or(0)
    });
    let random = Score {
        accuracy: mean(models.values().map(|s| s.accuracy), k),
        mean_cost: mean(models.values().map(|s| s.mean_cost), k),
    };
    let curve = sweep(inputs);
    let cost_to_match = models
        .iter()
        .map(|(id, s)| {
            let best = curve
                .iter()
                .filter(|p| p.accuracy >= s.accuracy)
                .map(|p| p.mean_cost)
                .min_by(f64::total_cmp);
            let snap = |r: f64| {
                if (r - 1.0).abs() <= COST_SLACK {
                    1.0
                } else {
                    r
                }
            };
            (id.clone(), best.map(|c| snap(ratio(c, s.mean_cost))))
        })
        .collect();
    let gain_at_cost = models
        .iter()
        .map(|(id, s)| {
            let best = curve
                .iter()
                .filter(|p| p.mean_cost <= s.mean_cost * (1.0 + COST_SLACK))
                .map(|p| p.accuracy)
                .max_by(f64::total_cmp);
            (id.clone(), best.map(|a| a - s.accuracy))
        })
        .collect();
    let points: Vec<(f64, f64)> = curve.iter().map(|p| (p.mean_cost, p.accuracy)).collect();
    let pair = (k == 2).then(|| pair(inputs));
    Report {
        rows: n,
        aiq: aiq(&points),
        aiq_range: aiq_range(&points),
        apgr: pair.as_ref().map(|p| p.apgr),
        apgr_by_cost: pair.as_ref().map(|p| p.apgr_by_cost),
        cpt50: pair.as_ref().and_then(|p| p.cpt50),
        cpt80: pair.as_ref().and_then(|p| p.cpt80),
        models,
        oracle,
        random,
        curve,
        cost_to_match,
        gain_at_cost,
    }
}

fn ratio(cost: f64, of: f64) -> f64 {
    if of > 0.0 {
        cost / of
    } else if cost > 0.0 {
        f64::INFINITY
    } else {
        1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pool::{Pool, PoolModel};
    use crate::predictor::{ModelQuality, Prediction};
    use crate::select::Margin;
    #[cfg(not(target_arch = "wasm32"))]
    use crate::select::{self, Constraints};

    /// A pool whose estimate for a 4-character prompt (one token, no output) is `price` US$.
    fn pool(models: &[(&str, f64)]) -> Pool {
        Pool {
            expected_output_tokens: 0,
            models: models
                .iter()
                .map(|&(id, price)| PoolModel {
                    id: id.into(),
                    provider: "test".into(),
                    api_model: id.into(),
                    base_url: "http://127.0.0.1".into(),
                    price_in: price * 1e6,
                    price_out: 0.0,
                    context_window: 100,
                    latency_ms: 1,
                    expected_output_tokens: None,
                    ..Default::default()
                })
                .collect(),
        }
    }

    /// Two rows per pattern of which model is right, three models of rising price.
    fn inputs(quality: impl Fn(usize, usize, bool) -> f64) -> Inputs {
        let correct = vec![
            vec![true, true, true],
            vec![false, true, true],
            vec![false, false, true],
            vec![false, false, false],
            vec![true, false, true],
        ];
        let price = [1.0, 2.0, 4.0];
        let cost: Vec<Vec<f64>> = (0..correct.len()).map(|_| price.to_vec()).collect();
        let quality = (0..correct.len())
            .map(|r| (0..3).map(|m| quality(r, m, correct[r][m])).collect())
            .collect();
        Inputs {
            billing: Vec::new(),
            pool: pool(&[("small", 1.0), ("medium", 2.0), ("large", 4.0)]),
            chars: vec![4; correct.len()],
            sd: vec![vec![0.0; 3]; correct.len()],
            correct,
            cost,
            quality,
            margin: Margin::default(),
        }
    }

    #[test]
    fn a_perfect_predictor_reaches_the_oracle() {
        let report = evaluate(&inputs(|_, _, right| f64::from(u8::from(right))));
        assert_eq!(report.rows, 5);
        assert_eq!(report.oracle.accuracy, 0.8);
        assert_eq!(report.oracle.mean_cost, (1.0 + 2.0 + 4.0 + 1.0 + 1.0) / 5.0);
        assert!(report.curve.iter().any(
            |p| p.accuracy == report.oracle.accuracy && p.mean_cost == report.oracle.mean_cost
        ));
        assert_eq!(report.cost_to_match["large"], Some(1.8 / 4.0));
        assert_eq!(report.gain_at_cost["small"], Some(0.0));
        assert!(report.aiq_range > report.random.accuracy);
        // RouterBench's AIQ leaves out the area left of the cheapest point.
        let costs = report.curve.iter().map(|p| p.mean_cost);
        let (lo, hi) = (
            costs.clone().fold(f64::INFINITY, f64::min),
            costs.fold(0.0, f64::max),
        );
        assert!((report.aiq - report.aiq_range * (hi - lo) / hi).abs() < 1e-12);
    }

    #[test]
    fn a_constant_predictor_traces_the_single_models() {
        let base = [0.4, 0.6, 0.8];
        let report = evaluate(&inputs(|_, m, _| base[m]));
        for p in &report.curve {
            assert!(
                report
                    .models
                    .values()
                    .any(|s| s.accuracy == p.accuracy && s.mean_cost == p.mean_cost),
                "{p:?} is no single model"
            );
        }
        assert_eq!(report.curve.first().map(|p| p.mean_cost), Some(4.0));
        assert_eq!(report.curve.last().map(|p| p.mean_cost), Some(1.0));
        assert_eq!(report.cost_to_match["large"], Some(1.0));
        assert_eq!(report.gain_at_cost["medium"], Some(0.0));
        assert_eq!(report.apgr, None);
    }

    #[test]
    fn an_adversarial_predictor_never_matches_the_best_model() {
        let report = evaluate(&inputs(|_, _, right| f64::from(u8::from(!right))));
        assert_eq!(report.cost_to_match["large"], None);
        assert!(matches!(report.gain_at_cost["large"], Some(g) if g < 0.0));
    }

    // proptest is a native-only dev-dependency.
    #[cfg(not(target_arch = "wasm32"))]
    proptest::proptest! {
        /// No λ gives a routing the sweep misses: at any λ, the top of `select::rank` on every
        /// row scores a point that some curve point matches in accuracy at no higher cost.
        #[test]
        fn the_sweep_dominates_every_lambda(
            rows in proptest::collection::vec(
                (proptest::collection::vec((0.0..1.0f64, proptest::bool::ANY), 3), 1..400usize),
                1..30,
            ),
            lambdas in proptest::collection::vec(0.0..1e3f64, 1..20),
        ) {
            let inputs = Inputs {
                billing: Vec::new(),
                pool: pool(&[("small", 1.0), ("medium", 2.0), ("large", 4.0)]),
                chars: rows.iter().map(|r| r.1).collect(),
                correct: rows.iter().map(|r| r.0.iter().map(|m| m.1).collect()).collect(),
                cost: rows.iter().map(|r| vec![1.0 * r.1 as f64, 2.0 * r.1 as f64, 3.0]).collect(),
                quality: rows.iter().map(|r| r.0.iter().map(|m| m.0).collect()).collect(),
                sd: rows.iter().map(|_| vec![0.0; 3]).collect(),
                margin: Margin::default(),
            };
            let report = evaluate(&inputs);
            let none = Constraints::default();
            for lambda in lambdas {
                let (mut right, mut spend) = (0.0, 0.0);
                for r in 0..rows.len() {
                    let q = inputs.estimates(r);
                    let (ranked, _) = select::rank(&inputs.pool, &q, inputs.chars[r], lambda, &inputs.margin, &none);
                    let m = inputs.pool.models.iter().position(|m| m.id == ranked[0].model).unwrap();
                    right += f64::from(u8::from(inputs.correct[r][m]));
                    spend += inputs.cost[r][m];
                }
                let (acc, cost) = (right / rows.len() as f64, spend / rows.len() as f64);
                proptest::prop_assert!(
                    report.curve.iter().any(|p| p.accuracy >= acc - 1e-9 && p.mean_cost <= cost + 1e-9),
                    "lambda {lambda}: ({acc}, {cost}) is above the curve {:?}", report.curve
                );
            }
        }
    }

    #[test]
    fn aiq_edge_cases() {
        assert_eq!(aiq(&[]), 0.0);
        assert_eq!(aiq(&[(3.0, 0.7)]), 0.7);
        assert_eq!(aiq(&[(1.0, 0.5), (1.0, 0.6)]), 0.6);
        assert!((aiq(&[(0.0, 0.0), (1.0, 1.0)]) - 0.5).abs() < 1e-12);
        // A dip under the hull does not count; past the peak the hull stays flat.
        let with_dip = [(0.0, 0.0), (0.5, 0.1), (1.0, 1.0), (2.0, 0.2)];
        assert!((aiq(&with_dip) - (0.5 + 1.0) / 2.0).abs() < 1e-12);
        // RouterBench's code divides by the largest cost, not the range: from 1 to 3 the
        // hull's area is 1.5, over a largest cost of 3 and a range of 2.
        let shifted = [(1.0, 0.5), (3.0, 1.0)];
        assert!(
            (aiq(&shifted) - 1.5 / 3.0).abs() < 1e-12,
            "{}",
            aiq(&shifted)
        );
        assert!((aiq_range(&shifted) - 1.5 / 2.0).abs() < 1e-12);
    }

    #[test]
    fn apgr_of_two_models() {
        let make = |quality: [[f64; 2]; 4], strong_price: [f64; 4]| Inputs {
            billing: Vec::new(),
            pool: pool(&[("weak", 1.0), ("strong", 10.0)]),
            chars: strong_price.iter().map(|&p| 4 * p as usize).collect(),
            correct: vec![
                vec![true, true],
                vec![true, true],
                vec![false, true],
                vec![false, true],
            ],
            cost: vec![vec![1.0, 10.0]; 4],
            quality: quality.iter().map(|q| q.to_vec()).collect(),
            sd: vec![vec![0.0; 2]; 4],
            margin: Margin::default(),
        };
        let short = [1.0; 4];
        let perfect = evaluate(&make(
            [[1.0, 1.0], [1.0, 1.0], [0.0, 1.0], [0.0, 1.0]],
            short,
        ));
        assert_eq!(perfect.apgr, Some(0.75));
        assert_eq!(perfect.apgr_by_cost, Some(0.75));
        // Half the gap after 1 of 4 rows, 80 % after 1.6.
        assert_eq!(perfect.cpt50, Some(0.25));
        assert!((perfect.cpt80.unwrap() - 0.4).abs() < 1e-12);
        let backwards = evaluate(&make(
            [[0.0, 1.0], [0.0, 1.0], [1.0, 1.0], [1.0, 1.0]],
            short,
        ));
        assert_eq!(backwards.apgr, Some(0.25));
        assert_eq!(backwards.cpt50, Some(0.75));
        // Right gains, but the gaining rows are long prompts: per dollar they come last, so only
        // the order by predicted gain (RouteLLM's) sees a perfect router.
        let long_gainers = [1.0, 1.0, 50.0, 50.0];
        let mixed = evaluate(&make(
            [[0.5, 0.6], [0.5, 0.6], [0.1, 0.9], [0.1, 0.9]],
            long_gainers,
        ));
        assert_eq!(mixed.apgr, Some(0.75));
        assert_eq!(mixed.apgr_by_cost, Some(0.25));
        let three = evaluate(&inputs(|_, m, _| m as f64));
        assert_eq!((three.apgr, three.cpt50), (None, None));
    }

    #[test]
    fn a_selection_joins_table_pool_and_predictions() {
        let csv = "id,benchmark,subject,prompt,a,b,c,a|cost,b|cost,c|cost\n\
                   r1,m,,Q1,1,0,1,0.1,0.2,0.3\n\
                   r2,m,,Q2,0,,1,0.1,,0.3\n\
                   r3,m,,Q3,0,1,0,0.1,0.2,0.3\n";
        let table = Table::from_csv(csv.as_bytes()).unwrap();
        let three = pool(&[("b", 2.0), ("a", 1.0), ("c", 3.0)]);
        let heads = |id: &str| id != "c";
        let sel = Selection::new(&table, &three, heads, None).unwrap();
        assert_eq!(sel.models, ["a", "b"]);
        assert_eq!(sel.rows, [0, 2]);
        let ids: Vec<&str> = sel.pool.models.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["a", "b"], "the sub-pool follows the evaluated order");
        assert_eq!(sel.prompts(&table), ["Q1", "Q3"]);
        let prediction = |qa: f64, qb: f64| Prediction {
            tokens: 1,
            truncated: false,
            chars: 4,
            uncalibrated: None,
            needs: Vec::new(),
            quality: vec![
                ModelQuality {
                    model: "b".into(),
                    quality: qb,
                    sd: 0.0,
                    billing: None,
                },
                ModelQuality {
                    model: "a".into(),
                    quality: qa,
                    sd: 0.0,
                    billing: None,
                },
            ],
        };
        let inputs = sel
            .inputs(
                &table,
                &[prediction(0.9, 0.1), prediction(0.2, 0.8)],
                Margin::default(),
            )
            .unwrap();
        assert_eq!(inputs.correct, [[true, false], [false, true]]);
        assert_eq!(inputs.cost, [[0.1, 0.2], [0.1, 0.2]]);
        assert_eq!(inputs.quality, [[0.9, 0.1], [0.2, 0.8]]);
        // At λ = 0 the router follows the predictions: both rows right at mixed cost.
        let report = evaluate(&inputs);
        assert_eq!(report.curve[0].accuracy, 1.0);
        assert!(sel
            .inputs(&table, &[prediction(0.5, 0.5)], Margin::default())
            .is_err());

        let err = |models: &[&str]| {
            let models: Vec<String> = models.iter().map(|m| m.to_string()).collect();
            Selection::new(&table, &three, |_| true, Some(&models))
                .unwrap_err()
                .to_string()
        };
        assert!(err(&["z"]).contains("no column \"z\""));
        let small = pool(&[("a", 1.0)]);
        let missing = Selection::new(&table, &small, |_| true, Some(&["b".to_string()]));
        assert!(missing
            .unwrap_err()
            .to_string()
            .contains("pool has no model \"b\""));
        let none = Selection::new(&table, &three, |_| false, None).unwrap_err();
        assert!(none.to_string().contains("no model of the table"));
    }

    #[test]
    fn tables_are_read_from_the_header() {
        let csv = "id,benchmark,subject,prompt,answer,a,b,a|cost,b|cost,b|response\n\
                   r1,mmlu,x,\"Q, with comma\nand newline\",B,1,,0.5,,\n\
                   r2,mmlu,x,Q2,'abc',0,1,0.5,2e-3,\"answer\"\n";
        let t = Table::from_csv(csv.as_bytes()).unwrap();
        assert_eq!(t.models, ["a", "b"]);
        assert_eq!(t.prompts[0], "Q, with comma\nand newline");
        assert_eq!(
            t.labels,
            [vec![Some(true), None], vec![Some(false), Some(true)]]
        );
        assert_eq!(t.costs[1], [Some(0.5), Some(0.002)]);
        assert_eq!(t.complete_rows(&[0, 1]), [1]);
        assert_eq!(t.complete_rows(&[0]), [0, 1]);
        let bad = "id,benchmark,subject,prompt,a,a|cost\nr1,m,,Q,yes,1\n";
        let err = Table::from_csv(bad.as_bytes()).unwrap_err().to_string();
        assert!(
            err.contains("row 2, column a") && err.contains("\"yes\""),
            "{err}"
        );
        let none = Table::from_csv("id,prompt\nr,Q\n".as_bytes()).unwrap_err();
        assert!(none.to_string().contains("no model column"));
    }
}

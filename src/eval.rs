//! Offline evaluation on a routing table: the router's accuracy–cost curve against the single
//! models, the oracle and random routing, with the metrics of the Routoo paper, RouterBench
//! (AIQ, as its `evaluation/AIQ.py` computes it) and RouteLLM (APGR and CPT, as
//! `routellm/evals/evaluate.py` computes them).
//!
//! The router decides with its own estimates (predicted quality, pool prices × token
//! estimates); each choice is charged the table's true cost and scored with its true label.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::batch::{upper_hull, Path};
use crate::cost;
use crate::error::{Error, Result};
use crate::pool::Pool;
use crate::predictor::{Estimate, Prediction};
use crate::select::{self, Candidate, Constraints, Margin};

/// Columns that are never a model: the row's identity, its prompt and the reference answer.
const FIXED: [&str; 5] = ["id", "benchmark", "subject", "prompt", "answer"];

/// A routing table: per prompt, which model answered correctly and at what cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Row ids.
    pub ids: Vec<String>,
    /// Prompts.
    pub prompts: Vec<String>,
    /// Model ids, from the header (columns that are neither fixed nor contain `|`).
    pub models: Vec<String>,
    /// `labels[row][model]`: `Some(true)` if correct, `None` if not evaluated.
    pub labels: Vec<Vec<Option<bool>>>,
    /// `costs[row][model]`: US$ charged, `None` if not evaluated.
    pub costs: Vec<Vec<Option<f64>>>,
}

impl Table {
    /// Reads a table in the format of the routing data (CSV, header row, RFC 4180 quoting).
    pub fn from_csv(data: impl std::io::Read) -> Result<Table> {
        let bad = |m: String| Error::Table(m);
        let mut reader = csv::Reader::from_reader(data);
        let header = reader.headers().map_err(|e| bad(e.to_string()))?.clone();
        let col = |name: &str| header.iter().position(|h| h == name);
        let (id, prompt) = match (col("id"), col("prompt")) {
            (Some(i), Some(p)) => (i, p),
            _ => return Err(bad("the header needs an `id` and a `prompt` column".into())),
        };
        let models: Vec<String> = header
            .iter()
            .filter(|h| !FIXED.contains(h) && !h.contains('|'))
            .map(String::from)
            .collect();
        if models.is_empty() {
            return Err(bad("the header names no model column".into()));
        }
        let label_cols: Vec<usize> = models.iter().filter_map(|m| col(m)).collect();
        let cost_cols: Vec<Option<usize>> =
            models.iter().map(|m| col(&format!("{m}|cost"))).collect();
        let mut t = Table {
            ids: Vec::new(),
            prompts: Vec::new(),
            models,
            labels: Vec::new(),
            costs: Vec::new(),
        };
        for (n, record) in reader.records().enumerate() {
            let record = record.map_err(|e| bad(e.to_string()))?;
            let row = n + 2; // 1-based, after the header
            let cell = |i: usize| record.get(i).unwrap_or("").trim();
            let mut labels = Vec::with_capacity(label_cols.len());
            let mut costs = Vec::with_capacity(label_cols.len());
            for (k, (&lc, cc)) in label_cols.iter().zip(&cost_cols).enumerate() {
                let label = match cell(lc) {
                    "" => None,
                    "1" | "1.0" => Some(true),
                    "0" | "0.0" => Some(false),
                    other => {
                        return Err(bad(format!(
                            "row {row}, column {}: label {other:?} is not 0, 1 or empty",
                            t.models[k]
                        )))
                    }
                };
                let cost = match cc.map(cell).unwrap_or("") {
                    "" => None,
                    text => Some(
                        text.parse::<f64>()
                            .ok()
                            .filter(|c| c.is_finite() && *c >= 0.0)
                            .ok_or_else(|| {
                                bad(format!(
                                    "row {row}, column {}|cost: {text:?} is not a cost",
                                    t.models[k]
                                ))
                            })?,
                    ),
                };
                labels.push(label);
                costs.push(cost);
            }
            t.ids.push(cell(id).to_string());
            t.prompts.push(record.get(prompt).unwrap_or("").to_string());
            t.labels.push(labels);
            t.costs.push(costs);
        }
        Ok(t)
    }

    /// Rows on which every model of `models` (indices into [`Table::models`]) has a label and
    /// a cost.
    pub fn complete_rows(&self, models: &[usize]) -> Vec<usize> {
        (0..self.ids.len())
            .filter(|&r| {
                models
                    .iter()
                    .all(|&m| self.labels[r][m].is_some() && self.costs[r][m].is_some())
            })
            .collect()
    }
}

/// The models and rows of a table an evaluation uses, and the pool the router prices them with.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    /// Model ids evaluated.
    pub models: Vec<String>,
    /// Their columns in [`Table::models`].
    pub columns: Vec<usize>,
    /// Rows on which every evaluated model has a label and a cost.
    pub rows: Vec<usize>,
    /// The pool restricted to the evaluated models, in the same order.
    pub pool: Pool,
}

impl Selection {
    /// Chooses what to evaluate: `models`, or by default every model of the table that
    /// `has_head` accepts; each needs a column in the table and an entry in `pool`.
    pub fn new(
        table: &Table,
        pool: &Pool,
        has_head: impl Fn(&str) -> bool,
        models: Option<&[String]>,
    ) -> Result<Selection> {
        let bad = |m: String| Error::Table(m);
        let models: Vec<String> = match models {
            Some(ids) => ids.to_vec(),
            None => table
                .models
                .iter()
                .filter(|m| has_head(m))
                .cloned()
                .collect(),
        };
        if models.is_empty() {
            return Err(bad(
                "no model of the table has a head in the predictor".into()
            ));
        }
        let mut columns = Vec::with_capacity(models.len());
        let mut pool_models = Vec::with_capacity(models.len());
        for id in &models {
            let column = table.models.iter().position(|m| m == id);
            columns.push(column.ok_or_else(|| bad(format!("the table has no column {id:?}")))?);
            if !has_head(id) {
                return Err(bad(format!("the predictor has no head for {id:?}")));
            }
            let model = pool.model(id).cloned();
            pool_models.push(model.ok_or_else(|| bad(format!("the pool has no model {id:?}")))?);
        }
        let rows = table.complete_rows(&columns);
        if rows.is_empty() {
            return Err(bad(format!("no row labels every model of {models:?}")));
        }
        Ok(Selection {
            models,
            columns,
            rows,
            pool: Pool {
                expected_output_tokens: pool.expected_output_tokens,
                models: pool_models,
            },
        })
    }

    /// The prompts of the selected rows, in order.
    pub fn prompts<'t>(&self, table: &'t Table) -> Vec<&'t str> {
        self.rows
            .iter()
            .map(|&r| table.prompts[r].as_str())
            .collect()
    }

    /// Joins the table's truth with the router's predictions, one per selected row, and the
    /// margin the router applies over the selection's pool ([`crate::Router::margin_for`]).
    pub fn inputs(
        &self,
        table: &Table,
        predictions: &[Prediction],
        margin: Margin,
    ) -> Result<Inputs> {
        if predictions.len() != self.rows.len() {
            return Err(Error::Table(format!(
                "{} predictions for {} rows",
                predictions.len(),
                self.rows.len()
            )));
        }
        Ok(Inputs {
            pool: self.pool.clone(),
            chars: predictions.iter().map(|p| p.chars).collect(),
            correct: self
                .rows
                .iter()
                .map(|&r| {
                    self.columns
                        .iter()
                        .map(|&c| table.labels[r][c] == Some(true))
                        .collect()
                })
                .collect(),
            cost: self
                .rows
                .iter()
                .map(|&r| {
                    self.columns
                        .iter()
                        .map(|&c| table.costs[r][c].unwrap_or(0.0))
                        .collect()
                })
                .collect(),
            quality: predictions
                .iter()
                .map(|p| {
                    self.models
                        .iter()
                        .map(|id| p.quality_of(id).unwrap_or(0.0))
                        .collect()
                })
                .collect(),
            sd: predictions
                .iter()
                .map(|p| {
                    (self.models.iter())
                        .map(|id| p.estimate_of(id).map_or(0.0, |e| e.sd))
                        .collect()
                })
                .collect(),
            margin,
        })
    }
}

/// What the router knows and what the table says, for the rows and models evaluated.
///
/// All matrices are `[row][model]`, models in the order of `pool.models`.
#[derive(Debug, Clone, PartialEq)]
pub struct Inputs {
    /// The evaluated models with the prices the router estimates costs from.
    pub pool: Pool,
    /// Prompt length of each row, in characters (what the cost estimate reads).
    pub chars: Vec<usize>,
    /// True labels.
    pub correct: Vec<Vec<bool>>,
    /// True US$ charged.
    pub cost: Vec<Vec<f64>>,
    /// The router's predicted quality.
    pub quality: Vec<Vec<f64>>,
    /// Its standard deviation.
    pub sd: Vec<Vec<f64>>,
    /// The selector's margin over `pool`.
    pub margin: Margin,
}

impl Inputs {
    /// The same rows with only the models `subset` (indices into the pool), in that order.
    pub fn subset(&self, subset: &[usize]) -> Inputs {
        let pick = |row: &Vec<f64>| {
            subset
                .iter()
                .map(|&m| row.get(m).copied().unwrap_or(0.0))
                .collect()
        };
        Inputs {
            pool: Pool {
                expected_output_tokens: self.pool.expected_output_tokens,
                models: subset
                    .iter()
                    .map(|&m| self.pool.models[m].clone())
                    .collect(),
            },
            chars: self.chars.clone(),
            correct: (self.correct.iter())
                .map(|row| subset.iter().map(|&m| row[m]).collect())
                .collect(),
            cost: self.cost.iter().map(pick).collect(),
            quality: self.quality.iter().map(pick).collect(),
            sd: self.sd.iter().map(pick).collect(),
            margin: Margin {
                kappa: self.margin.kappa,
                average: pick(&self.margin.average),
            },
        }
    }

    /// The router's estimated US$ for model `m` on row `r`.
    fn estimate(&self, r: usize, m: usize) -> f64 {
        cost::estimate(&self.pool, &self.pool.models[m], self.chars[r]).usd
    }

    /// Row `r`'s estimates, in pool order.
    pub fn estimates(&self, r: usize) -> Vec<Estimate> {
        let sd = |m: usize| self.sd.get(r).and_then(|s| s.get(m)).copied();
        (self.quality[r].iter().enumerate())
            .map(|(m, &quality)| Estimate {
                quality,
                sd: sd(m).unwrap_or(0.0),
            })
            .collect()
    }

    /// The models the router may choose on each row, priced by [`select::rank`] (the code the
    /// browser ranks with), as indices into the pool.
    fn candidates(&self) -> (Vec<Vec<Candidate>>, Vec<Vec<usize>>) {
        let none = Constraints::default();
        (0..self.correct.len())
            .map(|r| {
                let (ranked, _) = select::rank(
                    &self.pool,
                    &self.estimates(r),
                    self.chars[r],
                    0.0,
                    &self.margin,
                    &none,
                );
                let index = ranked
                    .iter()
                    .map(|c| {
                        let at = self.pool.models.iter().position(|m| m.id == c.model);
                        at.unwrap_or(0)
                    })
                    .collect();
                (ranked, index)
            })
            .unzip()
    }
}

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

/// RouteLLM's measures for two models.
struct Pair {
    apgr: f64,
    apgr_by_cost: f64,
    cpt50: Option<f64>,
    cpt80: Option<f64>,
}

fn mean(values: impl Iterator<Item = f64>, n: usize) -> f64 {
    values.sum::<f64>() / n.max(1) as f64
}

/// The router's accuracy and true cost for every λ, from λ = ∞ (each row on its cheapest
/// estimate) down to λ = 0 (each row on its highest predicted quality).
///
/// The choice argmax(quality − λ·cost) changes only where λ crosses the slope of a row's upper
/// hull of (estimated cost, quality), so the sweep walks those slopes in order (the path batch
/// routing walks) instead of sampling a grid, and sees every routing the router can make.
/// Returns the points no cheaper point matches in accuracy, by increasing λ.
fn sweep(inputs: &Inputs) -> Vec<Point> {
    let n = inputs.correct.len();
    let (candidates, index) = inputs.candidates();
    let path = Path::new(&candidates);
    let model = |r: usize, step: usize| -> Option<usize> {
        let h = path.hulls[r].get(step)?;
        index[r].get(h.2).copied()
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
    let mut points = Vec::new();
    let point = |lambda: f64, right: i64, spend: &Sum| Point {
        lambda,
        accuracy: right as f64 / n.max(1) as f64,
        mean_cost: spend.value() / n.max(1) as f64,
    };
    let mut i = 0;
    while i < path.moves.len() {
        let rate = path.moves[i].0;
        points.push(point(rate, right, &spend));
        // Moves at one rate happen together: between two rates the routing is fixed.
        while i < path.moves.len() && path.moves[i].0 == rate {
            let (_, r, j) = path.moves[i];
            if let (Some(from), Some(to)) = (model(r, j - 1), model(r, j)) {
                right += i64::from(inputs.correct[r][to]) - i64::from(inputs.correct[r][from]);
                spend.add(inputs.cost[r][to]);
                spend.add(-inputs.cost[r][from]);
            }
            i += 1;
        }
    }
    points.push(point(0.0, right, &spend));
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

/// Neumaier's compensated sum.
#[derive(Debug, Default, Clone, Copy)]
struct Sum {
    sum: f64,
    compensation: f64,
}

impl Sum {
    fn add(&mut self, x: f64) {
        let t = self.sum + x;
        self.compensation += if self.sum.abs() >= x.abs() {
            (self.sum - t) + x
        } else {
            (x - t) + self.sum
        };
        self.sum = t;
    }

    fn value(&self) -> f64 {
        self.sum + self.compensation
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
fn pair(inputs: &Inputs) -> Pair {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pool::PoolModel;
    use crate::predictor::ModelQuality;

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
            quality: vec![
                ModelQuality {
                    model: "b".into(),
                    quality: qb,
                    sd: 0.0,
                },
                ModelQuality {
                    model: "a".into(),
                    quality: qa,
                    sd: 0.0,
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

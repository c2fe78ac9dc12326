//! What an evaluation reads: the router's estimates and the table's truth, row by row.

use std::collections::HashMap;

use crate::cost::{self, Billing};
use crate::pool::Pool;
use crate::predictor::Estimate;
use crate::select::{self, Candidate, Constraints, Incumbents, Margin};

/// Every row's candidates and their indices into the pool, from the λ an incumbent holds from.
pub(super) type Segment = (f64, Vec<Vec<Candidate>>, Vec<Vec<usize>>);

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
    /// How the routing data billed each model's answers to such a prompt, where the bundle
    /// knows it (empty: the pool's estimate throughout).
    pub billing: Vec<Vec<Option<Billing>>>,
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
            billing: (self.billing.iter())
                .map(|row| {
                    subset
                        .iter()
                        .map(|&m| row.get(m).copied().flatten())
                        .collect()
                })
                .collect(),
            // The tables label every model they evaluate.
            margin: self.margin.subset(subset).with_unknown(Vec::new()),
        }
    }

    /// The rows `rows` (indices, repeats allowed) with every model: a bootstrap's draw.
    pub fn rows(&self, rows: &[usize]) -> Inputs {
        fn pick<T: Clone>(all: &[T], rows: &[usize]) -> Vec<T> {
            rows.iter().filter_map(|&r| all.get(r).cloned()).collect()
        }
        Inputs {
            pool: self.pool.clone(),
            chars: pick(&self.chars, rows),
            correct: pick(&self.correct, rows),
            cost: pick(&self.cost, rows),
            quality: pick(&self.quality, rows),
            sd: pick(&self.sd, rows),
            // Empty (no billing) stays empty: `pick` skips rows it does not have.
            billing: pick(&self.billing, rows),
            margin: self.margin.clone(),
        }
    }

    /// The router's estimated US$ for model `m` on row `r`.
    pub(super) fn estimate(&self, r: usize, m: usize) -> f64 {
        cost::estimate(
            &self.pool,
            &self.pool.models[m],
            self.chars[r],
            self.billing_of(r, m),
        )
        .usd
    }

    fn billing_of(&self, r: usize, m: usize) -> Option<Billing> {
        self.billing
            .get(r)
            .and_then(|b| b.get(m))
            .copied()
            .flatten()
    }

    /// Row `r`'s estimates, in pool order.
    pub fn estimates(&self, r: usize) -> Vec<Estimate> {
        let sd = |m: usize| self.sd.get(r).and_then(|s| s.get(m)).copied();
        (self.quality[r].iter().enumerate())
            .map(|(m, &quality)| Estimate {
                quality,
                sd: sd(m).unwrap_or(0.0),
                billing: self.billing_of(r, m),
            })
            .collect()
    }

    /// [`Inputs::candidates`] against each incumbent the margin keeps along λ
    /// ([`Margin::incumbents`]), as `(from, candidates, indices)` by increasing `from`: each
    /// holds from its λ up to the next one's. One entry, from 0, when the incumbent never
    /// changes.
    pub(super) fn candidates_by_incumbent(&self) -> Vec<Segment> {
        let (candidates, index) = self.candidates();
        if self.margin.cost.is_empty() {
            return vec![(0.0, candidates, index)];
        }
        // Each row's allowed models in pool order (what the incumbent is chosen among), and
        // the incumbents of each distinct set, found once.
        let allowed: Vec<Vec<usize>> = (index.iter())
            .map(|i| {
                let mut set = i.clone();
                set.sort_unstable();
                set
            })
            .collect();
        let mut schedules: HashMap<&[usize], Incumbents> = HashMap::new();
        for set in &allowed {
            schedules
                .entry(set.as_slice())
                .or_insert_with(|| self.margin.incumbents(set));
        }
        let mut froms: Vec<f64> = schedules.values().flatten().map(|e| e.0).collect();
        froms.sort_by(f64::total_cmp);
        froms.dedup();
        // Every schedule starts at λ = 0, with the incumbent `candidates` were ranked against.
        let mut segments = vec![(0.0, candidates, index)];
        let none = Constraints::default();
        segments.extend((froms.into_iter().skip(1)).map(|from| {
            let (candidates, index) = (0..self.correct.len())
                .map(|r| {
                    let estimates = self.estimates(r);
                    let schedule = &schedules[allowed[r].as_slice()];
                    let best = (schedule.iter().rev())
                        .find(|e| e.0 <= from)
                        .and_then(|e| e.1);
                    let (ranked, _) = select::rank_by(
                        &self.pool,
                        &estimates,
                        self.chars[r],
                        0.0,
                        &none,
                        &self.margin,
                        |_| best,
                    );
                    let index = self.indices(&ranked);
                    (ranked, index)
                })
                .unzip();
            (from, candidates, index)
        }));
        segments
    }

    fn indices(&self, ranked: &[Candidate]) -> Vec<usize> {
        (ranked.iter())
            .map(|c| {
                let at = self.pool.models.iter().position(|m| m.id == c.model);
                at.unwrap_or(0)
            })
            .collect()
    }

    /// The models the router may choose on each row, priced by [`select::rank`] (the code the
    /// browser ranks with), as indices into the pool.
    pub(super) fn candidates(&self) -> (Vec<Vec<Candidate>>, Vec<Vec<usize>>) {
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
                let index = self.indices(&ranked);
                (ranked, index)
            })
            .unzip()
    }
}

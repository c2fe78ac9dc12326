//! A routing table read from CSV, and the models and rows of it an evaluation uses.

use crate::error::{Error, Result};
use crate::pool::Pool;
use crate::predictor::Prediction;
use crate::select::Margin;

use super::Inputs;

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
        let models = models_of(&header)?;
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

/// The model ids a table's header names, without reading its rows.
pub fn models_in(data: impl std::io::Read) -> Result<Vec<String>> {
    let mut reader = csv::Reader::from_reader(data);
    let header = reader
        .headers()
        .map_err(|e| Error::Table(e.to_string()))?
        .clone();
    models_of(&header)
}

/// Model columns: neither fixed nor a `model|field` column.
fn models_of(header: &csv::StringRecord) -> Result<Vec<String>> {
    let models: Vec<String> = header
        .iter()
        .filter(|h| !FIXED.contains(h) && !h.contains('|'))
        .map(String::from)
        .collect();
    if models.is_empty() {
        return Err(Error::Table("the header names no model column".into()));
    }
    Ok(models)
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
            billing: predictions
                .iter()
                .map(|p| {
                    (self.models.iter())
                        .map(|id| p.estimate_of(id).and_then(|e| e.billing))
                        .collect()
                })
                .collect(),
            margin,
        })
    }
}

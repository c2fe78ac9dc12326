//! The pool: the models a user can route to, with what they cost and where they live.

use serde::{Deserialize, Serialize};

use crate::endpoint::Endpoint;
use crate::error::{Error, Result};

/// Output tokens assumed for an answer when neither the pool nor the model says.
pub const DEFAULT_OUTPUT_TOKENS: u32 = 256;

/// A set of models to route between.
///
/// Written as JSON with camelCase keys; see `www/pool.json` for the default pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Pool {
    /// Output tokens expected of an answer, for cost estimates. By default 256.
    #[serde(default = "default_output_tokens")]
    pub expected_output_tokens: u32,
    /// The models, in no particular order; at most [`crate::bounded::MAX_MODELS`].
    #[serde(deserialize_with = "crate::bounded::models")]
    pub models: Vec<PoolModel>,
}

/// One model a request can go to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PoolModel {
    /// Model id; must match a head of the predictor.
    pub id: String,
    /// Who serves it, e.g. `openai`, `anthropic`, `google`, `together`, `local`.
    pub provider: String,
    /// The model name the provider's API expects.
    pub api_model: String,
    /// Base URL of the provider's API.
    pub base_url: String,
    /// US$ per 1M input tokens.
    pub price_in: f64,
    /// US$ per 1M output tokens.
    pub price_out: f64,
    /// Most tokens (prompt + answer) the model takes.
    pub context_window: u32,
    /// Typical time to a full answer, in milliseconds.
    pub latency_ms: u32,
    /// Output tokens expected of this model's answers, if it differs from the pool's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_output_tokens: Option<u32>,
    /// A labelled model whose head this one borrows until it is calibrated ("like
    /// claude-3-5-sonnet"): its estimates are that model's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub like: Option<String>,
    /// No head and none borrowed: routed with the predictor's prior (an average model, as
    /// unsure as models differ) until it is calibrated.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub uncalibrated: bool,
    /// Labelled in the routing data but not offered today (no longer served, or a predecessor
    /// of today's models kept for evaluation): a page leaves it off unless the user turns it on.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub historical: bool,
    /// The day the prices were read from the provider's pricing page (YYYY-MM-DD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_date: Option<String>,
    /// The page the prices were read from (an `https://` URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_source: Option<String>,
    /// How hard this entry's model thinks (`low`, `medium`, `high`, ...), sent in each
    /// provider's own setting (OpenAI `reasoning_effort`, Anthropic `output_config.effort`,
    /// Gemini `thinkingConfig.thinkingLevel`). One API model at two efforts is two entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<String>,
    /// Tokens of room for thinking (billed as output) added to the answer limit of every call
    /// to this entry's model, so that a model that thinks first does not spend the whole limit
    /// thinking and come back empty. A spend cap still bounds the sum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking_room: Option<u32>,
    /// The prices come from a page other than the provider's own (`priceSource` names it):
    /// shown as unconfirmed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub price_unconfirmed: bool,
    /// Published scores that place the model in the shared space when no head of its own
    /// (labels or a calibration) does: fitted on binding, under the prior of the labelled
    /// heads (see [`crate::card::place`]). Each names its source and date.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "crate::bounded::scores"
    )]
    pub scores: Vec<crate::card::Score>,
    /// Scheduled price changes, oldest first: each sets the prices from its day (UTC) on;
    /// before the first, `priceIn` and `priceOut` hold. See [`Pool::priced_on`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prices: Vec<PriceChange>,
    /// What the model can do beyond text: a request that needs tools or an answer schema is
    /// routed only among the models that list it. None by default.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub supports: Vec<Capability>,
    /// The output tokens its answers were really billed for (thinking included), kept from
    /// each answer's usage: the cost estimate moves from the expected output toward it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_output: Option<ObservedOutput>,
}

/// What a model's recent answers were billed as output, thinking included: their number and
/// mean. A page keeps one per model from each answer's usage ([`ObservedOutput::observe`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObservedOutput {
    /// Answers behind the mean: 1 to [`ObservedOutput::WINDOW`].
    pub answers: u32,
    /// Mean output tokens billed per answer.
    pub mean_tokens: f64,
}

impl ObservedOutput {
    /// Answers the mean remembers at full weight; older ones fade, so a model's new habits
    /// (another reasoning effort, a new version under the same id) show within about as many.
    pub const WINDOW: u32 = 50;
    /// Answers the stated expectation counts for: half of one, so one answer moves the
    /// estimate two-thirds of the way. Chosen on ZeroEval's answers (`training/output_tokens.py
    /// --observe`): a stated figure is as often ten times too low (a model that thinks) as near.
    pub const PRIOR_ANSWERS: f64 = 0.5;

    /// The record after one more answer billed `output_tokens` as output.
    pub fn observe(previous: Option<ObservedOutput>, output_tokens: u64) -> ObservedOutput {
        let x = output_tokens.min(u64::from(u32::MAX)) as f64;
        match previous {
            None => ObservedOutput {
                answers: 1,
                mean_tokens: x,
            },
            Some(p) => {
                let answers = p.answers.saturating_add(1).clamp(1, Self::WINDOW);
                ObservedOutput {
                    answers,
                    mean_tokens: p.mean_tokens + (x - p.mean_tokens) / f64::from(answers),
                }
            }
        }
    }

    /// Expected output tokens: `stated` (the pool's or the model's expectation) counted as
    /// [`ObservedOutput::PRIOR_ANSWERS`] answers beside the observed ones; at least 1.
    pub fn blend(&self, stated: f64) -> f64 {
        let n = f64::from(self.answers);
        ((Self::PRIOR_ANSWERS * stated + n * self.mean_tokens) / (Self::PRIOR_ANSWERS + n)).max(1.0)
    }

    /// Why the record cannot be (a count outside 1 to the window, a mean no answer has).
    pub fn check(&self) -> std::result::Result<(), String> {
        if !(1..=Self::WINDOW).contains(&self.answers) {
            return Err(format!(
                "answers is {}; a record counts 1 to {} answers",
                self.answers,
                Self::WINDOW
            ));
        }
        if !self.mean_tokens.is_finite()
            || self.mean_tokens < 0.0
            || self.mean_tokens > f64::from(u32::MAX)
        {
            return Err(format!(
                "meanTokens is {}; a mean of output tokens is 0 to {}",
                self.mean_tokens,
                u32::MAX
            ));
        }
        Ok(())
    }
}

/// Something a request may need of a model beyond text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Capability {
    /// It calls tools (and reads their results back).
    Tools,
    /// It answers in JSON that follows a given schema.
    StructuredOutput,
}

impl std::fmt::Display for Capability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Capability::Tools => "tool calls",
            Capability::StructuredOutput => "an answer schema",
        })
    }
}

/// A price change a provider announced: from `from` (a UTC day, `YYYY-MM-DD`) on, the model
/// costs `in` and `out` US$ per 1M tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceChange {
    /// The first day (UTC) at these prices.
    pub from: String,
    /// US$ per 1M input tokens.
    #[serde(rename = "in")]
    pub price_in: f64,
    /// US$ per 1M output tokens.
    #[serde(rename = "out")]
    pub price_out: f64,
}

/// Whether `day` is written `YYYY-MM-DD` with a month 01–12 and a day 01–31, so that days
/// compare as strings.
pub fn is_day(day: &str) -> bool {
    let b = day.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r.clone()].iter().all(u8::is_ascii_digit);
    if b.len() != 10
        || b[4] != b'-'
        || b[7] != b'-'
        || !digits(0..4)
        || !digits(5..7)
        || !digits(8..10)
    {
        return false;
    }
    let two = |i: usize| u32::from(b[i] - b'0') * 10 + u32::from(b[i + 1] - b'0');
    (1..=12).contains(&two(5)) && (1..=31).contains(&two(8))
}

impl PoolModel {
    /// The token limit a call to this model is sent with for an answer of up to `answer`
    /// tokens: the answer plus the model's room for thinking, which is billed as output too.
    pub fn call_limit(&self, answer: u32) -> u32 {
        answer.saturating_add(self.thinking_room.unwrap_or(0))
    }

    /// The prices in force on `day` (`YYYY-MM-DD`, UTC): the last change from that day or
    /// before, else `priceIn` and `priceOut`.
    pub fn prices_on(&self, day: &str) -> (f64, f64) {
        (self.prices.iter())
            .rev()
            .find(|c| c.from.as_str() <= day)
            .map_or((self.price_in, self.price_out), |c| {
                (c.price_in, c.price_out)
            })
    }
}

fn default_output_tokens() -> u32 {
    DEFAULT_OUTPUT_TOKENS
}

const DEFAULT_POOL: &str = include_str!("../www/pool.json");

impl Pool {
    /// Parses and checks a pool written as JSON.
    pub fn from_json(json: &str) -> Result<Pool> {
        let pool: Pool = serde_json::from_str(json).map_err(|e| Error::Pool(e.to_string()))?;
        pool.validate()?;
        Ok(pool)
    }

    /// A pool of these models, checked as a parsed one is.
    pub fn from_models(models: Vec<PoolModel>) -> Result<Pool> {
        let pool = Pool {
            expected_output_tokens: DEFAULT_OUTPUT_TOKENS,
            models,
        };
        pool.validate()?;
        Ok(pool)
    }

    /// The pool shipped with routoo: today's models of OpenAI, Anthropic and Google at their
    /// dated list prices (uncalibrated until a user calibrates them), and the routing data's
    /// models, the ones no longer served marked historical.
    ///
    /// A unit test holds it valid; were it not, this is the validation's error, never an
    /// empty pool.
    pub fn default_pool() -> Result<Pool> {
        Pool::from_json(DEFAULT_POOL)
    }

    /// The pool without its historical models (no longer served): what calls made today
    /// route among. An error when every model is historical.
    pub fn serving(&self) -> Result<Pool> {
        let models: Vec<PoolModel> = (self.models.iter())
            .filter(|m| !m.historical)
            .cloned()
            .collect();
        if models.is_empty() {
            return Err(Error::Pool(
                "every model of the pool is historical (no longer served)".into(),
            ));
        }
        Ok(Pool {
            expected_output_tokens: self.expected_output_tokens,
            models,
        })
    }

    /// The model with this id.
    pub fn model(&self, id: &str) -> Option<&PoolModel> {
        self.models.iter().find(|m| m.id == id)
    }

    /// The pool as it bills on `day` (`YYYY-MM-DD`, UTC): each model's `priceIn` and
    /// `priceOut` set to the prices in force that day, its schedule kept. Price from the pool
    /// as listed, not from one already priced for another day.
    pub fn priced_on(&self, day: &str) -> Result<Pool> {
        if !is_day(day) {
            return Err(Error::Pool(format!(
                "the day {day:?} is not a date; write it as YYYY-MM-DD"
            )));
        }
        let mut pool = self.clone();
        for m in &mut pool.models {
            (m.price_in, m.price_out) = m.prices_on(day);
        }
        Ok(pool)
    }

    /// Whether `entry`, imported or added by a user, may join this pool under its id. A new
    /// id may; a pool model's id only for that same model (provider, API model and base URL)
    /// at prices no lower than the pool's, so an import can neither take a model's place
    /// while calling another nor make a model look cheaper than it bills.
    pub fn admit(&self, entry: &PoolModel) -> Result<()> {
        let Some(ours) = self.model(&entry.id) else {
            return Ok(());
        };
        let base = |u: &str| u.trim_end_matches('/').to_string();
        let elsewhere = ours.provider != entry.provider
            || ours.api_model != entry.api_model
            || ours.reasoning_effort != entry.reasoning_effort
            || base(&ours.base_url) != base(&entry.base_url);
        if elsewhere {
            return Err(Error::Pool(format!(
                "{} is the pool's name for {} at {}; a model that calls {} at {} needs a name of its own",
                entry.id, ours.api_model, ours.base_url, entry.api_model, entry.base_url
            )));
        }
        // Below no price the pool lists for it, today's or a scheduled one.
        let floor = (ours.prices.iter()).fold((ours.price_in, ours.price_out), |(i, o), c| {
            (i.max(c.price_in), o.max(c.price_out))
        });
        if entry.price_in < floor.0 || entry.price_out < floor.1 {
            return Err(Error::Pool(format!(
                "{} is priced at US${}/{} per 1M tokens here, below the pool's US${}/{}: a \
                 model's prices can only be raised, never lowered, by an import",
                entry.id, entry.price_in, entry.price_out, floor.0, floor.1
            )));
        }
        Ok(())
    }

    /// Output tokens expected of a model's answer: its stated expectation (the model's, else
    /// the pool's), moved toward what its answers were billed where that was observed.
    pub fn output_tokens(&self, model: &PoolModel) -> u32 {
        let stated = model
            .expected_output_tokens
            .unwrap_or(self.expected_output_tokens);
        match model.observed_output {
            // `as` saturates: a blend past u32::MAX is u32::MAX.
            Some(o) => o.blend(f64::from(stated)).round() as u32,
            None => stated,
        }
    }

    fn validate(&self) -> Result<()> {
        if self.models.is_empty() {
            return Err(Error::Pool("the pool has no models".into()));
        }
        let mut seen = std::collections::HashSet::new();
        for m in &self.models {
            if m.id.trim().is_empty() {
                return Err(Error::Pool("a model has an empty id".into()));
            }
            if !seen.insert(m.id.as_str()) {
                return Err(Error::Pool(format!("model {:?} appears twice", m.id)));
            }
            if m.provider.trim().is_empty() {
                return Err(Error::Pool(format!("model {:?} has no provider", m.id)));
            }
            if let Err(e) = Endpoint::parse(&m.base_url) {
                return Err(Error::Pool(format!("model {:?}: {e}", m.id)));
            }
            for (name, price) in [("priceIn", m.price_in), ("priceOut", m.price_out)] {
                if !price.is_finite() || price < 0.0 {
                    return Err(Error::Pool(format!(
                        "model {:?} has {name} {price}; prices are US$ per 1M tokens, 0 or more",
                        m.id
                    )));
                }
            }
            if m.like.is_some() && m.uncalibrated {
                return Err(Error::Pool(format!(
                    "model {:?} is both uncalibrated and like {:?}: say one",
                    m.id,
                    m.like.as_deref().unwrap_or_default()
                )));
            }
            if !m.scores.is_empty() {
                if m.like.is_some() || m.uncalibrated {
                    return Err(Error::Pool(format!(
                        "model {:?} has published scores and is also {}: say one",
                        m.id,
                        if m.uncalibrated {
                            "uncalibrated"
                        } else {
                            "like another"
                        }
                    )));
                }
                crate::card::Card {
                    model: m.id.clone(),
                    scores: m.scores.clone(),
                }
                .check()
                .map_err(|e| Error::Pool(format!("model {:?}: {e}", m.id)))?;
            }
            if let Some(effort) = &m.reasoning_effort {
                let word = !effort.is_empty()
                    && effort.len() <= 16
                    && effort.bytes().all(|b| b.is_ascii_lowercase() || b == b'-');
                if !word {
                    return Err(Error::Pool(format!(
                        "model {:?} has reasoningEffort {effort:?}; write the provider's word \
                         for it, e.g. \"low\", \"medium\" or \"high\"",
                        m.id
                    )));
                }
            }
            if let Some(room) = m.thinking_room.filter(|r| *r >= m.context_window) {
                return Err(Error::Pool(format!(
                    "model {:?} has thinkingRoom {room}, which leaves no room in its context \
                     window of {} tokens",
                    m.id, m.context_window
                )));
            }
            let mut last: Option<&str> = None;
            for change in &m.prices {
                if !is_day(&change.from) || last.is_some_and(|l| l >= change.from.as_str()) {
                    return Err(Error::Pool(format!(
                        "model {:?} has a price change from {:?}; changes are YYYY-MM-DD days, \
                         oldest first, one a day",
                        m.id, change.from
                    )));
                }
                for (name, price) in [("in", change.price_in), ("out", change.price_out)] {
                    if !price.is_finite() || price < 0.0 {
                        return Err(Error::Pool(format!(
                            "model {:?} has {name} {price} from {}; prices are US$ per 1M \
                             tokens, 0 or more",
                            m.id, change.from
                        )));
                    }
                }
                last = Some(&change.from);
            }
            if let Some(date) = &m.price_date {
                let ok = is_day(date);
                if !ok {
                    return Err(Error::Pool(format!(
                        "model {:?} has priceDate {date:?}; write it as YYYY-MM-DD",
                        m.id
                    )));
                }
            }
            if let Some(source) = &m.price_source {
                let ok = source.len() <= 2048
                    && source.starts_with("https://")
                    && source.bytes().all(|b| b.is_ascii_graphic());
                if !ok {
                    return Err(Error::Pool(format!(
                        "model {:?} has priceSource {source:?}; give the https:// page the prices come from",
                        m.id
                    )));
                }
            }
            if let Some(observed) = &m.observed_output {
                observed.check().map_err(|e| {
                    Error::Pool(format!("model {:?} has an observedOutput whose {e}", m.id))
                })?;
            }
            if m.context_window == 0 {
                return Err(Error::Pool(format!(
                    "model {:?} has a context window of 0 tokens",
                    m.id
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observed_answers_move_the_expected_output_and_old_ones_fade() {
        let mut pool = Pool::default_pool().unwrap();
        let i = (pool.models.iter())
            .position(|m| m.thinking_room.is_some())
            .unwrap();
        let stated = pool.output_tokens(&pool.models[i]);
        // One answer that thought for 2,000 tokens: two-thirds of the way there, not all.
        let one = ObservedOutput::observe(None, 2_000);
        assert_eq!((one.answers, one.mean_tokens), (1, 2_000.0));
        pool.models[i].observed_output = Some(one);
        let after_one = pool.output_tokens(&pool.models[i]);
        let expect = (0.5 * f64::from(stated) + 2_000.0) / 1.5;
        assert_eq!(after_one, expect.round() as u32);
        assert!(after_one > stated && after_one < 2_000);
        // Many more: the estimate is nearly what was billed, and the count stops at the window.
        let mut record = one;
        for _ in 0..200 {
            record = ObservedOutput::observe(Some(record), 2_000);
        }
        assert_eq!(record.answers, ObservedOutput::WINDOW);
        pool.models[i].observed_output = Some(record);
        assert!(pool.output_tokens(&pool.models[i]) > 1_980);
        // A model whose answers turned short: within a window's worth of answers, most of
        // the long ones are forgotten (a share (1 - 1/50)^50 = 0.36 of the excess is left).
        for _ in 0..ObservedOutput::WINDOW {
            record = ObservedOutput::observe(Some(record), 100);
        }
        let left = (record.mean_tokens - 100.0) / 1_900.0;
        assert!((0.3..0.4).contains(&left), "{}", record.mean_tokens);
        // The estimate is what the cost charges.
        pool.models[i].observed_output = Some(record);
        let cost = crate::cost::estimate(&pool, &pool.models[i], 400, None);
        assert_eq!(
            cost.output_tokens,
            u64::from(pool.output_tokens(&pool.models[i]))
        );
    }

    #[test]
    fn a_stored_record_that_cannot_be_is_refused_naming_it() {
        let pool = Pool::default_pool().unwrap();
        let id = pool.models[0].id.clone();
        for (record, says) in [
            (
                serde_json::json!({"answers": 0, "meanTokens": 10}),
                "answers is 0",
            ),
            (
                serde_json::json!({"answers": 51, "meanTokens": 10}),
                "answers is 51",
            ),
            (
                serde_json::json!({"answers": 2, "meanTokens": -1}),
                "meanTokens is -1",
            ),
            (
                serde_json::json!({"answers": 2, "meanTokens": 1e12}),
                "meanTokens is",
            ),
        ] {
            let mut json = serde_json::to_value(&pool).unwrap();
            json["models"][0]["observedOutput"] = record;
            let e = Pool::from_json(&json.to_string()).unwrap_err().to_string();
            assert!(e.contains(&id) && e.contains(says), "{e}");
        }
        let mut json = serde_json::to_value(&pool).unwrap();
        json["models"][0]["observedOutput"] = serde_json::json!({"answers": 2, "mean": 10});
        assert!(Pool::from_json(&json.to_string()).is_err());
    }

    #[test]
    fn a_pool_past_the_model_count_is_refused_before_the_rest_is_built() {
        use crate::bounded::MAX_MODELS;
        let model = |i: usize| {
            serde_json::json!({"id": format!("m{i}"), "provider": "openai", "apiModel": "m",
                "baseUrl": "https://api.openai.com/v1", "priceIn": 1, "priceOut": 2,
                "contextWindow": 1000, "latencyMs": 100})
        };
        let mut models: Vec<serde_json::Value> = (0..MAX_MODELS).map(model).collect();
        let at_most = serde_json::json!({ "models": models }).to_string();
        assert_eq!(Pool::from_json(&at_most).unwrap().models.len(), MAX_MODELS);
        // One more, and not even a model: the count is what refuses it.
        models.push(serde_json::json!({"bogus": true}));
        let over = serde_json::json!({ "models": models }).to_string();
        let err = Pool::from_json(&over).unwrap_err().to_string();
        assert!(
            err.contains(&format!("more than {MAX_MODELS} entries")),
            "{err}"
        );
    }

    #[test]
    fn an_import_may_reuse_an_id_only_for_the_same_model_at_prices_no_lower() {
        let pool = Pool::default_pool().unwrap();
        let luna = pool
            .models
            .iter()
            .find(|m| !m.historical && m.price_in > 0.0)
            .unwrap()
            .clone();
        let other = (pool.models.iter())
            .find(|m| m.api_model != luna.api_model && m.provider == luna.provider)
            .unwrap();
        assert!(pool.admit(&luna).is_ok(), "the same entry");
        let dearer = PoolModel {
            price_out: luna.price_out * 2.0,
            ..luna.clone()
        };
        assert!(pool.admit(&dearer).is_ok(), "a price raised");
        let impostor = PoolModel {
            api_model: other.api_model.clone(),
            base_url: other.base_url.clone(),
            price_in: 0.0,
            price_out: 0.0,
            ..luna.clone()
        };
        let err = pool.admit(&impostor).unwrap_err().to_string();
        assert!(err.contains("needs a name of its own"), "{err}");
        let cheaper = PoolModel {
            price_in: 0.0,
            ..luna.clone()
        };
        let err = pool.admit(&cheaper).unwrap_err().to_string();
        assert!(err.contains("never lowered"), "{err}");
        let harder = PoolModel {
            reasoning_effort: Some("max".into()),
            ..luna.clone()
        };
        let err = pool.admit(&harder).unwrap_err().to_string();
        assert!(
            err.contains("needs a name of its own"),
            "another effort: {err}"
        );
        let renamed = PoolModel {
            id: "my-own-name".into(),
            ..impostor
        };
        assert!(pool.admit(&renamed).is_ok(), "a name of its own");
    }

    #[test]
    fn scheduled_prices_apply_from_their_day_in_utc() {
        let entry = |prices: &str| {
            format!(
                r#"{{"models": [{{"id": "argon", "provider": "google", "apiModel": "argon",
                "baseUrl": "https://generativelanguage.googleapis.com/v1beta", "priceIn": 2,
                "priceOut": 10, "contextWindow": 1000, "latencyMs": 100, "prices": {prices}}}]}}"#
            )
        };
        let pool = Pool::from_json(&entry(
            r#"[{"from": "2026-12-01", "in": 4, "out": 20}, {"from": "2027-03-01", "in": 3, "out": 15}]"#,
        ))
        .unwrap();
        let on = |day: &str| {
            let m = &pool.priced_on(day).unwrap().models[0];
            (m.price_in, m.price_out)
        };
        assert_eq!(on("2026-11-30"), (2.0, 10.0));
        assert_eq!(on("2026-12-01"), (4.0, 20.0));
        assert_eq!(on("2027-02-28"), (4.0, 20.0));
        assert_eq!(on("2027-03-01"), (3.0, 15.0));
        assert_eq!(
            pool.priced_on("2026-12-01").unwrap().models[0].prices.len(),
            2
        );
        assert!(pool.priced_on("1 Dec 2026").is_err());
        for bad in [
            r#"[{"from": "2026-12-01", "in": 4, "out": 20}, {"from": "2026-11-01", "in": 3, "out": 15}]"#,
            r#"[{"from": "2026-13-01", "in": 4, "out": 20}]"#,
            r#"[{"from": "2026-12-01", "in": -4, "out": 20}]"#,
            r#"[{"from": "2026-12-01", "in": 4}]"#,
        ] {
            assert!(Pool::from_json(&entry(bad)).is_err(), "{bad}");
        }
        let effort = |word: &str| {
            entry("[]").replace(r#""prices": []"#, &format!(r#""reasoningEffort": {word}"#))
        };
        assert!(Pool::from_json(&effort(r#""high""#)).is_ok());
        for bad in [r#""""#, r#""High Effort""#, r#""low\u0000""#] {
            assert!(Pool::from_json(&effort(bad)).is_err(), "{bad}");
        }
        let room =
            |n: u32| entry("[]").replace(r#""prices": []"#, &format!(r#""thinkingRoom": {n}"#));
        assert_eq!(
            Pool::from_json(&room(500)).unwrap().models[0].thinking_room,
            Some(500)
        );
        // The entry's context window is 1,000 tokens.
        let err = Pool::from_json(&room(1000)).unwrap_err().to_string();
        assert!(err.contains("thinkingRoom 1000"), "{err}");
        // An import may not undercut any price the schedule lists.
        let mut old = pool.models[0].clone();
        old.prices.clear();
        let err = pool.admit(&old).unwrap_err().to_string();
        assert!(err.contains("never lowered"), "{err}");
    }

    #[test]
    fn the_default_pool_parses() {
        let pool = Pool::from_json(DEFAULT_POOL).unwrap();
        // Coverage of the trained tables' models: tests/bundle.rs.
        assert_eq!(Pool::default_pool().unwrap(), pool);
        let gpt4 = pool.model("gpt-4-1106-preview").unwrap();
        assert_eq!((gpt4.price_in, gpt4.price_out), (10.0, 30.0));
    }

    #[test]
    fn the_serving_pool_leaves_out_historical_models_only() {
        let pool = Pool::default_pool().unwrap();
        let serving = pool.serving().unwrap();
        assert!(serving.models.iter().all(|m| !m.historical));
        assert_eq!(
            serving.models.len(),
            pool.models.iter().filter(|m| !m.historical).count()
        );
        assert!(
            serving.models.len() < pool.models.len(),
            "some are historical"
        );
        let old = Pool {
            models: pool.models.into_iter().filter(|m| m.historical).collect(),
            ..serving
        };
        let err = old.serving().unwrap_err().to_string();
        assert!(
            err.contains("every model of the pool is historical"),
            "{err}"
        );
    }

    #[test]
    fn bad_pools_name_the_problem() {
        let model = r#"{"id": "a", "provider": "p", "apiModel": "a", "baseUrl": "https://x.example/v1",
            "priceIn": 1, "priceOut": 1, "contextWindow": 10, "latencyMs": 1}"#;
        let twice = format!(r#"{{"models": [{model}, {model}]}}"#);
        assert!(Pool::from_json(&twice)
            .unwrap_err()
            .to_string()
            .contains("\"a\" appears twice"));
        let negative = model.replace("\"priceIn\": 1", "\"priceIn\": -1");
        let err = Pool::from_json(&format!(r#"{{"models": [{negative}]}}"#)).unwrap_err();
        assert!(err.to_string().contains("priceIn -1"), "{err}");
        let remote_http = model.replace(
            "\"https://x.example/v1\"",
            "\"http://127.0.0.1:1@evil.com/v1\"",
        );
        let err = Pool::from_json(&format!(r#"{{"models": [{remote_http}]}}"#)).unwrap_err();
        assert!(err.to_string().contains("user info"), "{err}");
        let unknown = model.replace("\"latencyMs\": 1", "\"latency\": 1");
        let err = Pool::from_json(&format!(r#"{{"models": [{unknown}]}}"#)).unwrap_err();
        assert!(err.to_string().contains("unknown field `latency`"), "{err}");
    }
}

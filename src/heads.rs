//! Heads, and how a new one is fitted: the heads file format, the prior over where models
//! sit, and the fit of a model's head from graded probes. Pure arithmetic, free of any call;
//! [`crate::calibrate`] sends the probes.
//!
//! A head is P(good answer) = σ(θ·z + b). The shipped heads, one per labelled model, are a
//! sample of where models sit; their mean and covariance are the prior for a new model's
//! (θ, b). The fit is the posterior mode under that prior given the probes' grades (Newton's
//! method on the logistic likelihood), and its covariance the inverse Hessian there (Laplace),
//! which the selector's margin reads. With few probes the head stays near an average model
//! and its estimates stay unsure; with more it moves to where the answers put it.

use serde::{Deserialize, Serialize};

use crate::bundle::{Head, Manifest};
use crate::error::{Error, Result};

/// Format name of a heads file.
pub const HEADS_FORMAT: &str = "routoo-heads";

/// Added or replaced heads, as `routoo calibrate` writes them and `--heads` reads them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeadsFile {
    /// Always [`HEADS_FORMAT`].
    pub format: String,
    /// sha256 of the encoder whose space the heads live in; they mean nothing in another.
    pub encoder: String,
    /// The heads; at most [`crate::bounded::MAX_MODELS`].
    #[serde(deserialize_with = "crate::bounded::models")]
    pub heads: Vec<Head>,
    /// How each head was obtained (probes sent, grades, spend).
    #[serde(default, deserialize_with = "crate::bounded::models")]
    pub calibrations: Vec<serde_json::Value>,
}

impl HeadsFile {
    /// Parses a heads file; [`crate::Predictor::add_heads`] checks it against a bundle.
    pub fn from_json(text: &str) -> Result<HeadsFile> {
        let file: HeadsFile =
            serde_json::from_str(text).map_err(|e| Error::Heads(format!("does not parse: {e}")))?;
        if file.format != HEADS_FORMAT {
            return Err(Error::Heads(format!(
                "format is {:?}, expected {HEADS_FORMAT:?}",
                file.format
            )));
        }
        Ok(file)
    }
}

/// Where models sit, as a Gaussian over (θ, b) of dimension `dim + 1`.
#[derive(Debug, Clone, PartialEq)]
pub struct Prior {
    mean: Vec<f64>,
    /// Covariance, row major.
    covariance: Vec<f64>,
    /// Its inverse.
    precision: Vec<f64>,
    /// The domain coordinates of θ (z's inferred benchmark and subject), which a card's scores
    /// by subject move after the bias ([`fit_evidence`]); empty outside a calibration's prior.
    domains: std::ops::Range<usize>,
    /// How far apart the prior's models sit in level (the sd of their mean logit over the
    /// reference prompts), which holds a card's level instead of the covariance's grip on a
    /// bias whose θ is held at the mean ([`fit_evidence`]); `None` outside a calibration's
    /// prior.
    level_sd: Option<f64>,
}

/// Added to the heads' covariance so the prior stays proper however the heads fall.
const RIDGE: f64 = 1e-2;

/// A calibration's prior is the heads' covariance times this: leaving one model out at a time
/// (training/REPORT.md), 0.25 cut the worst loss at 25 probes from 7.5 to 2.4 AIQ points on a
/// fold it was not chosen on, and kept the mean within 0.2 points at 25–200 probes. An
/// uncalibrated model keeps the full spread.
pub const CALIBRATION_PRIOR_SCALE: f64 = 0.25;

/// A calibration's prior has its variance along the domain coordinates of z (the prompt's
/// inferred benchmark and subject) times this, on top of [`CALIBRATION_PRIOR_SCALE`]: models
/// trained on the tables differ little there, since the learned coordinates carry most of what
/// sets them apart, yet "good at maths, weak at law" is the commonest thing probes and cards say
/// of a new one. 8 lets 100 probes set a model right on maths and the sciences 0.25 above
/// history (tests/cli.rs; 4 gave 0.19), at a cost to the worst placement from 200 probes
/// (training/REPORT.md, "Domain coordinates ship").
pub const DOMAIN_PRIOR_SCALE: f64 = 8.0;

/// Heads trained on fewer labelled rows are left out of the prior when enough others are not:
/// a head fitted on a few hundred prompts of one domain (FormationEval's 405) sits where
/// training started in every other direction, and would tell a new model that models differ
/// little there.
pub const PRIOR_MIN_ROWS: u32 = 1000;

/// What a model costs for a short prompt and a long answer, US$ per 1M tokens of each: the
/// price the prior places an unplaced model at ([`Prior::at_price`]).
pub fn price_index(price_in: f64, price_out: f64) -> f64 {
    price_in + 4.0 * price_out
}

/// The sd of the heads' levels, their mean logit over the positions `z`: how far apart models
/// sit. `None` without two heads of z's dimension or without positions.
fn level_spread(heads: &[&Head], z: &[Vec<f32>]) -> Option<f64> {
    let dim = z.first()?.len();
    let positions: Vec<&Vec<f32>> = z.iter().filter(|p| p.len() == dim).collect();
    let mut centre = vec![0.0; dim];
    for p in &positions {
        for (c, &v) in centre.iter_mut().zip(p.iter()) {
            *c += f64::from(v) / positions.len() as f64;
        }
    }
    let levels: Vec<f64> = (heads.iter())
        .filter(|h| h.weights.len() == dim)
        .map(|h| {
            let w: Vec<f64> = h.weights.iter().map(|&v| f64::from(v)).collect();
            dot(&w, &centre) + f64::from(h.bias)
        })
        .collect();
    if levels.len() < 2 {
        return None;
    }
    let n = levels.len() as f64;
    let mean = levels.iter().sum::<f64>() / n;
    let var = levels.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / n;
    Some(var.sqrt()).filter(|sd| sd.is_finite() && *sd > 0.0)
}

/// The heads a prior is taken over: those trained on [`PRIOR_MIN_ROWS`] labelled rows or more
/// when two or more are, else all.
fn broad<'a>(heads: &[&'a Head]) -> Vec<&'a Head> {
    let broad: Vec<&Head> = (heads.iter().copied())
        .filter(|h| h.labels.as_ref().is_some_and(|l| l.rows >= PRIOR_MIN_ROWS))
        .collect();
    if broad.len() >= 2 {
        broad
    } else {
        heads.to_vec()
    }
}

impl Prior {
    /// The mean and covariance of `heads` (at least two), with a small ridge: of those trained
    /// on [`PRIOR_MIN_ROWS`] labelled rows or more when two or more are, else of all.
    pub fn from_heads(heads: &[&Head]) -> Result<Prior> {
        let heads = &broad(heads)[..];
        let Some(first) = heads.first() else {
            return Err(Error::Heads(
                "a prior needs at least two heads, found none".into(),
            ));
        };
        let n = first.weights.len() + 1;
        if heads.len() < 2 || heads.iter().any(|h| h.weights.len() + 1 != n) {
            return Err(Error::Heads(format!(
                "a prior needs at least two heads of one dimension, found {}",
                heads.len()
            )));
        }
        let params: Vec<Vec<f64>> = heads.iter().map(|h| params(h)).collect();
        let count = params.len() as f64;
        let mean: Vec<f64> = (0..n)
            .map(|i| params.iter().map(|p| p[i]).sum::<f64>() / count)
            .collect();
        let mut cov = vec![0.0; n * n];
        for p in &params {
            for i in 0..n {
                for j in 0..n {
                    cov[i * n + j] += (p[i] - mean[i]) * (p[j] - mean[j]) / (count - 1.0);
                }
            }
        }
        for i in 0..n {
            cov[i * n + i] += RIDGE;
        }
        let precision = inverse(&cov, n)
            .ok_or_else(|| Error::Heads("the heads' covariance is not positive definite".into()))?;
        Ok(Prior {
            mean,
            covariance: cov,
            precision,
            domains: 0..0,
            level_sd: None,
        })
    }

    /// The prior as a head: an average model, as unsure as models differ. A model routed with
    /// it before any calibration is estimated at the mean and carries the spread as its
    /// uncertainty, so the selector's margin keeps it from displacing a known model.
    pub fn head(&self, id: &str) -> Head {
        head_of(id, &self.mean, &self.covariance)
    }

    /// The prior of a model known only by its price: the bias read off the least-squares line
    /// of the prior's heads' biases on the log of their [`price_index`] (`price_of` gives it,
    /// by head id), at `price`; the shape and the spread stay the prior's. Leaving one model out
    /// at a time (training/REPORT.md), this placed it no worse than the prior alone. `None`
    /// when fewer than two of those heads have a price, or their prices do not differ.
    pub fn at_price(
        &self,
        heads: &[&Head],
        price_of: impl Fn(&str) -> Option<f64>,
        price: f64,
    ) -> Option<Prior> {
        let points: Vec<(f64, f64)> = (broad(heads).into_iter())
            .filter_map(|h| {
                let p = price_of(&h.id).filter(|p| p.is_finite() && *p > 0.0)?;
                Some((p.ln(), f64::from(h.bias)))
            })
            .collect();
        let n = points.len() as f64;
        if points.len() < 2 || !price.is_finite() {
            return None;
        }
        let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
        let my = points.iter().map(|p| p.1).sum::<f64>() / n;
        let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
        let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
        if sxx <= f64::EPSILON {
            return None;
        }
        // A free model is read at the cheapest price the line was fitted on, not at log 0.
        let lowest = points.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
        let x = if price > 0.0 {
            price.ln().max(lowest)
        } else {
            lowest
        };
        let mut mean = self.mean.clone();
        let last = mean.len() - 1;
        mean[last] = my + sxy / sxx * (x - mx);
        Some(Prior {
            mean,
            covariance: self.covariance.clone(),
            precision: self.precision.clone(),
            domains: self.domains.clone(),
            level_sd: self.level_sd,
        })
    }

    /// The prior a calibration (probes, a card) places model `id` under in the space of
    /// `manifest`: the heads other than its own, their spread times
    /// [`CALIBRATION_PRIOR_SCALE`], and along the domain coordinates times
    /// [`DOMAIN_PRIOR_SCALE`] too.
    pub fn for_calibration(manifest: &Manifest, id: &str) -> Result<Prior> {
        let others: Vec<&Head> = manifest.heads.iter().filter(|h| h.id != id).collect();
        let prior = Prior::from_heads(&others)?.scaled(CALIBRATION_PRIOR_SCALE);
        // The domain coordinates are z's last; b follows them.
        let dim = prior.len() - 1;
        let first = dim.saturating_sub(manifest.encoder.domains.len());
        let mut prior = prior.widened(first..dim, DOMAIN_PRIOR_SCALE)?;
        prior.domains = first..dim;
        prior.level_sd = level_spread(&broad(&others), &manifest.reference.z);
        Ok(prior)
    }

    /// The same mean with the variance along `coordinates` times `scale` (their covariances
    /// with the others times √scale, so it stays a covariance).
    pub fn widened(&self, coordinates: std::ops::Range<usize>, scale: f64) -> Result<Prior> {
        let n = self.len();
        if coordinates.is_empty() {
            return Ok(self.clone());
        }
        let factor = |i: usize| {
            if coordinates.contains(&i) {
                scale.sqrt()
            } else {
                1.0
            }
        };
        let covariance: Vec<f64> = (0..n * n)
            .map(|k| self.covariance[k] * factor(k / n) * factor(k % n))
            .collect();
        let precision = inverse(&covariance, n)
            .ok_or_else(|| Error::Heads("the widened prior is not positive definite".into()))?;
        Ok(Prior {
            mean: self.mean.clone(),
            covariance,
            precision,
            domains: self.domains.clone(),
            level_sd: self.level_sd,
        })
    }

    /// The same mean with the covariance times `scale`: a prior surer of where models sit.
    pub fn scaled(&self, scale: f64) -> Prior {
        Prior {
            mean: self.mean.clone(),
            covariance: self.covariance.iter().map(|v| v * scale).collect(),
            precision: self.precision.iter().map(|v| v / scale).collect(),
            domains: self.domains.clone(),
            level_sd: self.level_sd,
        }
    }

    /// Dimensions of (θ, b).
    pub fn len(&self) -> usize {
        self.mean.len()
    }

    /// Never true: a prior has the bias at least.
    pub fn is_empty(&self) -> bool {
        self.mean.is_empty()
    }
}

/// A head from (θ, b) and their covariance.
fn head_of(id: &str, params: &[f64], covariance: &[f64]) -> Head {
    let n = params.len();
    Head {
        id: id.to_string(),
        weights: params[..n - 1].iter().map(|&v| v as f32).collect(),
        bias: params[n - 1] as f32,
        covariance: Some(covariance.iter().map(|&v| v as f32).collect()),
        labels: None,
        evidence: None,
    }
}

fn params(head: &Head) -> Vec<f64> {
    (head.weights.iter().map(|&w| f64::from(w)))
        .chain([f64::from(head.bias)])
        .collect()
}

/// A published score as the fit reads it: the model answers `accuracy` of the prompts at these
/// positions on average, as if from `questions` graded answers.
#[derive(Debug, Clone, PartialEq)]
pub struct MeanScore {
    /// Positions of the reference prompts the score stands for.
    pub z: Vec<Vec<f32>>,
    /// Fraction answered right, 0–1.
    pub accuracy: f64,
    /// How many answers it is worth: the more, the tighter the fit holds the mean to it.
    pub questions: f64,
    /// The score is of one subject of its benchmark ("maths", "law"): a card of such scores
    /// says a shape, so the fit moves the domain coordinates after the bias ([`fit_evidence`]).
    pub by_subject: bool,
    /// The benchmark it is of: its scores share one harness.
    pub benchmark: String,
    /// How far, in logits (sd), the harness that scored it may sit from the family's scale: 0
    /// for a benchmark whose offset was measured; for others, a shift all its scores share.
    pub harness_sd: f64,
}

/// The posterior mode of (θ, b) given graded probes at positions `z`, and its Laplace
/// covariance, as a head named `id`.
pub fn fit(id: &str, prior: &Prior, graded: &[(Vec<f32>, bool)]) -> Result<Head> {
    fit_evidence(id, prior, graded, &[])
}

/// The posterior mode of (θ, b) given graded probes and published scores, and its covariance.
///
/// A score says only what the mean of σ(θ·z + b) over its prompts is: its likelihood is that
/// of `questions` answers with that mean (a binomial), so it moves the head along the one
/// direction that changes the mean and leaves the prior's shape otherwise. The curvature is
/// Fisher's (Gauss–Newton), which keeps every step a descent.
///
/// Scores alone (no probes) move only the bias: the prior's shape is kept and its level set.
/// Left one model out at a time, a card of published scores fitted in full was no better than
/// the prior on the mean and up to 2.8 points worse; setting the level only, with each outside
/// benchmark moved onto its family's scale, gained on the mean (training/REPORT.md, "Cards").
/// Where a score names a subject, the domain coordinates the prior names then take the shape
/// about that level, so a card can say "good at maths, weak at law": left out, a card of a
/// model's MMLU-Pro accuracy by subject came within 0.1 points of its labels on the mean, where
/// the level alone lost 0.5–0.8 (training/REPORT.md, "Cards in the shipped space, and cards by
/// subject"). Benchmark-wide scores moving them too lost on the mean, so those set the level
/// only. Probes follow the same two steps, the level and then the domain coordinates: moving
/// every coordinate, 100 probes placed a model worse than the prior alone on the mean, left out
/// in the space with domain coordinates (training/REPORT.md, "Probes set the level, then the
/// domains"). In a space without domain coordinates probes move everything. Where the prior
/// knows how far apart models sit in level (a calibration's does) and there are scores, the
/// level is held by that spread rather than by the covariance's far tighter grip on a bias
/// whose θ stays at the mean, and each benchmark whose harness's gap to its family no model
/// measured (a routing table's own benchmark scored by a maker, an outside one with no offset)
/// may sit a shift away, one its scores share (training/REPORT.md, "A card's level under the
/// models' spread"). With probes, benchmark-wide scores still set only the level: the shape is
/// the probes' and the subject scores' (a card with 25 or 100 probes, left out, gained about
/// +0.9 points on the prior's mean where holding the card's scores in the shape step too had
/// gained +0.2; training/REPORT.md, same section). The covariance is the full posterior's, so
/// the margin still says how little the evidence tells.
pub fn fit_evidence(
    id: &str,
    prior: &Prior,
    graded: &[(Vec<f32>, bool)],
    scores: &[MeanScore],
) -> Result<Head> {
    let n = prior.len();
    let positions = (graded.iter().map(|(z, _)| z)).chain(scores.iter().flat_map(|s| &s.z));
    if let Some(z) = positions.into_iter().find(|z| z.len() + 1 != n) {
        return Err(Error::Heads(format!(
            "a prompt position has {} values, the space has {}",
            z.len(),
            n - 1
        )));
    }
    if let Some(s) = scores.iter().find(|s| {
        s.z.is_empty()
            || !(0.0..=1.0).contains(&s.accuracy)
            || !s.questions.is_finite()
            || s.questions <= 0.0
    }) {
        return Err(Error::Heads(format!(
            "a score of {} over {} questions and {} prompts cannot be fitted",
            s.accuracy,
            s.questions,
            s.z.len()
        )));
    }
    let augment =
        |z: &[f32]| -> Vec<f64> { z.iter().map(|&v| f64::from(v)).chain([1.0]).collect() };
    let rows: Vec<(Vec<f64>, f64)> = graded
        .iter()
        .map(|(z, right)| (augment(z), if *right { 1.0 } else { 0.0 }))
        .collect();
    let families: Vec<(Vec<Vec<f64>>, f64, f64)> = scores
        .iter()
        .map(|s| {
            (
                s.z.iter().map(|z| augment(z)).collect(),
                s.accuracy,
                s.questions,
            )
        })
        .collect();
    // The prior's penalty is about `center`: its mean, or a card's levelled head.
    let objective = |w: &[f64], center: &[f64], families: &[(Vec<Vec<f64>>, f64, f64)]| {
        let d: Vec<f64> = w.iter().zip(center).map(|(a, b)| a - b).collect();
        let penalty = 0.5 * quad(&prior.precision, &d, n);
        let nll: f64 = rows
            .iter()
            .map(|(x, y)| {
                let t = dot(w, x);
                // log(1 + e^t) − y·t, stable for large |t|
                t.max(0.0) + (-t.abs()).exp().ln_1p() - y * t
            })
            .sum();
        let scored: f64 = families
            .iter()
            .map(|(xs, a, q)| {
                let m = mean_of(w, xs);
                -q * (a * m.ln() + (1.0 - a) * (1.0 - m).ln())
            })
            .sum();
        nll + scored + penalty
    };
    // Damped Newton from `center`, moving only the coordinates `moving` (all: None); the
    // mode and the Hessian there.
    let newton = |center: &[f64],
                  moving: Option<&[usize]>,
                  families: &[(Vec<Vec<f64>>, f64, f64)]|
     -> Result<(Vec<f64>, Vec<f64>)> {
        let mut w = center.to_vec();
        let mut hessian = prior.precision.clone();
        for _ in 0..100 {
            let mut grad: Vec<f64> = (0..n)
                .map(|i| {
                    (0..n)
                        .map(|j| prior.precision[i * n + j] * (w[j] - center[j]))
                        .sum()
                })
                .collect();
            hessian.clone_from(&prior.precision);
            add_evidence(&w, &rows, families, |_| 0.0, &mut grad, &mut hessian);
            let singular = || Error::Heads("the fit's Hessian is singular".into());
            let step = match moving {
                // Newton's step in the moving coordinates alone, the others held.
                Some(moving) => {
                    let k = moving.len();
                    let sub: Vec<f64> = (0..k * k)
                        .map(|ij| hessian[moving[ij / k] * n + moving[ij % k]])
                        .collect();
                    let rhs: Vec<f64> = moving.iter().map(|&i| grad[i]).collect();
                    let part = solve(&sub, &rhs, k).ok_or_else(singular)?;
                    let mut step = vec![0.0; n];
                    for (&i, v) in moving.iter().zip(part) {
                        step[i] = v;
                    }
                    step
                }
                None => solve(&hessian, &grad, n).ok_or_else(singular)?,
            };
            // Damped Newton: halve the step until the objective does not rise.
            let before = objective(&w, center, families);
            let mut scale = 1.0;
            let mut next: Vec<f64> = w.clone();
            for _ in 0..30 {
                next = w.iter().zip(&step).map(|(a, s)| a - scale * s).collect();
                if objective(&next, center, families) <= before + 1e-12 {
                    break;
                }
                scale /= 2.0;
            }
            let moved = next
                .iter()
                .zip(&w)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            w = next;
            if moved < 1e-9 {
                break;
            }
        }
        Ok((w, hessian))
    };
    // The evidence sets the level (the bias) first. Probes, or scores that name a subject,
    // then move the domain coordinates about that level, under the prior re-centred on the
    // levelled head, so the bias keeps the level every other prompt sees.
    let shape: Vec<usize> = (prior.domains.clone())
        .filter(|&i| i + 1 < n)
        .chain([n - 1])
        .collect();
    let shaped = !graded.is_empty() || scores.iter().any(|s| s.by_subject);
    let (w, hessian) = if !graded.is_empty() && shape.len() == 1 {
        // A space without domain coordinates: probes move everything.
        newton(&prior.mean, None, &families)?
    } else {
        let (level, hessian) = match prior.level_sd {
            // Left out, a model's published card so placed was at worst 0.25–0.89 points
            // below the prior alone on four folds, against 1.36–2.38 before, and gained more
            // on the mean (+0.48 to +0.61 against +0.26 to +0.34).
            Some(level_sd) if !scores.is_empty() => {
                level_under_spread(prior, level_sd, &rows, &families, scores)?
            }
            _ => newton(&prior.mean, Some(&[n - 1]), &families)?,
        };
        if shaped && shape.len() > 1 {
            // The shape is the probes' and the scores by subject's: a benchmark-wide score
            // sets the level only.
            let shaping: Vec<(Vec<Vec<f64>>, f64, f64)> = (families.iter().zip(scores))
                .filter(|(_, s)| s.by_subject)
                .map(|(f, _)| f.clone())
                .collect();
            newton(&level, Some(&shape), &shaping)?
        } else {
            (level, hessian)
        }
    };
    let covariance =
        inverse(&hessian, n).ok_or_else(|| Error::Heads("the fit's Hessian is singular".into()))?;
    if w.iter().chain(&covariance).any(|v| !v.is_finite()) {
        return Err(Error::Heads(
            "the fit did not converge to finite values".into(),
        ));
    }
    Ok(head_of(id, &w, &covariance))
}

/// The level step of a card: the bias, and one shift per benchmark whose harness may differ
/// from its family's scale (`harness_sd` > 0), at their posterior mode with θ held at the
/// prior's mean; the bias is held by N(the prior's, `level_sd`²), each shift by
/// N(0, harness_sd²). Returns the head and its curvature under the prior's precision, each
/// shifted score counting for the fewer questions its harness leaves it (the shift
/// marginalised: q / (1 + q·m(1 − m)·sd²)).
fn level_under_spread(
    prior: &Prior,
    level_sd: f64,
    rows: &[(Vec<f64>, f64)],
    families: &[(Vec<Vec<f64>>, f64, f64)],
    scores: &[MeanScore],
) -> Result<(Vec<f64>, Vec<f64>)> {
    let n = prior.len();
    // Benchmarks with a shift, and which one each score shares.
    let mut keys: Vec<(&str, f64)> = Vec::new();
    let key_of: Vec<Option<usize>> = (scores.iter())
        .map(|s| {
            if !(s.harness_sd.is_finite() && s.harness_sd > 0.0) {
                return None;
            }
            Some(match keys.iter().position(|k| k.0 == s.benchmark) {
                Some(k) => k,
                None => {
                    keys.push((&s.benchmark, s.harness_sd));
                    keys.len() - 1
                }
            })
        })
        .collect();
    let k = keys.len() + 1;
    // Logits at the prior's mean, which the step moves by the bias and the shifts alone.
    let probe_at: Vec<f64> = rows.iter().map(|(x, _)| dot(&prior.mean, x)).collect();
    let family_at: Vec<Vec<f64>> = (families.iter())
        .map(|(xs, _, _)| xs.iter().map(|x| dot(&prior.mean, x)).collect())
        .collect();
    let mean_at = |logits: &[f64], moved: f64| {
        let m = logits.iter().map(|t| sigmoid(t + moved)).sum::<f64>() / logits.len() as f64;
        let slope = (logits.iter())
            .map(|t| sigmoid(t + moved) * (1.0 - sigmoid(t + moved)))
            .sum::<f64>()
            / logits.len() as f64;
        (m.clamp(1e-12, 1.0 - 1e-12), slope)
    };
    let shift = |u: &[f64], f: usize| u[0] + key_of[f].map_or(0.0, |k| u[k + 1]);
    let objective = |u: &[f64]| {
        let held = 0.5 * (u[0] / level_sd).powi(2)
            + (keys.iter().zip(&u[1..]))
                .map(|((_, sd), s)| 0.5 * (s / sd).powi(2))
                .sum::<f64>();
        let answered: f64 = (probe_at.iter().zip(rows))
            .map(|(t0, (_, y))| {
                let t = t0 + u[0];
                t.max(0.0) + (-t.abs()).exp().ln_1p() - y * t
            })
            .sum();
        let scored: f64 = (families.iter().enumerate())
            .map(|(f, (_, a, q))| {
                let (m, _) = mean_at(&family_at[f], shift(u, f));
                -q * (a * m.ln() + (1.0 - a) * (1.0 - m).ln())
            })
            .sum();
        held + answered + scored
    };
    let mut u = vec![0.0; k];
    for _ in 0..100 {
        let mut grad = vec![0.0; k];
        let mut hessian = vec![0.0; k * k];
        grad[0] = u[0] / level_sd.powi(2);
        hessian[0] = 1.0 / level_sd.powi(2);
        for (i, (_, sd)) in keys.iter().enumerate() {
            grad[i + 1] = u[i + 1] / sd.powi(2);
            hessian[(i + 1) * k + i + 1] = 1.0 / sd.powi(2);
        }
        for (t0, (_, y)) in probe_at.iter().zip(rows) {
            let p = sigmoid(t0 + u[0]);
            grad[0] += p - y;
            hessian[0] += p * (1.0 - p);
        }
        for (f, (_, a, q)) in families.iter().enumerate() {
            let (m, g) = mean_at(&family_at[f], shift(&u, f));
            let slope = -q * (a / m - (1.0 - a) / (1.0 - m)) * g;
            let info = q / (m * (1.0 - m)) * g * g;
            let moved: Vec<usize> = [Some(0), key_of[f].map(|k| k + 1)]
                .into_iter()
                .flatten()
                .collect();
            for &i in &moved {
                grad[i] += slope;
                for &j in &moved {
                    hessian[i * k + j] += info;
                }
            }
        }
        let step = solve(&hessian, &grad, k)
            .ok_or_else(|| Error::Heads("the level's Hessian is singular".into()))?;
        let before = objective(&u);
        let mut scale = 1.0;
        let mut next = u.clone();
        for _ in 0..30 {
            next = u.iter().zip(&step).map(|(a, s)| a - scale * s).collect();
            if objective(&next) <= before + 1e-12 {
                break;
            }
            scale /= 2.0;
        }
        let moved = (next.iter().zip(&u))
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        u = next;
        if moved < 1e-9 {
            break;
        }
    }
    let mut w = prior.mean.clone();
    w[n - 1] += u[0];
    // The curvature at the level, under the prior's own precision.
    let mut hessian = prior.precision.clone();
    let harness = |f: usize| key_of[f].map_or(0.0, |k| keys[k].1);
    add_evidence(&w, rows, families, harness, &mut vec![0.0; n], &mut hessian);
    Ok((w, hessian))
}

/// The mean prediction of (θ, b) = `w` over a family, kept inside (0, 1) so its logarithms
/// stay finite.
fn mean_of(w: &[f64], xs: &[Vec<f64>]) -> f64 {
    let m = xs.iter().map(|x| sigmoid(dot(w, x))).sum::<f64>() / xs.len() as f64;
    m.clamp(1e-12, 1.0 - 1e-12)
}

/// Adds the evidence's gradient and Fisher information at (θ, b) = `w` to `grad` and
/// `hessian`: each probe as a Bernoulli answer, each family's score as a binomial on its mean
/// prediction. A family whose harness may sit a shift of sd `harness(f)` away informs as the
/// fewer questions the shift leaves it (marginalised: q / (1 + q·m(1 − m)·sd²)).
fn add_evidence(
    w: &[f64],
    rows: &[(Vec<f64>, f64)],
    families: &[(Vec<Vec<f64>>, f64, f64)],
    harness: impl Fn(usize) -> f64,
    grad: &mut [f64],
    hessian: &mut [f64],
) {
    let n = w.len();
    for (x, y) in rows {
        let p = sigmoid(dot(w, x));
        for i in 0..n {
            grad[i] += (p - y) * x[i];
            for j in 0..n {
                hessian[i * n + j] += p * (1.0 - p) * x[i] * x[j];
            }
        }
    }
    for (f, (xs, a, q)) in families.iter().enumerate() {
        let m = mean_of(w, xs);
        // g = ∂m/∂(θ, b)
        let mut g = vec![0.0; n];
        for x in xs {
            let p = sigmoid(dot(w, x));
            for i in 0..n {
                g[i] += p * (1.0 - p) * x[i] / xs.len() as f64;
            }
        }
        let slope = -q * (a / m - (1.0 - a) / (1.0 - m));
        let sd = harness(f);
        let info = q / (1.0 + q * m * (1.0 - m) * sd * sd) / (m * (1.0 - m));
        for i in 0..n {
            grad[i] += slope * g[i];
            for j in 0..n {
                hessian[i * n + j] += info * g[i] * g[j];
            }
        }
    }
}

fn sigmoid(t: f64) -> f64 {
    1.0 / (1.0 + (-t).exp())
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn quad(m: &[f64], d: &[f64], n: usize) -> f64 {
    (0..n)
        .map(|i| d[i] * (0..n).map(|j| m[i * n + j] * d[j]).sum::<f64>())
        .sum()
}

/// Lower Cholesky factor of a symmetric positive definite `n × n` matrix.
fn cholesky(a: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i * n + k] * l[j * n + k]).sum();
            if i == j {
                let d = a[i * n + i] - s;
                if d <= 0.0 || !d.is_finite() {
                    return None;
                }
                l[i * n + i] = d.sqrt();
            } else {
                l[i * n + j] = (a[i * n + j] - s) / l[j * n + j];
            }
        }
    }
    Some(l)
}

/// x with a·x = b, for a symmetric positive definite.
fn solve(a: &[f64], b: &[f64], n: usize) -> Option<Vec<f64>> {
    let l = cholesky(a, n)?;
    let mut y = vec![0.0; n];
    for i in 0..n {
        y[i] = (b[i] - (0..i).map(|k| l[i * n + k] * y[k]).sum::<f64>()) / l[i * n + i];
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        x[i] = (y[i] - (i + 1..n).map(|k| l[k * n + i] * x[k]).sum::<f64>()) / l[i * n + i];
    }
    Some(x)
}

fn inverse(a: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut out = vec![0.0; n * n];
    for j in 0..n {
        let e: Vec<f64> = (0..n).map(|i| if i == j { 1.0 } else { 0.0 }).collect();
        let col = solve(a, &e, n)?;
        for i in 0..n {
            out[i * n + j] = col[i];
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(id: &str, weights: [f32; 2], bias: f32) -> Head {
        Head {
            id: id.into(),
            weights: weights.to_vec(),
            bias,
            covariance: None,
            labels: None,
            evidence: None,
        }
    }

    #[test]
    fn a_model_known_by_its_price_sits_on_the_line_of_the_heads_prices() {
        // Biases 0, 1 and 2 at prices e^0, e^1 and e^2: the line is bias = log price.
        let heads = [
            head("a", [0.1, 0.0], 0.0),
            head("b", [0.0, 0.1], 1.0),
            head("c", [0.1, 0.1], 2.0),
        ];
        let refs: Vec<&Head> = heads.iter().collect();
        let prior = Prior::from_heads(&refs).unwrap();
        let price_of = |id: &str| {
            let at = ["a", "b", "c"].iter().position(|h| *h == id)?;
            Some((at as f64).exp())
        };
        let at = prior.at_price(&refs, price_of, 1.5f64.exp()).unwrap();
        assert!((at.mean[2] - 1.5).abs() < 1e-9, "{:?}", at.mean);
        assert_eq!(at.mean[..2], prior.mean[..2], "the shape is the prior's");
        assert_eq!(at.covariance, prior.covariance, "and so is the spread");
        // Free: read at the cheapest price the line knows, not at log 0.
        let free = prior.at_price(&refs, price_of, 0.0).unwrap();
        assert!((free.mean[2] - 0.0).abs() < 1e-9);
        // Unpriced heads, or one price for all: no line to read.
        assert!(prior.at_price(&refs, |_| None, 2.0).is_none());
        assert!(prior.at_price(&refs, |_| Some(3.0), 2.0).is_none());
    }

    fn population() -> Vec<Head> {
        vec![
            head("a", [1.0, 0.0], 0.0),
            head("b", [-1.0, 0.5], 0.5),
            head("c", [0.0, -1.0], -0.5),
            head("d", [0.5, 0.5], 1.0),
        ]
    }

    #[test]
    fn no_probes_give_the_prior_mean_and_its_covariance() {
        let heads = population();
        let prior = Prior::from_heads(&heads.iter().collect::<Vec<_>>()).unwrap();
        let h = fit("new", &prior, &[]).unwrap();
        assert!((h.weights[0] - 0.125).abs() < 1e-6 && (h.bias - 0.25).abs() < 1e-6);
        let cov = h.covariance.unwrap();
        // Var(bias) of the four heads is 0.4167, plus the ridge.
        assert!((cov[8] - (0.41667 + 0.01)).abs() < 1e-3, "{cov:?}");
    }

    #[test]
    fn a_widened_prior_is_wider_along_its_coordinates_only() {
        let heads = population();
        let prior = Prior::from_heads(&heads.iter().collect::<Vec<_>>()).unwrap();
        let wide = prior.widened(1..2, 4.0).unwrap();
        assert_eq!(wide.mean, prior.mean);
        let (a, b) = (&prior.covariance, &wide.covariance);
        assert!(
            (b[4] - 4.0 * a[4]).abs() < 1e-12,
            "the variance along z₁ is 4×"
        );
        assert!((b[1] - 2.0 * a[1]).abs() < 1e-12, "its covariances 2×");
        assert_eq!((b[0], b[8], b[2]), (a[0], a[8], a[2]), "the rest as it was");
        // The precision is the new covariance's inverse.
        for i in 0..3 {
            let row: f64 = (0..3)
                .map(|k| b[i * 3 + k] * wide.precision[k * 3 + i])
                .sum();
            assert!((row - 1.0).abs() < 1e-9);
        }
        assert_eq!(prior.widened(2..2, 4.0).unwrap(), prior);
    }

    #[test]
    fn answers_move_the_head_where_they_point_and_more_answers_narrow_it() {
        let heads = population();
        let prior = Prior::from_heads(&heads.iter().collect::<Vec<_>>()).unwrap();
        // Mostly right where z₀ > 0 and wrong where z₀ < 0 (one in five the other way).
        let probes = |n: usize| -> Vec<(Vec<f32>, bool)> {
            (0..n)
                .map(|i| {
                    let x = if i % 2 == 0 { 1.0 } else { -1.0 };
                    (vec![x, (i % 3) as f32 - 1.0], (x > 0.0) != (i % 5 == 0))
                })
                .collect()
        };
        let few = fit("new", &prior, &probes(10)).unwrap();
        let many = fit("new", &prior, &probes(200)).unwrap();
        assert!(few.weights[0] > 0.5, "{few:?}");
        assert!(many.weights[0] > few.weights[0], "{many:?} vs {few:?}");
        let var = |h: &Head| h.covariance.as_ref().unwrap()[0];
        assert!(var(&many) < var(&few) / 5.0);
    }

    fn mean_on(h: &Head, z: &[Vec<f32>]) -> f64 {
        let w: Vec<f64> = params(h);
        z.iter()
            .map(|z| {
                sigmoid(dot(
                    &w,
                    &z.iter()
                        .map(|&v| f64::from(v))
                        .chain([1.0])
                        .collect::<Vec<_>>(),
                ))
            })
            .sum::<f64>()
            / z.len() as f64
    }

    #[test]
    fn a_score_sets_the_mean_over_its_prompts_and_its_size_sets_how_sure() {
        let heads = population();
        let prior = Prior::from_heads(&heads.iter().collect::<Vec<_>>()).unwrap();
        let family: Vec<Vec<f32>> = (0..20)
            .map(|i| vec![(i % 5) as f32 / 4.0, 1.0 - (i % 3) as f32])
            .collect();
        let score = |accuracy, questions| MeanScore {
            z: family.clone(),
            accuracy,
            questions,
            by_subject: false,
            benchmark: "b".into(),
            harness_sd: 0.0,
        };
        let before = mean_on(&prior.head("p"), &family);
        let high = fit_evidence("new", &prior, &[], &[score(0.95, 1000.0)]).unwrap();
        let low = fit_evidence("new", &prior, &[], &[score(0.2, 1000.0)]).unwrap();
        // Only the level moves (the prior's shape is kept), so the prior holds it a little
        // short of a thousand questions' mean.
        assert!(
            (mean_on(&high, &family) - 0.95).abs() < 0.03,
            "{before} -> {}",
            mean_on(&high, &family)
        );
        assert!(
            (mean_on(&low, &family) - 0.2).abs() < 0.03,
            "{}",
            mean_on(&low, &family)
        );
        // Thirty questions pull less far than a thousand and leave the head less sure.
        let few = fit_evidence("new", &prior, &[], &[score(0.95, 30.0)]).unwrap();
        let m = mean_on(&few, &family);
        assert!(m > before && m < mean_on(&high, &family), "{before} < {m}");
        let var = |h: &Head| h.covariance.as_ref().unwrap()[8];
        assert!(
            var(&high) < var(&few)
                && var(&few) < f64::from(prior.head("p").covariance.unwrap()[8]) as f32
        );
        // A score and probes combine: probes right everywhere lift the same head further.
        let right: Vec<(Vec<f32>, bool)> = family.iter().map(|z| (z.clone(), true)).collect();
        let both = fit_evidence("new", &prior, &right, &[score(0.6, 30.0)]).unwrap();
        let card = fit_evidence("new", &prior, &[], &[score(0.6, 30.0)]).unwrap();
        assert!(mean_on(&both, &family) > mean_on(&card, &family));
        // A card alone keeps the prior's shape: θ is the prior's, only b moved.
        let shape = |h: &Head| h.weights.clone();
        assert_eq!(shape(&card), shape(&prior.head("p")));
        assert_ne!(card.bias, prior.head("p").bias);
        // Where the prior names domain coordinates (a calibration's does), scores by subject
        // move them too: two subjects apart in the domain coordinate alone each get their own
        // level, and the learned coordinate stays the prior's. Benchmark-wide scores do not.
        let mut domains = prior.clone();
        domains.domains = 1..2;
        let at =
            |d: f32| -> Vec<Vec<f32>> { (0..20).map(|i| vec![(i % 5) as f32 / 4.0, d]).collect() };
        let (strong, weak) = (at(1.0), at(0.0));
        let scores = |by_subject| {
            [(&strong, 0.9), (&weak, 0.3)].map(|(z, accuracy)| MeanScore {
                z: z.clone(),
                accuracy,
                questions: 200.0,
                by_subject,
                benchmark: "b".into(),
                harness_sd: 0.0,
            })
        };
        let shaped = fit_evidence("new", &domains, &[], &scores(true)).unwrap();
        assert_eq!(shaped.weights[0], prior.head("p").weights[0]);
        let (s, w) = (mean_on(&shaped, &strong), mean_on(&shaped, &weak));
        assert!(s - w > 0.25, "{s} {w}");
        let level = fit_evidence("new", &domains, &[], &scores(false)).unwrap();
        assert_eq!(level.weights, prior.head("p").weights);
        let gap = mean_on(&level, &strong) - mean_on(&level, &weak);
        assert!(gap + 0.2 < s - w, "the level alone: {gap}");
        for bad in [
            score(1.5, 10.0),
            score(0.5, 0.0),
            score(0.5, f64::NAN),
            MeanScore {
                z: vec![],
                accuracy: 0.5,
                questions: 1.0,
                by_subject: false,
                benchmark: "b".into(),
                harness_sd: 0.0,
            },
        ] {
            assert!(fit_evidence("new", &prior, &[], &[bad]).is_err());
        }
    }

    #[test]
    fn a_cards_level_is_held_by_the_models_spread_and_an_unmeasured_harness_counts_for_less() {
        let heads = population();
        let refs: Vec<&Head> = heads.iter().collect();
        let family: Vec<Vec<f32>> = (0..20)
            .map(|i| vec![(i % 5) as f32 / 4.0, 1.0 - (i % 3) as f32])
            .collect();
        let mut prior = Prior::from_heads(&refs).unwrap().scaled(0.01);
        prior.level_sd = level_spread(&refs, &family);
        let spread = prior.level_sd.unwrap();
        assert!(spread > 0.3 && spread < 3.0, "{spread}");
        let score = |accuracy, harness_sd| MeanScore {
            z: family.clone(),
            accuracy,
            questions: 100.0,
            by_subject: false,
            benchmark: "b".into(),
            harness_sd,
        };
        let before = mean_on(&prior.head("p"), &family);
        let at = |accuracy, sd, prior: &Prior| {
            mean_on(
                &fit_evidence("new", prior, &[], &[score(accuracy, sd)]).unwrap(),
                &family,
            )
        };
        // The covariance alone holds a bias with θ at the mean far tighter than models differ.
        let mut grip = prior.clone();
        grip.level_sd = None;
        assert!(at(0.95, 0.0, &prior) > at(0.95, 0.0, &grip) + 0.05);
        assert!((at(0.95, 0.0, &prior) - 0.95).abs() < 0.05);
        // A harness no offset maps moves the level less, but still apart by the score.
        let (high, low) = (at(0.95, 0.8, &prior), at(0.2, 0.8, &prior));
        assert!(
            high < at(0.95, 0.0, &prior) && high > before,
            "{before} {high}"
        );
        assert!(low > at(0.2, 0.0, &prior) && low < before, "{before} {low}");
        // And leaves the head less sure.
        let var = |sd| {
            let h = fit_evidence("new", &prior, &[], &[score(0.95, sd)]).unwrap();
            h.covariance.unwrap()[8]
        };
        assert!(var(0.8) > var(0.0));
        // Probes alone keep the covariance's grip.
        let graded: Vec<(Vec<f32>, bool)> = family.iter().map(|z| (z.clone(), true)).collect();
        let (a, b) = (
            fit("new", &prior, &graded).unwrap(),
            fit("new", &grip, &graded).unwrap(),
        );
        assert_eq!((a.weights, a.bias), (b.weights, b.bias));
    }

    #[test]
    fn with_probes_a_benchmark_wide_score_sets_the_level_and_the_probes_the_shape() {
        let heads = population();
        let mut prior = Prior::from_heads(&heads.iter().collect::<Vec<_>>()).unwrap();
        prior.domains = 1..2;
        // Probes right wherever the domain coordinate is 1, wrong where it is 0.
        let graded: Vec<(Vec<f32>, bool)> = (0..40)
            .map(|i| (vec![(i % 5) as f32 / 4.0, (i % 2) as f32], i % 2 == 1))
            .collect();
        // A large benchmark-wide score of 0.3 whose prompts all lie in the second domain: it
        // lowers the level; held in the shape step too, it would bend the shape against the
        // probes.
        let score = MeanScore {
            z: (0..20).map(|i| vec![(i % 5) as f32 / 4.0, 1.0]).collect(),
            accuracy: 0.3,
            questions: 1000.0,
            by_subject: false,
            benchmark: "b".into(),
            harness_sd: 0.0,
        };
        let both = fit_evidence("new", &prior, &graded, &[score]).unwrap();
        let probes = fit("new", &prior, &graded).unwrap();
        let p = prior.head("p");
        assert!(both.bias < probes.bias, "the score lowers the level");
        assert!(
            both.weights[1] > p.weights[1] + 0.5,
            "the shape is the probes': {:?} (probes alone {:?}, prior {:?})",
            both.weights,
            probes.weights,
            p.weights
        );
    }

    #[test]
    fn probes_set_the_level_then_the_domains_where_the_prior_names_them() {
        let heads = population();
        let prior = Prior::from_heads(&heads.iter().collect::<Vec<_>>()).unwrap();
        // Right wherever the domain coordinate is 1, wrong where it is 0.
        let graded: Vec<(Vec<f32>, bool)> = (0..40)
            .map(|i| (vec![(i % 5) as f32 / 4.0, (i % 2) as f32], i % 2 == 1))
            .collect();
        let mut domains = prior.clone();
        domains.domains = 1..2;
        let shaped = fit("new", &domains, &graded).unwrap();
        let p = prior.head("p");
        assert_eq!(
            shaped.weights[0], p.weights[0],
            "the learned coordinate is the prior's"
        );
        assert!(
            shaped.weights[1] > p.weights[1] + 0.5,
            "{:?}",
            shaped.weights
        );
        // Without domain coordinates, probes move everything.
        let free = fit("new", &prior, &graded).unwrap();
        assert_ne!(free.weights[0], p.weights[0]);
    }

    #[test]
    fn bad_inputs_are_errors() {
        let heads = population();
        assert!(Prior::from_heads(&[&heads[0]]).is_err());
        let prior = Prior::from_heads(&heads.iter().collect::<Vec<_>>()).unwrap();
        assert!(fit("x", &prior, &[(vec![1.0], true)]).is_err());
    }

    #[test]
    fn linear_algebra() {
        let a = [4.0, 2.0, 2.0, 3.0];
        let x = solve(&a, &[2.0, 1.0], 2).unwrap();
        assert!((x[0] - 0.5).abs() < 1e-12 && x[1].abs() < 1e-12);
        assert!(cholesky(&[1.0, 2.0, 2.0, 1.0], 2).is_none());
    }
}

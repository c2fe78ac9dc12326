//! The performance predictor: tokenizer → ONNX encoder (tract) → the prompt's position z in a
//! space every model shares → per model, sigmoid(θ_m · z + b_m), corrected by the labels of the
//! nearest training prompts in that space, with the estimate's standard deviation under the
//! head's covariance.

use std::sync::Arc;

use tokenizers::{Tokenizer, TruncationParams};
use tract_onnx::prelude::*;

use crate::bundle::Head;
use crate::bundle::{self, Manifest};
use crate::cost::{Billing, Classes};
use crate::error::{Error, Result};
use crate::heads::{HeadsFile, Prior};

type Plan = Arc<TypedRunnableModel>;

/// What the predictor says about one prompt.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Prediction {
    /// Tokens the encoder saw, special tokens included.
    pub tokens: usize,
    /// True when the prompt was longer than the encoder's `max_tokens` and only its start was read.
    pub truncated: bool,
    /// Characters the request sends (every turn of a conversation), which its cost estimate
    /// counts.
    pub chars: usize,
    /// Estimated probability that each model answers well, in head order.
    pub quality: Vec<ModelQuality>,
    /// The estimate for a model known to no head (the predictor's prior: an average model, as
    /// unsure as models differ), which a pool's uncalibrated models are routed with.
    pub uncalibrated: Option<Estimate>,
    /// What the request needs of a model beyond text (tools, an answer schema), which routing
    /// holds it to.
    #[serde(skip)]
    pub needs: Vec<crate::pool::Capability>,
}

/// One model's estimated quality for a prompt.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ModelQuality {
    /// Model id.
    pub model: String,
    /// Estimated probability of a good answer, in [0, 1].
    pub quality: f64,
    /// Standard deviation of that estimate (0 when the head states no covariance).
    pub sd: f64,
    /// How the routing data billed this model's answers to such prompts, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billing: Option<Billing>,
}

/// A head's estimate for one prompt, without the model's name.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Estimate {
    /// Estimated probability of a good answer, in [0, 1].
    pub quality: f64,
    /// Its standard deviation.
    pub sd: f64,
    /// How the routing data billed the model's answers to such prompts, when it did
    /// ([`Billing`]); the cost estimate then uses it instead of list prices at a flat length.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billing: Option<Billing>,
}

impl Prediction {
    /// Quality of a model, if the predictor has a head for it.
    pub fn quality_of(&self, model: &str) -> Option<f64> {
        self.estimate_of(model).map(|e| e.quality)
    }

    /// Quality and its standard deviation for a model, if the predictor has a head for it.
    pub fn estimate_of(&self, model: &str) -> Option<Estimate> {
        self.quality
            .iter()
            .find(|q| q.model == model)
            .map(|q| Estimate {
                quality: q.quality,
                sd: q.sd,
                billing: q.billing,
            })
    }
}

/// A loaded predictor: optimised once, reused for every prompt. A clone shares the optimised
/// encoder, so routers on other pools need not load it again.
#[derive(Clone)]
pub struct Predictor {
    manifest: Manifest,
    tokenizer: Tokenizer,
    plan: Plan,
    neighbours: Neighbours,
    /// The shipped heads' mean and spread, as a head for models none describes.
    prior: Option<Head>,
    /// Every head's estimate on each reference prompt, then the prior's: `[prompt][head]`.
    reference: Vec<Vec<Estimate>>,
    /// Every head's covariance packed for [`sd`] ([`packed`]), then the prior's.
    packed: Vec<Option<Vec<f64>>>,
    /// Per head, the z coordinates of the domains its labels do not cover ([`outside`]).
    outside: Vec<Option<Vec<usize>>>,
}

/// The training prompts' vectors (int8) and, per head, their labels.
#[derive(Clone)]
struct Neighbours {
    keys: Vec<i8>,
    labels: Vec<u8>,
}

/// Label byte of a training prompt a model was not evaluated on.
const UNLABELLED: u8 = 255;

impl std::fmt::Debug for Predictor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Predictor")
            .field("encoder", &self.manifest.encoder.file)
            .field("heads", &self.manifest.heads.len())
            .finish()
    }
}

impl Predictor {
    /// Builds a predictor from the bytes of `predictor.json`, the encoder, the tokenizer and the
    /// neighbours file.
    ///
    /// Checks every file against the digests in the manifest before parsing it.
    pub fn from_bytes(
        manifest: &[u8],
        encoder: &[u8],
        tokenizer: &[u8],
        neighbours: &[u8],
    ) -> Result<Predictor> {
        let manifest = Manifest::from_json(manifest)?;
        bundle::verify(&manifest.encoder.file, &manifest.encoder.sha256, encoder)?;
        bundle::verify(
            &manifest.tokenizer.file,
            &manifest.tokenizer.sha256,
            tokenizer,
        )?;
        let spec = &manifest.neighbours;
        bundle::verify(&spec.file, &spec.sha256, neighbours)?;
        let dim = manifest.encoder.dim;
        let expected = spec.file_len(dim, manifest.heads.len());
        if expected != Some(neighbours.len()) {
            return Err(Error::Manifest(format!(
                "{} has {} bytes; {} prompts of {dim} dimensions and {} models need {}",
                spec.file,
                neighbours.len(),
                spec.rows,
                manifest.heads.len(),
                expected.map_or("more than this machine can address".into(), |n| n
                    .to_string())
            )));
        }
        // Cannot overflow: file_len checked rows × (dim + heads).
        let (keys, labels) = neighbours.split_at(spec.rows * dim);
        let neighbours = Neighbours {
            keys: keys.iter().map(|&b| b as i8).collect(),
            labels: labels.to_vec(),
        };
        let tokenizer = load_tokenizer(tokenizer, manifest.encoder.max_tokens)?;
        let plan = load_encoder(encoder)?;
        let heads: Vec<&Head> = manifest.heads.iter().collect();
        let prior = Prior::from_heads(&heads)
            .ok()
            .map(|p| p.head("(uncalibrated)"));
        let covariances = manifest.heads.iter().chain(&prior).map(packed).collect();
        let outside = (manifest.heads.iter())
            .map(|h| outside(&manifest, h))
            .collect();
        let mut predictor = Predictor {
            manifest,
            tokenizer,
            plan,
            neighbours,
            prior,
            reference: Vec::new(),
            packed: covariances,
            outside,
        };
        predictor.estimate_reference();
        Ok(predictor)
    }

    /// Reads a bundle from a directory holding `predictor.json` and the files it names.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn from_dir(dir: impl AsRef<std::path::Path>) -> Result<Predictor> {
        let dir = dir.as_ref();
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path).map_err(|e| Error::Io {
                path: path.display().to_string(),
                message: e.to_string(),
            })
        };
        let manifest_bytes = read("predictor.json")?;
        let manifest = Manifest::from_json(&manifest_bytes)?;
        let encoder = read(&manifest.encoder.file)?;
        let tokenizer = read(&manifest.tokenizer.file)?;
        let neighbours = read(&manifest.neighbours.file)?;
        Predictor::from_bytes(&manifest_bytes, &encoder, &tokenizer, &neighbours)
    }

    /// Adds the heads of a heads file (a calibration), replacing any of the same id: the
    /// file must belong to this bundle's space. A replaced or added head has no training
    /// labels for the neighbour correction, so its own estimate stands.
    pub fn add_heads(&mut self, file: &HeadsFile) -> Result<()> {
        let encoder = &self.manifest.encoder;
        if !file.encoder.eq_ignore_ascii_case(&encoder.sha256) {
            return Err(Error::Heads(format!(
                "the heads were fitted in the space of encoder {}, this bundle's is {} ({}); \
                 calibrate again with this bundle",
                short(&file.encoder),
                short(&encoder.sha256),
                encoder.file
            )));
        }
        let mut seen = std::collections::HashSet::new();
        for head in &file.heads {
            head.check(encoder.dim).map_err(Error::Heads)?;
            encoder.check_covered(head).map_err(Error::Heads)?;
            if !seen.insert(head.id.as_str()) {
                return Err(Error::Heads(format!("head {:?} appears twice", head.id)));
            }
        }
        let rows = self.manifest.neighbours.rows;
        let before = self.manifest.heads.len();
        let mut changed = Vec::with_capacity(file.heads.len());
        for head in &file.heads {
            match self.manifest.heads.iter().position(|h| h.id == head.id) {
                Some(at) => {
                    self.manifest.heads[at] = head.clone();
                    self.packed[at] = packed(head);
                    self.outside[at] = outside(&self.manifest, head);
                    self.neighbours.labels[at * rows..(at + 1) * rows].fill(UNLABELLED);
                    changed.push(at);
                }
                None => {
                    self.outside.push(outside(&self.manifest, head));
                    self.manifest.heads.push(head.clone());
                    self.packed
                        .insert(self.manifest.heads.len() - 1, packed(head));
                    let len = self.neighbours.labels.len();
                    self.neighbours.labels.resize(len + rows, UNLABELLED);
                    changed.push(self.manifest.heads.len() - 1);
                }
            }
        }
        self.estimate_reference_of(before, &changed);
        Ok(())
    }

    /// The manifest the predictor was built from (with any heads added since).
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Token ids the encoder sees for a prompt (after truncation), and whether it was truncated.
    pub fn tokenize(&self, prompt: &str) -> Result<(Vec<u32>, bool)> {
        if prompt.trim().is_empty() {
            return Err(Error::EmptyPrompt);
        }
        let encoding = self
            .tokenizer
            .encode(prompt, true)
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        let truncated = !encoding.get_overflowing().is_empty();
        Ok((encoding.get_ids().to_vec(), truncated))
    }

    /// The prompt's position in the shared space (the encoder's output), its token count and
    /// whether it was truncated.
    pub fn embed(&self, prompt: &str) -> Result<(Vec<f32>, usize, bool)> {
        let (ids, truncated) = self.tokenize(prompt)?;
        let n = ids.len();
        let ids: Vec<i64> = ids.into_iter().map(i64::from).collect();
        let input_ids = Tensor::from_shape(&[1, n], &ids).map_err(encoder_err)?;
        let mask = Tensor::from_shape(&[1, n], &vec![1i64; n]).map_err(encoder_err)?;
        let outputs = self
            .plan
            .run(tvec!(input_ids.into(), mask.into()))
            .map_err(encoder_err)?;
        let output = outputs
            .first()
            .ok_or_else(|| Error::Encoder("the encoder returned no output".into()))?;
        let view = output.to_plain_array_view::<f32>().map_err(encoder_err)?;
        let vector: Vec<f32> = view.iter().copied().collect();
        if vector.len() != self.manifest.encoder.dim {
            return Err(Error::Encoder(format!(
                "the encoder returned {} values, the manifest says {}",
                vector.len(),
                self.manifest.encoder.dim
            )));
        }
        Ok((vector, n, truncated))
    }

    /// Estimates, for every head, how likely that model is to answer the prompt well.
    pub fn predict(&self, prompt: &str) -> Result<Prediction> {
        let (z, tokens, truncated) = self.embed(prompt)?;
        let ending = (self.manifest.billing.as_ref()).and_then(|b| b.ending_of(prompt));
        let estimates = self.estimate_ending(&z, ending);
        let quality = self
            .manifest
            .heads
            .iter()
            .zip(estimates.iter().copied())
            .map(|(head, e)| ModelQuality {
                model: head.id.clone(),
                quality: e.quality,
                sd: e.sd,
                billing: e.billing,
            })
            .collect();
        Ok(Prediction {
            tokens,
            truncated,
            chars: prompt.chars().count(),
            uncalibrated: estimates.get(self.manifest.heads.len()).copied(),
            quality,
            needs: Vec::new(),
        })
    }

    /// Every head's estimate, in head order, for a position `z` in the shared space; then the
    /// prior's, when the predictor has one ([`Predictor::prior_index`]).
    pub fn estimate(&self, z: &[f32]) -> Vec<Estimate> {
        self.estimate_ending(z, None)
    }

    /// [`Predictor::estimate`] for a prompt whose last word is the billing's ending `ending`
    /// ([`crate::bundle::BillingSpec::ending_of`]); `None` where it is not known.
    pub fn estimate_ending(&self, z: &[f32], ending: Option<usize>) -> Vec<Estimate> {
        let at = self.at(z, ending);
        let heads = (0..self.manifest.heads.len()).map(|h| self.head_estimate(h, &at));
        // The prior's logit is at hand: heads outside their domains are drawn toward it.
        let prior = at.prior_logit.map(|logit| {
            let p = sigmoid(logit);
            Estimate {
                quality: p,
                sd: self.spread(self.manifest.heads.len(), &at.x, p),
                billing: None,
            }
        });
        heads.chain(prior).collect()
    }

    /// What every head's estimate at `z` shares: its neighbours, (z, 1) and, where the bundle
    /// has levels or measured accuracies, the domains weighed as the billing weighs them.
    fn at<'z>(&self, z: &'z [f32], ending: Option<usize>) -> At<'z> {
        let (similarity, order) = if self.manifest.neighbours.k > 0 {
            let similarity = self.similarities(&unit(z));
            let order = Self::by_similarity(&similarity);
            (similarity, order)
        } else {
            (Vec::new(), Vec::new())
        };
        At {
            z,
            x: z.iter().map(|&v| f64::from(v)).chain([1.0]).collect(),
            similarity,
            order,
            prior_logit: (self.prior.as_ref()).map(|p| head_logit(&p.weights, p.bias, z)),
            ending,
            cued: self.cued(z, ending),
        }
    }

    /// Each domain's share of a prompt at `z` with `ending`, as the billing weighs the domains
    /// (by the encoder's probabilities and the prompt's ending): what the levels and measured
    /// accuracies are weighed by. Empty where the bundle has neither.
    fn cued(&self, z: &[f32], ending: Option<usize>) -> Vec<f64> {
        if self.manifest.levels.is_empty() && self.manifest.accuracy.is_empty() {
            return Vec::new();
        }
        let n = self.manifest.encoder.domains.len();
        let Some(domains) = z.len().checked_sub(n).and_then(|i| z.get(i..)) else {
            return Vec::new();
        };
        let spec = self.manifest.billing.as_ref();
        let likelihood = ending.and_then(|i| spec.and_then(|s| s.likelihood(i)));
        match crate::cost::cued(domains, likelihood) {
            Some((weights, mass)) => weights.iter().map(|w| w / mass).collect(),
            None => Vec::new(),
        }
    }

    /// The sd of head `h` (the prior after the heads) at `x` = (z, 1) for its probability `p`;
    /// 0 without a covariance.
    fn spread(&self, h: usize, x: &[f64], p: f64) -> f64 {
        match self.packed.get(h) {
            Some(Some(cov)) => sd(cov, x, p),
            _ => 0.0,
        }
    }

    /// Head `h`'s estimate at a position ([`Predictor::at`]).
    fn head_estimate(&self, h: usize, at: &At) -> Estimate {
        let head = &self.manifest.heads[h];
        let logit = head_logit(&head.weights, head.bias, at.z) + self.level(head, at);
        let p = sigmoid(self.transferred(h, logit, at));
        let own = self.nearest(h, p, &at.similarity, &at.order);
        Estimate {
            quality: self.measured(head, own, at),
            sd: self.spread(h, &at.x, p),
            billing: self.billing(head, at),
        }
    }

    /// Head `h`'s `logit` at a position, drawn toward the prior's where the prompt's domain
    /// mass lies mostly outside the domains its labels cover, by the bundle's
    /// [`crate::bundle::TransferSpec`]: a level fitted on one domain is an unsure guess at
    /// another's.
    fn transferred(&self, h: usize, logit: f64, at: &At) -> f64 {
        let spec = self.manifest.transfer.as_ref();
        let outside = self.outside.get(h).and_then(Option::as_ref);
        let (Some(spec), Some(outside), Some(toward)) = (spec, outside, at.prior_logit) else {
            return logit;
        };
        let mass: f64 = (outside.iter())
            .filter_map(|&i| at.z.get(i))
            .map(|&v| f64::from(v))
            .sum();
        let share = ((mass - spec.inside) / (1.0 - spec.inside)).clamp(0.0, 1.0);
        logit + share * (1.0 - spec.weight) * (toward - logit)
    }

    /// The bundle's shift of `head`'s logit at a position: its level in each domain, weighed as
    /// the billing weighs the domains; 0 where the bundle gives it none.
    fn level(&self, head: &Head, at: &At) -> f64 {
        match self.manifest.levels.get(&head.id) {
            Some(shifts) => (at.cued.iter().zip(shifts))
                .map(|(w, &d)| w * f64::from(d))
                .sum(),
            None => 0.0,
        }
    }

    /// `own`, `head`'s estimate at a position, with each domain where the bundle measured the
    /// model's accuracy taking its weight (as the levels are weighed) at that accuracy.
    fn measured(&self, head: &Head, own: f64, at: &At) -> f64 {
        let Some(measured) = self.manifest.accuracy.get(&head.id) else {
            return own;
        };
        let (mut weight, mut sum) = (0.0, 0.0);
        for (w, a) in at.cued.iter().zip(measured) {
            if let Some(a) = a {
                weight += w;
                sum += w * f64::from(*a);
            }
        }
        sum + (1.0 - weight).max(0.0) * own
    }

    /// How the routing data billed `head`'s model at a position: its ratios by domain, weighed
    /// by the domain probabilities in z's last coordinates and by how likely each domain makes
    /// the prompt's ending; `None` for a model it never billed.
    fn billing(&self, head: &Head, at: &At) -> Option<Billing> {
        let spec = self.manifest.billing.as_ref()?;
        let ratios = spec.ratios.get(&head.id)?;
        let z = at.z;
        let domains = z.get(z.len().checked_sub(spec.answer_tokens.len())?..)?;
        let likelihood = at.ending.and_then(|i| spec.likelihood(i));
        let classes = Classes {
            answer_tokens: &spec.answer_tokens,
            input_tokens: &spec.input_tokens,
            ratios,
            output_ratios: spec.output_ratios(&head.id).unwrap_or(ratios),
        };
        Billing::weigh(domains, likelihood, classes)
    }

    /// Every head's estimate on the reference prompts, once per set of heads, not per pool: the
    /// budget curve of every pool reads these.
    fn estimate_reference(&mut self) {
        let reference = &self.manifest.reference;
        self.reference = (reference.z.iter().enumerate())
            .map(|(i, z)| self.estimate_ending(z, self.reference_ending(i)))
            .collect();
    }

    /// The reference estimates again for the heads at `changed` only (replaced, or appended
    /// after the first `before`), the prior's kept: a calibration or a placed model adds a few
    /// heads to a hundred, and estimating every head again took most of a load in the browser.
    fn estimate_reference_of(&mut self, before: usize, changed: &[usize]) {
        let mut reference = std::mem::take(&mut self.reference);
        let heads = self.manifest.heads.len();
        for (i, (row, z)) in reference
            .iter_mut()
            .zip(&self.manifest.reference.z)
            .enumerate()
        {
            let at = self.at(z, self.reference_ending(i));
            let prior = row.split_off(before.min(row.len()));
            row.resize_with(heads, Estimate::default);
            for &h in changed {
                row[h] = self.head_estimate(h, &at);
            }
            row.extend(prior);
        }
        self.reference = reference;
    }

    /// Reference prompt `i`'s ending among the billing's, where the bundle says.
    fn reference_ending(&self, i: usize) -> Option<usize> {
        (self.manifest.reference.ending.get(i)).map(|&e| usize::from(e))
    }

    /// The share of its logit head `h` keeps where a prompt lies wholly outside the domains its
    /// labels cover ([`crate::bundle::TransferSpec`]); `None` where it is kept whole: its labels
    /// leave no domain uncovered, or the bundle says nothing of transfer.
    pub fn keeps(&self, h: usize) -> Option<f64> {
        let drawn = self.prior.is_some() && matches!(self.outside.get(h), Some(Some(_)));
        drawn.then(|| self.manifest.transfer.as_ref().map(|t| t.weight))?
    }

    /// Where [`Predictor::estimate`] puts the prior's estimate (after every head), if the
    /// predictor has a prior (two heads or more).
    pub fn prior_index(&self) -> Option<usize> {
        self.prior.as_ref().map(|_| self.manifest.heads.len())
    }

    /// Every head's estimate on each of the manifest's reference prompts, then the prior's:
    /// `[prompt][head]`.
    pub fn reference(&self) -> &[Vec<Estimate>] {
        &self.reference
    }
}

impl Predictor {
    /// Cosine of the prompt with every training prompt (both unit length).
    fn similarities(&self, x: &[f32]) -> Vec<f32> {
        self.neighbours
            .keys
            .chunks_exact(x.len())
            .map(|key| dot_i8(key, x) / 127.0)
            .collect()
    }

    /// Training prompts from most to least similar; ties to the earlier prompt.
    fn by_similarity(similarity: &[f32]) -> Vec<u32> {
        let mut order: Vec<u32> = (0..similarity.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| {
            similarity[b as usize]
                .total_cmp(&similarity[a as usize])
                .then(a.cmp(&b))
        });
        order
    }

    /// Head `h`'s estimate `own`, corrected by its `k` most similar labelled training prompts.
    fn nearest(&self, h: usize, own: f64, similarity: &[f32], order: &[u32]) -> f64 {
        let spec = &self.manifest.neighbours;
        if spec.k == 0 {
            return own;
        }
        let labels = &self.neighbours.labels[h * spec.rows..(h + 1) * spec.rows];
        let (mut hits, mut total) = (spec.prior_weight * own, spec.prior_weight);
        let near = order
            .iter()
            .map(|&i| i as usize)
            .filter(|&i| labels[i] != UNLABELLED)
            .take(spec.k);
        for i in near {
            let w = (spec.temperature * f64::from(similarity[i])).exp();
            hits += w * f64::from(labels[i]);
            total += w;
        }
        hits / total
    }
}

/// `z` scaled to unit length (zero stays zero).
fn unit(z: &[f32]) -> Vec<f32> {
    let norm = z.iter().map(|v| v * v).sum::<f32>().sqrt();
    if norm > 0.0 {
        z.iter().map(|v| v / norm).collect()
    } else {
        z.to_vec()
    }
}

/// Dot product of an int8 vector with an f32 one, in eight running sums so the compiler can
/// vectorise it; the order is fixed, so native and wasm agree to the bit.
fn dot_i8(key: &[i8], x: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let mut keys = key.chunks_exact(8);
    let mut xs = x.chunks_exact(8);
    for (k, v) in keys.by_ref().zip(xs.by_ref()) {
        for j in 0..8 {
            acc[j] += f32::from(k[j]) * v[j];
        }
    }
    let tail: f32 = keys
        .remainder()
        .iter()
        .zip(xs.remainder())
        .map(|(&k, &v)| f32::from(k) * v)
        .sum();
    acc.iter().sum::<f32>() + tail
}

fn dot(w: &[f32], x: &[f32]) -> f64 {
    w.iter()
        .zip(x)
        .map(|(w, v)| f64::from(*w) * f64::from(*v))
        .sum()
}

/// w · x + b, accumulated in f64 so native and wasm round alike.
fn head_logit(weights: &[f32], bias: f32, x: &[f32]) -> f64 {
    dot(weights, x) + f64::from(bias)
}

fn sigmoid(logit: f64) -> f64 {
    1.0 / (1.0 + (-logit).exp())
}

/// The z coordinates of the encoder's domains that `head`'s labels do not cover, when the
/// bundle says how a head transfers there ([`crate::bundle::TransferSpec`]); `None` where the
/// head is trusted everywhere: its labels do not name their domains, or cover them all.
fn outside(manifest: &Manifest, head: &Head) -> Option<Vec<usize>> {
    manifest.transfer.as_ref()?;
    let covered = &head.labels.as_ref()?.domains;
    if covered.is_empty() {
        return None;
    }
    let domains = &manifest.encoder.domains;
    let first = manifest.encoder.dim.checked_sub(domains.len())?;
    let out: Vec<usize> = (domains.iter().enumerate())
        .filter(|(_, d)| !covered.contains(d))
        .map(|(i, _)| first + i)
        .collect();
    (!out.is_empty()).then_some(out)
}

/// What the estimates at one position share ([`Predictor::at`]).
struct At<'z> {
    z: &'z [f32],
    /// (z, 1), for the heads' covariances.
    x: Vec<f64>,
    similarity: Vec<f32>,
    order: Vec<u32>,
    /// The prior's logit, which a head is drawn toward outside its domains.
    prior_logit: Option<f64>,
    /// The prompt's ending among the billing's, where known.
    ending: Option<usize>,
    /// [`Predictor::cued`]: each domain's weight for the levels and measured accuracies; empty
    /// without either.
    cued: Vec<f64>,
}

/// A head's covariance of (weights, bias) as [`sd`] reads it: each row's upper triangle in f64,
/// off-diagonal entries doubled, as the quadratic form xᵀ·cov·x counts them twice. Half the
/// products, and none converted: this is most of estimating a head in a space of tens of
/// dimensions. `None` without a covariance, or with one that is not square in the head's space.
fn packed(head: &Head) -> Option<Vec<f64>> {
    let cov = head.covariance.as_deref()?;
    let side = head.weights.len() + 1;
    if cov.len() != side * side {
        return None;
    }
    let mut out = Vec::with_capacity(side * (side + 1) / 2);
    for i in 0..side {
        out.push(f64::from(cov[i * side + i]));
        for j in i + 1..side {
            out.push(f64::from(cov[i * side + j]) + f64::from(cov[j * side + i]));
        }
    }
    Some(out)
}

/// Standard deviation of a head's probability `p` at `z` under the covariance of (weights,
/// bias), [`packed`]: the delta method, p(1 − p)·√(xᵀ·cov·x) with `x` = (z, 1). The kNN correction
/// is left out: it only moves the estimate toward labels the head was fitted on.
fn sd(packed: &[f64], x: &[f64], p: f64) -> f64 {
    let (mut variance, mut rest) = (0.0, packed);
    for (i, &xi) in x.iter().enumerate() {
        let Some((row, tail)) = rest.split_at_checked(x.len() - i) else {
            return 0.0;
        };
        variance += xi * dot_f64(row, &x[i..]);
        rest = tail;
    }
    p * (1.0 - p) * f64::max(variance, 0.0).sqrt()
}

/// Σ row·x (of equal length) in four independent sums: one running sum waits on each add. Plain
/// indexing, as the wasm is built for size and left `zip`'s set-up uninlined in this loop.
fn dot_f64(row: &[f64], x: &[f64]) -> f64 {
    let n = row.len().min(x.len());
    let (row, x) = (&row[..n], &x[..n]);
    let mut sums = [0.0f64; 4];
    let mut j = 0;
    while j + 4 <= n {
        sums[0] += row[j] * x[j];
        sums[1] += row[j + 1] * x[j + 1];
        sums[2] += row[j + 2] * x[j + 2];
        sums[3] += row[j + 3] * x[j + 3];
        j += 4;
    }
    while j < n {
        sums[0] += row[j] * x[j];
        j += 1;
    }
    (sums[0] + sums[1]) + (sums[2] + sums[3])
}

/// The first twelve hex digits of a digest, for messages.
fn short(digest: &str) -> &str {
    digest.get(..12).unwrap_or(digest)
}

fn encoder_err(e: impl std::fmt::Display) -> Error {
    Error::Encoder(e.to_string())
}

fn load_tokenizer(bytes: &[u8], max_tokens: usize) -> Result<Tokenizer> {
    let mut tokenizer =
        Tokenizer::from_bytes(bytes).map_err(|e| Error::Tokenizer(format!("cannot parse: {e}")))?;
    tokenizer.with_padding(None);
    tokenizer
        .with_truncation(Some(TruncationParams {
            max_length: max_tokens,
            ..Default::default()
        }))
        .map_err(|e| Error::Tokenizer(e.to_string()))?;
    Ok(tokenizer)
}

fn load_encoder(bytes: &[u8]) -> Result<Plan> {
    let mut model = onnx()
        .with_ignore_value_info(true)
        .with_ignore_output_shapes(true)
        .model_for_read(&mut std::io::Cursor::new(bytes))
        .map_err(|e| Error::Encoder(format!("cannot parse the ONNX graph: {e}")))?;
    let seq = model.symbols.sym("S");
    for input in 0..2 {
        model
            .set_input_fact(
                input,
                InferenceFact::dt_shape(
                    i64::datum_type(),
                    tvec![TDim::from(1), seq.clone().into()],
                ),
            )
            .map_err(encoder_err)?;
    }
    model
        .into_optimized()
        .and_then(|m| m.into_runnable())
        .map_err(|e| Error::Encoder(format!("cannot prepare the ONNX graph: {e}")))
}

#[cfg(test)]
mod tests {
    use super::{packed, sd};
    use crate::bundle::Head;

    #[test]
    fn the_packed_covariance_gives_the_quadratic_form_of_the_full_one() {
        let dim = 6;
        let side = dim + 1;
        // A = B·Bᵀ with an uneven B: symmetric, positive definite, entries of both signs.
        let b: Vec<f64> = (0..side * side)
            .map(|k| ((k * 37 % 11) as f64 - 5.0) / 3.0)
            .collect();
        let cov: Vec<f32> = (0..side * side)
            .map(|k| {
                let (i, j) = (k / side, k % side);
                (0..side)
                    .map(|t| b[i * side + t] * b[j * side + t])
                    .sum::<f64>() as f32
            })
            .collect();
        let head = Head {
            id: "m".into(),
            weights: vec![0.0; dim],
            bias: 0.0,
            covariance: Some(cov.clone()),
            labels: None,
            evidence: None,
        };
        let z: Vec<f64> = (0..dim).map(|i| (i as f64 - 2.5) / 4.0).collect();
        let x: Vec<f64> = z.iter().copied().chain([1.0]).collect();
        let full: f64 = (0..side)
            .map(|i| {
                (0..side)
                    .map(|j| x[i] * f64::from(cov[i * side + j]) * x[j])
                    .sum::<f64>()
            })
            .sum();
        let p = 0.3;
        let want = p * (1.0 - p) * full.sqrt();
        let got = sd(&packed(&head).unwrap(), &x, p);
        assert!((got - want).abs() <= 1e-12 * want, "{got} vs {want}");

        // A covariance that does not fit the head's space is none.
        let short = Head {
            covariance: Some(cov[1..].to_vec()),
            ..head
        };
        assert_eq!(packed(&short), None);
    }
}

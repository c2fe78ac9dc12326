//! The predictor bundle: `predictor.json` and the files it pins by sha256.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Format version of `predictor.json` this build reads.
pub const FORMAT_VERSION: u32 = 3;

/// The parsed `predictor.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always `"routoo-predictor"`.
    pub format: String,
    /// Format version; see [`FORMAT_VERSION`].
    pub version: u32,
    /// The ONNX text encoder.
    pub encoder: EncoderSpec,
    /// The tokenizer file.
    pub tokenizer: FileSpec,
    /// One head per model id, in a stable order; it fixes the order of models everywhere.
    pub heads: Vec<Head>,
    /// The nearest-neighbour correction and the file holding the training prompts' positions.
    pub neighbours: NeighbourSpec,
    /// Held-in prompts the budget is calibrated on.
    pub reference: Reference,
    /// The benchmarks a card of published scores may name ([`crate::card`]), each as the
    /// reference prompts it stands for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub benchmarks: Vec<BenchmarkSpec>,
    /// How the selector uses the predictor's uncertainty.
    #[serde(default)]
    pub selection: SelectionSpec,
    /// How the routing tables billed each labelled model's answers, by domain: what its cost
    /// estimate uses instead of list prices at a flat answer length ([`crate::cost::Billing`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing: Option<BillingSpec>,
    /// The probe set a new model is calibrated from ([`crate::probe`]); loaded only to
    /// calibrate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probes: Option<FileSpec>,
    /// How a head's level carries to the domains its labels do not cover.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer: Option<TransferSpec>,
    /// Per model id, a shift of its logit in each domain of `encoder.domains`, weighed as the
    /// billing weighs the domains (by the encoder's probabilities and the prompt's ending):
    /// where a head shared by several tables misses one table's level. Empty: none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub levels: BTreeMap<String, Vec<f32>>,
    /// Per model id, its accuracy on the routing data's questions of each domain of
    /// `encoder.domains` where it answered enough of them (`null` elsewhere). At a prompt, each
    /// such domain's weight (as the levels weigh the domains) takes that accuracy in place of the
    /// head's estimate: in a benchmark's subject the measured level routes better than the
    /// heads' per-prompt differences among models. Empty: none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub accuracy: BTreeMap<String, Vec<Option<f32>>>,
    /// Where the bundle came from.
    pub provenance: serde_json::Value,
}

/// How far a head fitted on a few domains is trusted in the others. Where a prompt's domain
/// mass outside its [`Labels::domains`] exceeds `inside`, its logit is drawn toward the prior's
/// (an average model), in proportion to the excess, up to keeping `weight` of its own where all
/// the mass is outside. Measured by `training/transfer_levels.py`: a head fitted on one table
/// was off by 12 points of accuracy on another, the blend by 9.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferSpec {
    /// The share of its own logit a head keeps outside its domains, in [0, 1].
    pub weight: f64,
    /// The share of a prompt's mass outside a head's domains below which nothing moves, in
    /// [0, 1): the encoder spreads a prompt over near domains.
    #[serde(default)]
    pub inside: f64,
    /// Free text: where the weight comes from.
    #[serde(default)]
    pub about: String,
}

/// A bundle file pinned by its digest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileSpec {
    /// File name, relative to `predictor.json`.
    pub file: String,
    /// Lowercase hex sha256 of the file.
    pub sha256: String,
}

/// The encoder: an ONNX graph from (`input_ids`, `attention_mask`) to the prompt's position in
/// the space every model shares.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EncoderSpec {
    /// File name, relative to `predictor.json`.
    pub file: String,
    /// Lowercase hex sha256 of the file.
    pub sha256: String,
    /// Longest token sequence the encoder sees; longer prompts are truncated.
    pub max_tokens: usize,
    /// Dimensions of the shared space (the length of the output vector).
    pub dim: usize,
    /// The domains z's last coordinates stand for, in order: each is the prompt's probability
    /// of that benchmark (and subject), as the encoder infers it from the text. A calibration
    /// lets a model's head range wider along them ([`crate::heads::DOMAIN_PRIOR_SCALE`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<String>,
    /// Free text, e.g. how the weights were quantized.
    #[serde(default)]
    pub description: String,
}

/// A model's place in the shared space: P(model answers well) = sigmoid(weights · z + bias),
/// where z is the encoder's output for the prompt.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Head {
    /// Model id, as in a pool.
    pub id: String,
    /// The model's vector in the shared space.
    pub weights: Vec<f32>,
    /// The model's overall ability (intercept).
    pub bias: f32,
    /// Covariance of (weights, bias) under the fit (Laplace, the encoder taken as given), row
    /// major, (dim + 1)² values. Without it the head's estimates carry no stated uncertainty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub covariance: Option<Vec<f32>>,
    /// The routing data the head was fitted on; absent for a head placed from probes or a card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Labels>,
    /// What a head placed without labels rests on: published scores, graded probes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
}

/// The evidence behind a head placed without labels, kept so that it can be told (and placed
/// again in another bundle's space).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    /// The published scores it was placed from, each with its source and date.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scores: Vec<crate::card::Score>,
    /// Graded probe answers it was fitted to.
    #[serde(default)]
    pub probes: u32,
    /// With no scores and no probes: the price index ([`crate::heads::price_index`]) at which
    /// the prior placed it, an average model at that price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<f64>,
}

/// The labels behind a trained head.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Labels {
    /// The routing tables (file stems) labelling the model.
    pub tables: Vec<String>,
    /// Their rows labelling it.
    pub rows: u32,
    /// The encoder's domains ([`EncoderSpec::domains`]) those rows cover well enough to set the
    /// model's level there, each row counted in the domain the encoder puts it in; empty when
    /// the bundle does not say. Elsewhere the head's level is borrowed from another domain, and
    /// [`TransferSpec`] says how far to trust it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<String>,
}

impl EncoderSpec {
    /// Fails, naming the head and the domain, when `head`'s labels say they cover a domain
    /// this encoder does not name.
    pub fn check_covered(&self, head: &Head) -> std::result::Result<(), String> {
        let mut covered = head.labels.iter().flat_map(|l| &l.domains);
        match covered.find(|d| !self.domains.contains(d)) {
            Some(d) => Err(format!(
                "head {:?}: its labels cover domain {d:?}, which the encoder does not name",
                head.id
            )),
            None => Ok(()),
        }
    }
}

impl Head {
    /// Fails, naming the head, unless it has `dim` finite weights, a finite bias and, if any,
    /// a `(dim + 1)²` finite covariance.
    pub fn check(&self, dim: usize) -> std::result::Result<(), String> {
        if self.id.trim().is_empty() {
            return Err("a head has an empty id".into());
        }
        if self.weights.len() != dim {
            return Err(format!(
                "head {:?} has {} weights, the encoder outputs {dim}",
                self.id,
                self.weights.len()
            ));
        }
        if !self.bias.is_finite() || self.weights.iter().any(|w| !w.is_finite()) {
            return Err(format!("head {:?} has a non-finite weight", self.id));
        }
        if let Some(cov) = &self.covariance {
            let side = dim + 1;
            if side.checked_mul(side) != Some(cov.len()) || cov.iter().any(|v| !v.is_finite()) {
                return Err(format!(
                    "head {:?} has a covariance of {} values; it needs {side}×{side} finite ones",
                    self.id,
                    cov.len()
                ));
            }
        }
        Ok(())
    }
}

/// The training prompts' positions and labels, for a nearest-neighbour correction of the heads:
/// quality = (prior_weight · head + Σ w·label) / (prior_weight + Σ w) over the `k` training
/// prompts nearest in direction that the model has a label for, with w = exp(temperature ·
/// cosine). With `k` = 0 the quality is the head's.
///
/// The file holds `rows × dim` int8 components of unit vectors (value = q / 127), then, per head
/// in head order, `rows` bytes: 0 wrong, 1 right, 255 not evaluated.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NeighbourSpec {
    /// File name, relative to `predictor.json`.
    pub file: String,
    /// Lowercase hex sha256 of the file.
    pub sha256: String,
    /// Training prompts stored.
    pub rows: usize,
    /// Neighbours consulted (0: none).
    pub k: usize,
    /// Sharpness of the similarity weights.
    pub temperature: f64,
    /// Pseudo-count of the head's own estimate.
    pub prior_weight: f64,
}

impl NeighbourSpec {
    /// Size in bytes the file must have for `dim`-vectors and `heads` models (`None` when that
    /// does not fit in a `usize`, e.g. 32-bit wasm).
    pub fn file_len(&self, dim: usize, heads: usize) -> Option<usize> {
        self.rows.checked_mul(dim.checked_add(heads)?)
    }
}

/// Held-in prompts, from whose predictions the budget curve of a pool is derived.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Reference {
    /// Length in characters of each reference prompt.
    pub chars: Vec<usize>,
    /// Each reference prompt's position in the shared space, so that any head (one added
    /// later too) can be evaluated on it.
    pub z: Vec<Vec<f32>>,
    /// Each reference prompt's benchmark in its routing table (empty in older bundles).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub benchmark: Vec<String>,
    /// Each reference prompt's subject within its benchmark ("" where it has none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subject: Vec<String>,
    /// Each reference prompt's ending among the billing's ([`BillingSpec::ending_of`]); empty
    /// where the bundle does not say, and the billing then weighs the domains alone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ending: Vec<u16>,
}

/// A benchmark a card may name, and the reference prompts it stands for.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BenchmarkSpec {
    /// The name a card uses (lowercase, words joined by `-`).
    pub name: String,
    /// What it asks, for a person.
    pub about: String,
    /// Questions in its published set: a score's default weight.
    pub questions: u32,
    /// The routing tables' benchmarks (and subjects) whose reference prompts it stands for.
    pub family: Vec<FamilyPart>,
    /// How much easier its family is than it, in logits: the mean gap between labelled models'
    /// accuracy on the family and their published score on it (0 when no model has both). A
    /// published score `a` counts as σ(logit(a) + offset) on the family.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub offset: f64,
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

/// Reference prompts of one routing-table benchmark, all of it or some subjects.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FamilyPart {
    /// A `benchmark` value of the routing tables.
    pub benchmark: String,
    /// Only these subjects of it; all when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subjects: Option<Vec<String>>,
}

/// How the routing tables billed answers, per domain of `encoder.domains` (in that order).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BillingSpec {
    /// The answer tokens the tables billed in each domain (the median over its costed answers at
    /// list prices: one for a letter, a chain of thought's length for worked answers).
    pub answer_tokens: Vec<f32>,
    /// Tokens each domain's requests were billed at the input price besides the prompt's own
    /// (a harness's fixed preamble, as on FormationEval); empty where the tables billed none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub input_tokens: Vec<f32>,
    /// Per model id, in each domain: what its answers were billed ÷ its list prices at that
    /// domain's answer length. Models without an entry keep the pool's estimate.
    pub ratios: BTreeMap<String, Vec<f32>>,
    /// Per model id, where a table billed its answers at another ratio than its input (another
    /// provider's prices): that ratio in each domain, `ratios` then being the input's. Models
    /// without an entry are billed at `ratios` throughout.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub output_ratios: BTreeMap<String, Vec<f32>>,
    /// Last words of prompts that tell the domains' billing conventions apart (a template's
    /// `Answer:` asks for one letter), learned from the tables; empty in older bundles.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endings: Vec<Ending>,
    /// The share of each domain's prompts that end in none of `endings`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other: Vec<f32>,
}

/// A prompt's last word, and the share of each domain's prompts that end with it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ending {
    /// The word, compared exactly with a prompt's last whitespace-separated word.
    pub text: String,
    /// Per domain, the share of its prompts that end with `text`.
    pub share: Vec<f32>,
}

/// Longest answer (or preamble) a domain's billing may state, in tokens.
const MAX_BILLED_ANSWER: f32 = 1e6;
/// Most prompt endings a billing may list, and their longest text in bytes.
const MAX_ENDINGS: usize = 64;
const MAX_ENDING_BYTES: usize = 64;
/// Largest shift of a head's logit a level may state, in logits.
const MAX_LEVEL: f32 = 10.0;
/// Largest billed ÷ estimated ratio a model may have in a domain.
const MAX_BILLING_RATIO: f32 = 1e4;

/// One ratio per domain, each above 0 and at most MAX_BILLING_RATIO.
fn check_ratios(
    id: &str,
    what: &str,
    ratios: &[f32],
    domains: usize,
) -> std::result::Result<(), String> {
    if ratios.len() != domains {
        return Err(format!(
            "billing of {id:?}: {} {what} for {domains} domains",
            ratios.len()
        ));
    }
    match (ratios.iter()).find(|r| !(*r > &0.0 && *r <= &MAX_BILLING_RATIO)) {
        Some(r) => Err(format!(
            "billing of {id:?}: ratio {r} is not above 0 and at most {MAX_BILLING_RATIO}"
        )),
        None => Ok(()),
    }
}

impl BillingSpec {
    fn check(
        &self,
        domains: usize,
        has_head: impl Fn(&str) -> bool,
    ) -> std::result::Result<(), String> {
        if self.answer_tokens.len() != domains {
            return Err(format!(
                "billing: {} answer lengths for {domains} domains",
                self.answer_tokens.len()
            ));
        }
        if let Some(l) =
            (self.answer_tokens.iter()).find(|l| !(1.0..=MAX_BILLED_ANSWER).contains(*l))
        {
            return Err(format!(
                "billing: answer length {l} is not 1 to {MAX_BILLED_ANSWER} tokens"
            ));
        }
        if !self.input_tokens.is_empty() && self.input_tokens.len() != domains {
            return Err(format!(
                "billing: {} input preambles for {domains} domains",
                self.input_tokens.len()
            ));
        }
        if let Some(t) =
            (self.input_tokens.iter()).find(|t| !(0.0..=MAX_BILLED_ANSWER).contains(*t))
        {
            return Err(format!(
                "billing: input preamble {t} is not 0 to {MAX_BILLED_ANSWER} tokens"
            ));
        }
        self.check_endings(domains)?;
        for (id, ratios) in &self.ratios {
            if !has_head(id) {
                return Err(format!("billing names {id:?}, which has no head"));
            }
            check_ratios(id, "ratios", ratios, domains)?;
        }
        for (id, ratios) in &self.output_ratios {
            if !self.ratios.contains_key(id) {
                return Err(format!(
                    "billing gives output ratios for {id:?} but no ratios"
                ));
            }
            check_ratios(id, "output ratios", ratios, domains)?;
        }
        Ok(())
    }

    /// `id`'s output ratios in each domain: its own where the billing gives them, else its
    /// ratios.
    pub fn output_ratios(&self, id: &str) -> Option<&[f32]> {
        (self.output_ratios.get(id))
            .or_else(|| self.ratios.get(id))
            .map(Vec::as_slice)
    }

    fn check_endings(&self, domains: usize) -> std::result::Result<(), String> {
        if self.endings.is_empty() {
            return match self.other.is_empty() {
                true => Ok(()),
                false => Err("billing: shares of other endings without any ending".into()),
            };
        }
        if self.endings.len() > MAX_ENDINGS {
            return Err(format!(
                "billing: {} prompt endings, at most {MAX_ENDINGS}",
                self.endings.len()
            ));
        }
        if let Some(e) = (self.endings.iter()).find(|e| {
            e.text.is_empty()
                || e.text.len() > MAX_ENDING_BYTES
                || e.text.contains(char::is_whitespace)
        }) {
            return Err(format!(
                "billing: prompt ending {:?} is not one word of 1 to {MAX_ENDING_BYTES} bytes",
                e.text
            ));
        }
        let shares = (self.endings.iter())
            .map(|e| (e.text.as_str(), &e.share))
            .chain([("(none of them)", &self.other)]);
        for (text, share) in shares {
            if share.len() != domains {
                return Err(format!(
                    "billing: ending {text:?} has {} shares for {domains} domains",
                    share.len()
                ));
            }
            if let Some(v) = share.iter().find(|v| !(0.0..=1.0).contains(*v)) {
                return Err(format!(
                    "billing: ending {text:?} has share {v}, not 0 to 1"
                ));
            }
        }
        Ok(())
    }

    /// Which of `endings` `prompt` ends with, as an index; `endings.len()` for none of them.
    /// `None` when the billing lists no endings.
    pub fn ending_of(&self, prompt: &str) -> Option<usize> {
        if self.endings.is_empty() {
            return None;
        }
        let last = prompt.split_whitespace().next_back().unwrap_or_default();
        let i = self.endings.iter().position(|e| e.text == last);
        Some(i.unwrap_or(self.endings.len()))
    }

    /// The share of each domain's prompts that end as ending `i` ([`BillingSpec::ending_of`])
    /// does: how likely each domain makes that ending.
    pub fn likelihood(&self, i: usize) -> Option<&[f32]> {
        match self.endings.get(i) {
            Some(e) => Some(&e.share),
            None if i == self.endings.len() => Some(&self.other),
            None => None,
        }
    }
}

/// What the selector takes from the predictor besides its estimates.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SelectionSpec {
    /// Standard deviations of the predicted difference by which a model must beat the pool's
    /// incumbent (ahead of the most others, by `lead` or on average) before the router prefers
    /// it (κ; 0 ignores the uncertainty).
    #[serde(default)]
    pub margin: f64,
    /// Per incumbent and challenger model id, the floor by which a challenger's predicted gain
    /// over the incumbent is discounted (never below the incumbent) before the router leaves
    /// it: fitted on out-of-fold predictions, so a gain the predictor tends to overstate for
    /// that pair is not taken. 1 where no floor held the gains up; absent pairs have none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub floors: BTreeMap<String, BTreeMap<String, f64>>,
    /// Per pair of model ids `a`, `b` the training rows labelled both on enough of: a's
    /// accuracy less b's there (`lead[a][b]`; `b` against `a` is its negation). The labels'
    /// verdict on which of two models is ahead, where they have one; the selector keeps the
    /// model ahead of the most others.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub lead: BTreeMap<String, BTreeMap<String, f64>>,
    /// The cost estimate's resolution, a share of a model's estimated cost: a model other than
    /// the incumbent counts as cheaper than it only by more than this share of its own estimate
    /// (see [`crate::select::Margin::cost_margin`]). 0 when absent.
    #[serde(default, rename = "costMargin", skip_serializing_if = "is_zero")]
    pub cost_margin: f64,
}

impl SelectionSpec {
    /// a's lead over b by the labels, if they compared them.
    pub fn lead(&self, a: &str, b: &str) -> Option<f64> {
        let get = |x: &str, y: &str| self.lead.get(x)?.get(y).copied();
        get(a, b).or_else(|| get(b, a).map(|d| -d))
    }
}

impl Manifest {
    /// Parses and checks a manifest.
    pub fn from_json(bytes: &[u8]) -> Result<Manifest> {
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| Error::Manifest(e.to_string()))?;
        if value.get("format").and_then(|f| f.as_str()) != Some("routoo-predictor") {
            return Err(Error::Manifest(
                "not a routoo predictor: \"format\" must be \"routoo-predictor\"".into(),
            ));
        }
        match value.get("version").and_then(|v| v.as_u64()) {
            Some(v) if v == u64::from(FORMAT_VERSION) => {}
            Some(v) => {
                return Err(Error::UnsupportedVersion {
                    found: u32::try_from(v).unwrap_or(u32::MAX),
                    supported: FORMAT_VERSION,
                })
            }
            None => return Err(Error::Manifest("\"version\" is missing".into())),
        }
        let manifest: Manifest =
            serde_json::from_value(value).map_err(|e| Error::Manifest(e.to_string()))?;
        manifest.validate()?;
        Ok(manifest)
    }

    /// One model's values per domain in the manifest's `field` (`levels`, `accuracy`): its
    /// head exists, and it has a value for each of the encoder's domains.
    fn check_per_domain(&self, field: &str, id: &str, values: usize) -> Result<()> {
        if self.head(id).is_none() {
            return Err(Error::Manifest(format!(
                "{field} names {id:?}, which has no head"
            )));
        }
        let domains = self.encoder.domains.len();
        if values != domains {
            return Err(Error::Manifest(format!(
                "{field} of {id:?}: {values} values for {domains} domains"
            )));
        }
        Ok(())
    }

    fn validate(&self) -> Result<()> {
        if self.encoder.dim == 0 || self.encoder.max_tokens < 3 {
            return Err(Error::Manifest(format!(
                "encoder dim {} / max_tokens {} are out of range",
                self.encoder.dim, self.encoder.max_tokens
            )));
        }
        let domains = &self.encoder.domains;
        if domains.len() >= self.encoder.dim {
            return Err(Error::Manifest(format!(
                "encoder: {} domains leave none of its {} dimensions to the learned space",
                domains.len(),
                self.encoder.dim
            )));
        }
        let mut named = std::collections::HashSet::new();
        if let Some(d) = domains
            .iter()
            .find(|d| d.is_empty() || !named.insert(d.as_str()))
        {
            return Err(Error::Manifest(format!(
                "encoder: domain {d:?} is empty or named twice"
            )));
        }
        let mut seen = std::collections::HashSet::new();
        for head in &self.heads {
            if !seen.insert(head.id.as_str()) {
                return Err(Error::Manifest(format!("head {:?} appears twice", head.id)));
            }
            head.check(self.encoder.dim).map_err(Error::Manifest)?;
            self.encoder.check_covered(head).map_err(Error::Manifest)?;
        }
        if let Some(t) = &self.transfer {
            if !(0.0..=1.0).contains(&t.weight) || !(0.0..1.0).contains(&t.inside) {
                return Err(Error::Manifest(format!(
                    "transfer: weight {} is not in [0, 1], or inside {} not in [0, 1)",
                    t.weight, t.inside
                )));
            }
        }
        let n = &self.neighbours;
        if (n.k > 0 && n.rows == 0)
            || !n.temperature.is_finite()
            || !n.prior_weight.is_finite()
            || n.prior_weight <= 0.0
        {
            return Err(Error::Manifest(format!(
                "neighbours: rows {}, k {}, temperature {}, prior_weight {} are out of range",
                n.rows, n.k, n.temperature, n.prior_weight
            )));
        }
        let r = &self.reference;
        if r.z.len() != r.chars.len() {
            return Err(Error::Manifest(format!(
                "reference: {} positions for {} prompts",
                r.z.len(),
                r.chars.len()
            )));
        }
        if let Some((p, z)) =
            r.z.iter()
                .enumerate()
                .find(|(_, z)| z.len() != self.encoder.dim || z.iter().any(|v| !v.is_finite()))
        {
            return Err(Error::Manifest(format!(
                "reference prompt {p} has {} values, not {} finite ones",
                z.len(),
                self.encoder.dim
            )));
        }
        for (name, tags) in [("benchmark", &r.benchmark), ("subject", &r.subject)] {
            if !tags.is_empty() && tags.len() != r.z.len() {
                return Err(Error::Manifest(format!(
                    "reference: {} {name} tags for {} prompts",
                    tags.len(),
                    r.z.len()
                )));
            }
        }
        if let Some(b) = (self.benchmarks.iter()).find(|b| b.family.is_empty() || b.questions == 0)
        {
            return Err(Error::Manifest(format!(
                "benchmark {:?} stands for no prompts or has no questions",
                b.name
            )));
        }
        if let Some(b) = (self.benchmarks.iter()).find(|b| !(-10.0..=10.0).contains(&b.offset)) {
            return Err(Error::Manifest(format!(
                "benchmark {:?} has offset {}; an offset is a gap in logits, within ±10",
                b.name, b.offset
            )));
        }
        if let Some(billing) = &self.billing {
            billing
                .check(domains.len(), |id| self.head(id).is_some())
                .map_err(Error::Manifest)?;
        }
        for (id, shifts) in &self.levels {
            self.check_per_domain("levels", id, shifts.len())?;
            if let Some(v) = shifts
                .iter()
                .find(|v| !(-MAX_LEVEL..=MAX_LEVEL).contains(*v))
            {
                return Err(Error::Manifest(format!(
                    "levels of {id:?}: shift {v} is not within ±{MAX_LEVEL} logits"
                )));
            }
        }
        for (id, measured) in &self.accuracy {
            self.check_per_domain("accuracy", id, measured.len())?;
            if let Some(v) = measured
                .iter()
                .flatten()
                .find(|v| !(0.0..=1.0).contains(*v))
            {
                return Err(Error::Manifest(format!(
                    "accuracy of {id:?}: {v} is not a share from 0 to 1"
                )));
            }
        }
        if !r.ending.is_empty() {
            let listed = self.billing.as_ref().map_or(0, |b| b.endings.len());
            if r.ending.len() != r.z.len() || listed == 0 {
                return Err(Error::Manifest(format!(
                    "reference: {} endings for {} prompts and {listed} listed endings",
                    r.ending.len(),
                    r.z.len()
                )));
            }
            if let Some(e) = r.ending.iter().find(|&&e| usize::from(e) > listed) {
                return Err(Error::Manifest(format!(
                    "reference: ending {e} of {listed} listed endings"
                )));
            }
        }
        let margin = self.selection.margin;
        if !margin.is_finite() || margin < 0.0 {
            return Err(Error::Manifest(format!(
                "selection margin {margin} is not a number of standard deviations, 0 or more"
            )));
        }
        let cost_margin = self.selection.cost_margin;
        if !(0.0..=1.0).contains(&cost_margin) {
            return Err(Error::Manifest(format!(
                "selection cost margin {cost_margin} is not a share of a cost, 0 to 1"
            )));
        }
        for (incumbent, challengers) in &self.selection.floors {
            for (challenger, &floor) in challengers {
                if !(0.0..=1.0).contains(&floor) {
                    return Err(Error::Manifest(format!(
                        "selection floor {floor} of {challenger:?} against {incumbent:?} is not \
                         a difference of chances, 0 to 1"
                    )));
                }
                if let Some(id) = [incumbent, challenger]
                    .into_iter()
                    .find(|id| self.head(id).is_none())
                {
                    return Err(Error::Manifest(format!(
                        "selection floors name {id:?}, which has no head"
                    )));
                }
            }
        }
        for (a, others) in &self.selection.lead {
            for (b, &lead) in others {
                if !(-1.0..=1.0).contains(&lead) {
                    return Err(Error::Manifest(format!(
                        "selection lead {lead} of {a:?} over {b:?} is not a difference of \
                         accuracies, -1 to 1"
                    )));
                }
                if a == b {
                    return Err(Error::Manifest(format!(
                        "selection lead names {a:?} against itself"
                    )));
                }
                if let Some(back) = self.selection.lead.get(b).and_then(|o| o.get(a)) {
                    if (back + lead).abs() > 1e-9 {
                        return Err(Error::Manifest(format!(
                            "selection lead of {a:?} over {b:?} ({lead}) and back ({back}) \
                             disagree"
                        )));
                    }
                }
                if let Some(id) = [a, b].into_iter().find(|id| self.head(id).is_none()) {
                    return Err(Error::Manifest(format!(
                        "selection lead names {id:?}, which has no head"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Head of a model id, if the predictor has one.
    pub fn head(&self, id: &str) -> Option<&Head> {
        self.heads.iter().find(|h| h.id == id)
    }
}

/// Lowercase hex sha256 of some bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Fails unless `bytes` hash to `expected`.
pub fn verify(file: &str, expected: &str, bytes: &[u8]) -> Result<()> {
    let actual = sha256_hex(bytes);
    if actual.eq_ignore_ascii_case(expected) {
        Ok(())
    } else {
        Err(Error::Checksum {
            file: file.to_string(),
            expected: expected.to_string(),
            actual,
        })
    }
}

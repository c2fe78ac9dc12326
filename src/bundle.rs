//! The predictor bundle: `predictor.json` and the files it pins by sha256.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Format version of `predictor.json` this build reads.
pub const FORMAT_VERSION: u32 = 2;

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
    /// The predicted-domain prior.
    pub domains: Domains,
    /// The nearest-neighbour estimate and the file holding the training prompts' vectors.
    pub neighbours: NeighbourSpec,
    /// Held-in prompts the budget is calibrated on.
    pub reference: Reference,
    /// Where the bundle came from.
    pub provenance: serde_json::Value,
}

/// A bundle file pinned by its digest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileSpec {
    /// File name, relative to `predictor.json`.
    pub file: String,
    /// Lowercase hex sha256 of the file.
    pub sha256: String,
}

/// The encoder: an ONNX graph from (`input_ids`, `attention_mask`) to one normalised vector.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EncoderSpec {
    /// File name, relative to `predictor.json`.
    pub file: String,
    /// Lowercase hex sha256 of the file.
    pub sha256: String,
    /// Longest token sequence the encoder sees; longer prompts are truncated.
    pub max_tokens: usize,
    /// Length of the output vector.
    pub dim: usize,
    /// Free text, e.g. how the weights were quantized.
    #[serde(default)]
    pub description: String,
}

/// Logistic head: P(model answers well) = sigmoid(weights · vector + bias).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Head {
    /// Model id, as in a pool.
    pub id: String,
    /// One weight per vector component.
    pub weights: Vec<f32>,
    /// Intercept.
    pub bias: f32,
}

/// A classifier over the prompt's source (an MMLU subject, a benchmark) and each model's
/// accuracy per source: quality = Σ_d softmax(weights · vector + bias)_d · `rates[model][d]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Domains {
    /// Domain names, e.g. `mmlu/anatomy`, `gsm8k`.
    pub ids: Vec<String>,
    /// One row of `dim` weights per domain.
    pub weights: Vec<Vec<f32>>,
    /// One intercept per domain.
    pub bias: Vec<f32>,
    /// Per head id, the model's accuracy in each domain (shrunk toward its overall accuracy).
    pub rates: std::collections::BTreeMap<String, Vec<f32>>,
}

/// The training prompts' vectors and labels, for a k-nearest-neighbour estimate:
/// quality = (Σ w·label + prior_weight·base_rate) / (Σ w + prior_weight) over the `k` most
/// similar prompts the model has a label for, with w = exp(temperature · cosine).
///
/// The file holds `rows × dim` int8 vector components (value = q / 127), then, per head in
/// head order, `rows` bytes: 0 wrong, 1 right, 255 not evaluated.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NeighbourSpec {
    /// File name, relative to `predictor.json`.
    pub file: String,
    /// Lowercase hex sha256 of the file.
    pub sha256: String,
    /// Training prompts stored.
    pub rows: usize,
    /// Neighbours consulted.
    pub k: usize,
    /// Sharpness of the similarity weights.
    pub temperature: f64,
    /// Pseudo-count of the base rate.
    pub prior_weight: f64,
    /// Per head id, the model's overall accuracy.
    pub base_rate: std::collections::BTreeMap<String, f64>,
}

impl NeighbourSpec {
    /// Size in bytes the file must have for `dim`-vectors and `heads` models.
    pub fn file_len(&self, dim: usize, heads: usize) -> usize {
        self.rows * (dim + heads)
    }
}

/// Predicted qualities of held-in prompts, from which the budget curve of a pool is derived.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Reference {
    /// Length in characters of each reference prompt.
    pub chars: Vec<usize>,
    /// Per head id, the predicted quality of each reference prompt.
    pub quality: std::collections::BTreeMap<String, Vec<f32>>,
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

    fn validate(&self) -> Result<()> {
        if self.encoder.dim == 0 || self.encoder.max_tokens < 3 {
            return Err(Error::Manifest(format!(
                "encoder dim {} / max_tokens {} are out of range",
                self.encoder.dim, self.encoder.max_tokens
            )));
        }
        let mut seen = std::collections::HashSet::new();
        for head in &self.heads {
            if !seen.insert(head.id.as_str()) {
                return Err(Error::Manifest(format!("head {:?} appears twice", head.id)));
            }
            if head.weights.len() != self.encoder.dim {
                return Err(Error::Manifest(format!(
                    "head {:?} has {} weights, the encoder outputs {}",
                    head.id,
                    head.weights.len(),
                    self.encoder.dim
                )));
            }
            if !head.bias.is_finite() || head.weights.iter().any(|w| !w.is_finite()) {
                return Err(Error::Manifest(format!(
                    "head {:?} has a non-finite weight",
                    head.id
                )));
            }
        }
        let d = &self.domains;
        if d.ids.is_empty() || d.weights.len() != d.ids.len() || d.bias.len() != d.ids.len() {
            return Err(Error::Manifest(format!(
                "domains: {} ids, {} weight rows and {} intercepts must agree",
                d.ids.len(),
                d.weights.len(),
                d.bias.len()
            )));
        }
        if let Some(row) = d.weights.iter().find(|w| w.len() != self.encoder.dim) {
            return Err(Error::Manifest(format!(
                "a domain has {} weights, the encoder outputs {}",
                row.len(),
                self.encoder.dim
            )));
        }
        let n = &self.neighbours;
        if n.rows == 0
            || n.k == 0
            || !n.temperature.is_finite()
            || !n.prior_weight.is_finite()
            || n.prior_weight < 0.0
        {
            return Err(Error::Manifest(format!(
                "neighbours: rows {}, k {}, temperature {}, prior_weight {} are out of range",
                n.rows, n.k, n.temperature, n.prior_weight
            )));
        }
        for head in &self.heads {
            match d.rates.get(&head.id) {
                Some(r) if r.len() == d.ids.len() => {}
                _ => {
                    return Err(Error::Manifest(format!(
                        "domains: head {:?} needs {} rates",
                        head.id,
                        d.ids.len()
                    )))
                }
            }
            if !n.base_rate.contains_key(&head.id) {
                return Err(Error::Manifest(format!(
                    "neighbours: head {:?} has no base_rate",
                    head.id
                )));
            }
        }
        for (id, q) in &self.reference.quality {
            if q.len() != self.reference.chars.len() {
                return Err(Error::Manifest(format!(
                    "reference quality of {id:?} has {} values for {} prompts",
                    q.len(),
                    self.reference.chars.len()
                )));
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

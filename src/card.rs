//! Cards of published scores: a model placed in the shared space without a single call.
//!
//! A card lists a model's accuracy on benchmarks, each with its source and date. Each
//! benchmark stands for some of the bundle's reference prompts (the routing tables' own
//! benchmarks and subjects, or a published benchmark the bundle maps onto them), and
//! [`crate::heads::fit_evidence`] finds the head whose mean prediction there matches the
//! score, held as tightly as the benchmark's number of questions says.

use serde::{Deserialize, Serialize};

use crate::bundle::{Evidence, Head, Manifest};
use crate::error::{Error, Result};
use crate::heads::{fit_evidence, MeanScore, Prior};

/// Most bytes of a card's text.
pub const MAX_CARD_BYTES: usize = 256 * 1024;

/// Questions a score counts for when neither the card nor the bundle gives a number.
pub const DEFAULT_QUESTIONS: u32 = 100;

/// A harness's spread about a family's scale when the bundle measured no offset (logits):
/// about the shipped bundle's (0.84, from GPQA Diamond, MATH and HumanEval).
pub const DEFAULT_HARNESS_SD: f64 = 0.8;

/// A model's published scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Card {
    /// The model the scores are of: a pool id or the provider's API id.
    pub model: String,
    /// At most [`crate::bounded::MAX_SCORES`], one per benchmark (and subject).
    #[serde(deserialize_with = "crate::bounded::scores")]
    pub scores: Vec<Score>,
}

/// One published score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Score {
    /// A benchmark the bundle knows (`routoo calibrate` lists them when one is not).
    pub benchmark: String,
    /// A subject of it, where its routing table has subjects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Fraction answered right, 0–1.
    pub accuracy: f64,
    /// Questions behind the score; the benchmark's published size when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
    /// Where it was published.
    pub source: String,
    /// When, `YYYY-MM-DD`.
    pub date: String,
}

/// A benchmark name as the bundle spells it: lowercase, runs of spaces, `_` and `-` as one `-`.
pub fn normalise(name: &str) -> String {
    let mut out = String::new();
    for word in name.split(|c: char| c.is_whitespace() || c == '_' || c == '-') {
        if !word.is_empty() {
            if !out.is_empty() {
                out.push('-');
            }
            out.push_str(&word.to_lowercase());
        }
    }
    out
}

impl Card {
    /// Parses and checks a card's text.
    pub fn from_json(text: &str) -> Result<Card> {
        if text.len() > MAX_CARD_BYTES {
            return Err(Error::Card(format!(
                "it is {} bytes; a card has at most {MAX_CARD_BYTES}",
                text.len()
            )));
        }
        let card: Card =
            serde_json::from_str(text).map_err(|e| Error::Card(format!("does not parse: {e}")))?;
        card.check()?;
        Ok(card)
    }

    /// Fails, saying what is wrong, on a card that cannot stand as evidence.
    pub(crate) fn check(&self) -> Result<()> {
        if self.model.trim().is_empty() || self.model.len() > 200 {
            return Err(Error::Card(format!(
                "model {:?} is not a model id",
                self.model
            )));
        }
        if self.scores.is_empty() {
            return Err(Error::Card(format!("{} has no scores", self.model)));
        }
        let mut seen = std::collections::HashSet::new();
        for s in &self.scores {
            let what = match &s.subject {
                Some(subject) => format!("{} ({subject})", s.benchmark),
                None => s.benchmark.clone(),
            };
            if !s.accuracy.is_finite() || !(0.0..=1.0).contains(&s.accuracy) {
                let hint = if s.accuracy > 1.0 && s.accuracy <= 100.0 {
                    "; give a fraction such as 0.86, not a percentage"
                } else {
                    ""
                };
                return Err(Error::Card(format!(
                    "{what}: accuracy {} is not between 0 and 1{hint}",
                    s.accuracy
                )));
            }
            if s.n == Some(0) {
                return Err(Error::Card(format!(
                    "{what}: n is 0; a score rests on questions"
                )));
            }
            if s.source.trim().is_empty() || s.source.len() > 2000 {
                return Err(Error::Card(format!(
                    "{what}: a source (where the score was published) is required"
                )));
            }
            if !crate::pool::is_day(&s.date) {
                return Err(Error::Card(format!(
                    "{what}: date {:?} is not a day (YYYY-MM-DD)",
                    s.date
                )));
            }
            let key = (
                normalise(&s.benchmark),
                s.subject.as_deref().map(str::to_lowercase),
            );
            if !seen.insert(key) {
                return Err(Error::Card(format!("{what} is listed twice")));
            }
        }
        Ok(())
    }

    /// Each score as the reference prompts it stands for, in `manifest`'s bundle.
    pub fn targets(&self, manifest: &Manifest) -> Result<Vec<MeanScore>> {
        let harness = harness_spread(manifest);
        (self.scores.iter())
            .map(|s| target(s, manifest, harness))
            .collect()
    }
}

/// Places model `id` in the space of `manifest` from its published scores alone, as
/// `routoo calibrate --scores` with no probes does: under the prior of the other heads, the
/// head whose mean prediction over each score's reference prompts matches it. The head keeps
/// the scores as its evidence.
pub fn place(manifest: &Manifest, id: &str, scores: &[Score]) -> Result<Head> {
    let card = Card {
        model: id.to_string(),
        scores: scores.to_vec(),
    };
    card.check()?;
    let targets = card.targets(manifest)?;
    let prior = Prior::for_calibration(manifest, id)?;
    let mut head = fit_evidence(id, &prior, &[], &targets)?;
    head.evidence = Some(Evidence {
        scores: card.scores,
        probes: 0,
        price: None,
    });
    Ok(head)
}

/// The names a card may use in this bundle.
pub fn known_benchmarks(manifest: &Manifest) -> Vec<String> {
    manifest.benchmarks.iter().map(|b| b.name.clone()).collect()
}

/// `harness`: the sd of a shift a benchmark with no measured offset may sit at
/// ([`harness_spread`]).
fn target(score: &Score, manifest: &Manifest, harness: f64) -> Result<MeanScore> {
    let name = normalise(&score.benchmark);
    let reference = &manifest.reference;
    let Some(spec) = manifest.benchmarks.iter().find(|b| b.name == name) else {
        let known = known_benchmarks(manifest);
        return Err(Error::Card(if known.is_empty() {
            "this bundle maps no benchmarks: it predates cards; use one trained with them".into()
        } else {
            format!(
                "unknown benchmark {:?}; this bundle knows {}",
                score.benchmark,
                known.join(", ")
            )
        }));
    };
    let in_part = |p: usize, part: &crate::bundle::FamilyPart| {
        reference.benchmark.get(p) == Some(&part.benchmark)
            && part.subjects.as_ref().is_none_or(|subjects| {
                (reference.subject.get(p)).is_some_and(|s| subjects.contains(s))
            })
    };
    let family: Vec<usize> = (0..reference.z.len())
        .filter(|&p| spec.family.iter().any(|part| in_part(p, part)))
        .collect();
    let (prompts, questions) = match &score.subject {
        None => (family, f64::from(spec.questions)),
        Some(subject) => {
            let mut subjects: Vec<&str> = family
                .iter()
                .filter_map(|&p| reference.subject.get(p).map(String::as_str))
                .filter(|s| !s.is_empty())
                .collect();
            subjects.sort_unstable();
            subjects.dedup();
            let Some(exact) = subjects.iter().find(|s| s.eq_ignore_ascii_case(subject)) else {
                return Err(Error::Card(if subjects.is_empty() {
                    format!("{name} has no subjects; leave \"subject\" out")
                } else {
                    format!(
                        "{name} has no subject {subject:?}; it has {}",
                        subjects.join(", ")
                    )
                }));
            };
            let chosen: Vec<usize> = (family.iter().copied())
                .filter(|&p| reference.subject.get(p).map(String::as_str) == Some(*exact))
                .collect();
            // Its share of the benchmark's questions.
            let share = chosen.len() as f64 / family.len().max(1) as f64;
            (chosen, (f64::from(spec.questions) * share).max(1.0))
        }
    };
    if prompts.is_empty() {
        return Err(Error::Card(format!(
            "{name} stands for no reference prompt of this bundle"
        )));
    }
    Ok(MeanScore {
        z: prompts.iter().map(|&p| reference.z[p].clone()).collect(),
        accuracy: on_family_scale(score.accuracy, spec.offset),
        questions: score.n.map_or(questions, f64::from),
        by_subject: score.subject.is_some(),
        harness_sd: if spec.offset != 0.0 && spec.offset.is_finite() {
            0.0
        } else {
            harness
        },
        benchmark: name,
    })
}

/// How far a harness no model measured may sit from a family's scale, in logits: the root
/// mean square of the bundle's measured offsets (a routing table's own benchmark scored by a
/// maker's harness is such a case), or [`DEFAULT_HARNESS_SD`] where it measured none.
pub fn harness_spread(manifest: &Manifest) -> f64 {
    let measured: Vec<f64> = (manifest.benchmarks.iter())
        .map(|b| b.offset)
        .filter(|o| *o != 0.0 && o.is_finite())
        .collect();
    if measured.is_empty() {
        return DEFAULT_HARNESS_SD;
    }
    (measured.iter().map(|o| o * o).sum::<f64>() / measured.len() as f64).sqrt()
}

/// A published accuracy moved onto its family's scale by the benchmark's offset (logits).
fn on_family_scale(accuracy: f64, offset: f64) -> f64 {
    if offset == 0.0 || !offset.is_finite() {
        return accuracy;
    }
    // Kept off 0 and 1, where the logit is infinite and no offset could move it.
    let a = accuracy.clamp(1e-3, 1.0 - 1e-3);
    1.0 / (1.0 + (-((a / (1.0 - a)).ln() + offset)).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(scores: &str) -> Result<Card> {
        Card::from_json(&format!(r#"{{"model": "m", "scores": [{scores}]}}"#))
    }

    const OK: &str = r#"{"benchmark": "GPQA Diamond", "accuracy": 0.9, "source": "https://x.test/", "date": "2026-10-26"}"#;

    #[test]
    fn an_offset_moves_a_score_onto_its_familys_scale() {
        assert_eq!(on_family_scale(0.42, 0.0), 0.42);
        // GPQA 0.5 with MMLU-Pro science 1.1 logits easier: about 0.75 there.
        assert!((on_family_scale(0.5, 1.1) - 0.750).abs() < 1e-3);
        assert!(on_family_scale(0.9, -0.5) < 0.9);
        assert!(on_family_scale(1.0, 2.0) < 1.0 && on_family_scale(0.0, -2.0) > 0.0);
    }

    #[test]
    fn names_are_normalised() {
        assert_eq!(normalise("GPQA  Diamond"), "gpqa-diamond");
        assert_eq!(normalise("MMLU_Pro"), "mmlu-pro");
        assert_eq!(normalise(" swe-bench--Verified "), "swe-bench-verified");
    }

    #[test]
    fn a_card_parses_and_bad_ones_say_what_is_wrong() {
        assert_eq!(card(OK).unwrap().scores[0].accuracy, 0.9);
        for (bad, says) in [
            (OK.replace("0.9", "86"), "not a percentage"),
            (OK.replace("0.9", "-0.1"), "between 0 and 1"),
            (OK.replace("2026-10-26", "26/10/2026"), "not a day"),
            (OK.replace("https://x.test/", ""), "source"),
            (OK.replace("\"date\"", "\"n\": 0, \"date\""), "n is 0"),
            (
                OK.replace("\"date\"", "\"extra\": 1, \"date\""),
                "unknown field",
            ),
            (
                format!("{OK}, {}", OK.replace("GPQA Diamond", "gpqa-diamond")),
                "twice",
            ),
        ] {
            let err = card(&bad).unwrap_err().to_string();
            assert!(err.contains(says), "{bad}: {err}");
        }
        assert!(card("").unwrap_err().to_string().contains("no scores"));
        let many = vec![OK; crate::bounded::MAX_SCORES + 1].join(",");
        assert!(card(&many).is_err());
        let huge = format!("{{\"model\": \"{}\"}}", "m".repeat(MAX_CARD_BYTES));
        assert!(Card::from_json(&huge)
            .unwrap_err()
            .to_string()
            .contains("bytes"));
    }
}

//! Probes: prompts with reference answers that are graded without a judge, and the grading.
//!
//! A model that no routing table labels is placed in the shared space from its answers to a
//! probe set (see [`crate::calibrate`]). Each probe's answer is one of three kinds a program
//! can check: a multiple-choice letter, a number, or a Python literal. Models format answers
//! in many ways ("The answer is (D)", `\boxed{42}`, a JSON object, "#### 42"), so grading
//! first finds the final answer the response commits to, then compares it by kind.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Format name of a probe file.
pub const PROBES_FORMAT: &str = "routoo-probes";

/// How a probe's answer is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Grading {
    /// One letter A–J.
    Choice,
    /// A number; equal within a relative 1e-6.
    Number,
    /// A Python literal (a string, list, number…), compared after normalising quotes and spaces.
    Literal,
}

impl Grading {
    /// How a table row's reference answer is graded: MMLU-Pro by letter, GSM8K by number,
    /// MATH by number where the reference is one, CRUXEval by literal; else not at all.
    pub fn for_row(benchmark: &str, answer: &str) -> Option<Grading> {
        match benchmark {
            "mmlu-pro" => choice_letter(answer)
                .filter(|l| *l == answer.trim())
                .map(|_| Grading::Choice),
            "gsm8k" | "math-l5" => parse_number(answer).map(|_| Grading::Number),
            "cruxeval" => Some(Grading::Literal),
            _ => None,
        }
    }
}

/// One probe: a prompt from a routing table and its reference answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Probe {
    /// The table row it comes from.
    pub id: String,
    /// Its benchmark, e.g. `mmlu-pro`.
    pub benchmark: String,
    /// Its subject, where the benchmark has them.
    #[serde(default)]
    pub subject: String,
    /// The prompt as the router sees it.
    pub prompt: String,
    /// The reference answer.
    pub answer: String,
    /// How the answer is checked.
    pub grading: Grading,
}

/// A probe set: the order is the order to send them in; every prefix is a good design.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeSet {
    /// Always [`PROBES_FORMAT`].
    pub format: String,
    /// What each kind of probe asks the model to end its answer with.
    pub instructions: Instructions,
    /// The probes, most informative first.
    pub probes: Vec<Probe>,
    /// How the set was chosen.
    #[serde(default)]
    pub provenance: serde_json::Value,
}

/// The line appended to a probe's prompt, per kind, so that the final answer can be found.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Instructions {
    /// For [`Grading::Choice`].
    pub choice: String,
    /// For [`Grading::Number`].
    pub number: String,
    /// For [`Grading::Literal`].
    pub literal: String,
}

impl ProbeSet {
    /// Parses and checks a probe file.
    pub fn from_json(text: &str) -> Result<ProbeSet> {
        let set: ProbeSet = serde_json::from_str(text)
            .map_err(|e| Error::Probes(format!("does not parse: {e}")))?;
        if set.format != PROBES_FORMAT {
            return Err(Error::Probes(format!(
                "format is {:?}, expected {PROBES_FORMAT:?}",
                set.format
            )));
        }
        if set.probes.is_empty() {
            return Err(Error::Probes("it lists no probes".into()));
        }
        for p in &set.probes {
            if p.prompt.trim().is_empty() || p.answer.trim().is_empty() {
                return Err(Error::Probes(format!(
                    "probe {:?} has an empty prompt or answer",
                    p.id
                )));
            }
            if p.grading == Grading::Choice && choice_letter(&p.answer) != Some(p.answer.trim()) {
                return Err(Error::Probes(format!(
                    "probe {:?}: a choice answer must be one letter A-J, not {:?}",
                    p.id, p.answer
                )));
            }
            if p.grading == Grading::Number && parse_number(&p.answer).is_none() {
                return Err(Error::Probes(format!(
                    "probe {:?}: {:?} is not a number",
                    p.id, p.answer
                )));
            }
        }
        Ok(set)
    }

    /// The probe set a bundle names, from its bytes: they must match the digest the manifest
    /// records, so the probes are those the bundle's space was chosen for.
    pub fn from_bundle(manifest: &crate::bundle::Manifest, bytes: &[u8]) -> Result<ProbeSet> {
        let spec = manifest.probes.as_ref().ok_or_else(|| {
            Error::Probes("this bundle ships no probe set (its manifest names none)".into())
        })?;
        crate::bundle::verify(&spec.file, &spec.sha256, bytes)?;
        let text = std::str::from_utf8(bytes)
            .map_err(|e| Error::Probes(format!("{} is not UTF-8: {e}", spec.file)))?;
        ProbeSet::from_json(text)
    }

    /// The text sent for a probe: its prompt, then the line saying how to end the answer.
    pub fn message(&self, probe: &Probe) -> String {
        let how = match probe.grading {
            Grading::Choice => &self.instructions.choice,
            Grading::Number => &self.instructions.number,
            Grading::Literal => &self.instructions.literal,
        };
        format!("{}\n\n{}", probe.prompt.trim_end(), how)
    }
}

/// Whether `response` gives the reference `answer`.
pub fn grade(grading: Grading, answer: &str, response: &str) -> bool {
    let Some(said) = final_answer(response) else {
        // No marked final answer: the last thing of the right kind the response says.
        return match grading {
            Grading::Choice => last_choice(response) == choice_letter(answer),
            Grading::Number => last_number(response)
                .zip(parse_number(answer))
                .is_some_and(|(x, y)| same_number(x, y)),
            Grading::Literal => false,
        };
    };
    match grading {
        Grading::Choice => choice_letter(&said).is_some_and(|l| Some(l) == choice_letter(answer)),
        Grading::Number => first_number(&said)
            .zip(parse_number(answer))
            .is_some_and(|(x, y)| same_number(x, y)),
        Grading::Literal => same_literal(&said, answer),
    }
}

// ---- Finding the final answer ----

static ANSWER_FIELD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#""answer"\s*:\s*"#).expect("a valid pattern"));
static ANSWER_IS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:final answer|answer)(?:\s+is|\s*:)(?:\s*(?:\$|\*\*|:))*\s*")
        .expect("a valid pattern")
});
static HASHES: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"####\s*").expect("a valid pattern"));

/// The answer a response commits to, in the first form found of: a JSON `"answer"` field,
/// the last `\boxed{…}`, the text after the last "answer is" / "answer:", the text after a
/// GSM8K-style `####`.
pub fn final_answer(response: &str) -> Option<String> {
    if let Some(m) = ANSWER_FIELD.find_iter(response).last() {
        if let Some(value) = json_value(&response[m.end()..]) {
            return Some(value);
        }
    }
    if let Some(inner) = last_boxed(response) {
        return Some(inner.to_string());
    }
    for pattern in [&*ANSWER_IS, &*HASHES] {
        if let Some(m) = pattern.find_iter(response).last() {
            let rest = response[m.end()..].lines().next().unwrap_or("").trim();
            if !rest.is_empty() {
                return Some(rest.to_string());
            }
        }
    }
    None
}

/// The JSON value at the start of `text`: a string's contents, anything else as compact
/// JSON; when it is not JSON (`"answer": 20 cups`), the text up to the next `,`, `}` or line.
fn json_value(text: &str) -> Option<String> {
    match serde_json::Deserializer::from_str(text)
        .into_iter::<serde_json::Value>()
        .next()
    {
        // Spaces inside a string may be the answer ('  7  '): kept.
        Some(Ok(serde_json::Value::String(s))) => Some(s),
        Some(Ok(value)) => Some(value.to_string()),
        _ => {
            let text = text.trim_start();
            let end = text.find([',', '}', '\n']).unwrap_or(text.len());
            let value = text[..end].trim().trim_matches('"').trim();
            (!value.is_empty()).then(|| value.to_string())
        }
    }
}

/// The contents of the last `\boxed{…}`, braces balanced.
fn last_boxed(text: &str) -> Option<&str> {
    let start = text.rfind("\\boxed{")? + "\\boxed{".len();
    let mut depth = 1usize;
    for (i, c) in text[start..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(text[start..start + i].trim());
                }
            }
            _ => {}
        }
    }
    None
}

// ---- Choices ----

static LETTER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[^A-Za-z0-9])([A-J])(?:$|[^A-Za-z0-9'])").expect("a valid pattern")
});
static PAREN_LETTER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\(([A-J])\)").expect("a valid pattern"));

/// The first standalone letter A–J of an answer such as "(D)", "D.", "**D**", "D: the dimensions".
fn choice_letter(said: &str) -> Option<&str> {
    LETTER
        .captures(said)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str())
}

/// The last "(X)" of a response that marks no final answer.
fn last_choice(response: &str) -> Option<&str> {
    PAREN_LETTER
        .captures_iter(response)
        .last()
        .and_then(|c| c.get(1))
        .map(|m| m.as_str())
}

// ---- Numbers ----

static NUMBER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"-?\d[\d,]*(?:\.\d+)?(?:\s*/\s*\d+(?:\.\d+)?)?|-?\.\d+").expect("a valid pattern")
});
static FRAC: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(-?)\\[dt]?frac\{(-?\d+(?:\.\d+)?)\}\{(-?\d+(?:\.\d+)?)\}")
        .expect("a valid pattern")
});

/// A number as written: thousands separators, a fraction a/b or `\frac{a}{b}`, a sign.
fn parse_number(text: &str) -> Option<f64> {
    let text = text
        .trim()
        .trim_start_matches('$')
        .trim_end_matches(['.', '%']);
    if let Some(c) = FRAC.captures(text) {
        let (num, den) = (c[2].parse::<f64>().ok()?, c[3].parse::<f64>().ok()?);
        let sign = if &c[1] == "-" { -1.0 } else { 1.0 };
        return (den != 0.0).then(|| sign * num / den);
    }
    let m = NUMBER.find(text)?;
    if m.start() != 0 || m.end() != text.len() {
        return None;
    }
    number_value(m.as_str())
}

fn number_value(token: &str) -> Option<f64> {
    let clean: String = token
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ',')
        .collect();
    match clean.split_once('/') {
        Some((a, b)) => {
            let (a, b) = (a.parse::<f64>().ok()?, b.parse::<f64>().ok()?);
            (b != 0.0).then(|| a / b)
        }
        None => clean.parse::<f64>().ok(),
    }
    .filter(|x| x.is_finite())
}

/// The first number in a marked answer ("20 cups", "$1,250", `\frac{3}{4}`).
fn first_number(said: &str) -> Option<f64> {
    if let Some(c) = FRAC.captures(said) {
        return parse_number(&c[0]);
    }
    NUMBER.find(said).and_then(|m| number_value(m.as_str()))
}

/// The last number of a response that marks no final answer.
fn last_number(response: &str) -> Option<f64> {
    NUMBER
        .find_iter(response)
        .last()
        .and_then(|m| number_value(m.as_str()))
}

fn same_number(x: f64, y: f64) -> bool {
    (x - y).abs() <= 1e-6 * y.abs().max(1.0)
}

// ---- Literals ----

/// Python literals compared as text, after dropping whitespace outside strings, writing
/// every string with single quotes and dropping surrounding backticks; an answer that gives a
/// string's contents without its quotes counts too.
fn same_literal(said: &str, answer: &str) -> bool {
    // 'abc' answered as abc (its spaces count)
    if quoted(answer.trim()).is_some_and(|inner| inner == said) {
        return true;
    }
    let said = said.trim().trim_matches('`').trim();
    let answer = canonical(answer.trim());
    // A sentence's full stop after the literal ("The answer is 'abc'.") is not part of it.
    canonical(said) == answer
        || said
            .strip_suffix('.')
            .is_some_and(|s| canonical(s) == answer)
}

/// The contents of a string literal written with one kind of quotes, else None.
fn quoted(text: &str) -> Option<&str> {
    ['\'', '"'].into_iter().find_map(|q| {
        let inner = text.strip_prefix(q)?.strip_suffix(q)?;
        (!inner.contains(q)).then_some(inner)
    })
}

fn canonical(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in text.chars() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                    out.push('\'');
                    continue;
                }
                out.push(c);
            }
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                out.push('\'');
            }
            None if c.is_whitespace() => {}
            None => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_answers_are_found_in_the_forms_models_use() {
        let cases = [
            (
                "{\n \"reasoning\": \"…\",\n \"answer\": \"20\"\n}",
                Some("20"),
            ),
            ("{\"answer\": 42}", Some("42")),
            ("{\"answer\": \"\\\"abc\\\"\"}", Some("\"abc\"")),
            ("{\"answer\": [\"a\", \"b\"]}", Some("[\"a\",\"b\"]")),
            ("\"answer\": 20 cups\n}", Some("20")),
            (
                "\"answer\": D. the dimensions\n}",
                Some("D. the dimensions"),
            ),
            (
                "so the total is \\boxed{\\frac{3}{4}}.",
                Some("\\frac{3}{4}"),
            ),
            ("Let's think.\nThe answer is (D).", Some("(D).")),
            ("**Final Answer:** $1,250", Some("1,250")),
            ("2 + 1 = 3 bolts.\n#### 3\n", Some("3")),
            ("No marker here, 7 then 9.", None),
        ];
        for (text, want) in cases {
            assert_eq!(final_answer(text).as_deref(), want, "{text}");
        }
    }

    #[test]
    fn grading_by_kind() {
        assert!(grade(Grading::Choice, "D", "The answer is (D)."));
        assert!(grade(
            Grading::Choice,
            "D",
            "Answer: D. Customer participation"
        ));
        assert!(!grade(Grading::Choice, "D", "The answer is (A)."));
        assert!(grade(Grading::Choice, "B", "I think (A) fails, so (B)"));
        assert!(grade(Grading::Number, "20", "{\"answer\": \"20 cups\"}"));
        assert!(grade(Grading::Number, "1250", "The answer is $1,250."));
        assert!(grade(Grading::Number, "0.75", "\\boxed{\\frac{3}{4}}"));
        assert!(grade(
            Grading::Number,
            "2.5",
            "It takes 5/2 bolts. #### 5/2"
        ));
        assert!(!grade(Grading::Number, "3", "#### 2.5"));
        assert!(grade(
            Grading::Number,
            "18",
            "so she makes 9 * 2 = 18 dollars"
        ));
        assert!(grade(
            Grading::Literal,
            "'bcksrutq'",
            "{\"answer\": \"bcksrutq\"}"
        ));
        assert!(grade(Grading::Literal, "[1, 2]", "{\"answer\": \"[1,2]\"}"));
        assert!(grade(
            Grading::Literal,
            "{'a': 1}",
            "The answer is {\"a\": 1}"
        ));
        assert!(!grade(Grading::Literal, "'ab'", "{\"answer\": \"'ba'\"}"));
    }

    #[test]
    fn numbers_parse_as_written() {
        assert_eq!(parse_number("1,000"), Some(1000.0));
        assert_eq!(parse_number("-3.5"), Some(-3.5));
        assert_eq!(parse_number("\\frac{1}{8}"), Some(0.125));
        assert_eq!(parse_number("3/0"), None);
        assert_eq!(parse_number("x + 1"), None);
    }
}

//! Why a route chose its model, as the rule in force and one plain sentence built from the
//! decision's own figures (winner, runner-up, λ or minimum, exclusions).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::exclusion::{Exclusion, Reason};
use crate::select::Candidate;

/// The rule that picked the model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Rule {
    /// No budget: the highest predicted quality less margin.
    Best,
    /// A budget or λ: the most quality less margin less λ·cost.
    Budget,
    /// A minimum quality alone, or a budget whose choice fell short of it: the cheapest model
    /// that reaches it.
    CheapestAbove {
        /// The minimum.
        min: f64,
    },
    /// A budget whose choice reaches the minimum quality.
    BudgetAbove {
        /// The minimum.
        min: f64,
    },
    /// Local models preferred: the first model on this machine that the other rules rank.
    Local,
}

/// One plain sentence: what was chosen, why over the runner-up, and what was left out.
pub fn sentence(
    rule: Rule,
    lambda: f64,
    choice: &Candidate,
    runner_up: Option<&Candidate>,
    excluded: &[Exclusion],
) -> String {
    let mut out = format!(
        "{} (predicted {:.3}{}, ~US${:.5})",
        choice.model,
        choice.quality,
        margin(choice),
        choice.cost.usd
    );
    out.push_str(match rule {
        Rule::Best => " has the highest predicted quality",
        Rule::Budget => " gives the most quality for the budget",
        Rule::CheapestAbove { .. } => " is the cheapest model predicted to reach the minimum",
        Rule::BudgetAbove { .. } => {
            " gives the most quality for the budget and reaches the minimum"
        }
        Rule::Local => " runs on this machine, and local models are preferred",
    });
    if let Rule::CheapestAbove { min } | Rule::BudgetAbove { min } = rule {
        out.push_str(&format!(" of {min}"));
    }
    match runner_up {
        None => out.push_str("; no other model is allowed"),
        Some(r) => out.push_str(&against(rule, lambda, choice, r)),
    }
    if !excluded.is_empty() {
        out.push_str(&format!(
            "; {} left out ({})",
            excluded.len(),
            why_out(excluded)
        ));
    }
    out.push('.');
    out
}

fn margin(c: &Candidate) -> String {
    if c.margin >= 0.005 {
        format!(" less a {:.3} margin", c.margin)
    } else {
        String::new()
    }
}

/// The clause that sets the choice against the runner-up.
fn against(rule: Rule, lambda: f64, w: &Candidate, r: &Candidate) -> String {
    let better = r.value() - w.value();
    let dearer = r.cost.usd - w.cost.usd;
    let name = &r.model;
    if matches!(rule, Rule::CheapestAbove { .. }) {
        return format!("; {name}, next, costs ~US${dearer:.5} more");
    }
    if r.quality > w.quality && better <= 0.0 {
        return format!(
            "; {name} is predicted higher ({:.3}) but less surely, giving up a {:.3} margin",
            r.quality, r.margin
        );
    }
    if better > 0.0 && dearer > 0.0 {
        return format!(
            "; {name} is predicted {better:.3} better but costs ~US${dearer:.5} more, more than \
             λ = {lambda:.1} per US$ pays for"
        );
    }
    if better > 0.0 && dearer <= 0.0 && r.premium > 0.0 {
        return format!(
            "; {name} is predicted {better:.3} better for ~US${:.5} less, closer than the cost \
             estimate can tell apart (its cost counts {:.2}×), not enough at λ = {lambda:.1}",
            -dearer,
            1.0 + r.premium
        );
    }
    if better < 0.0 && dearer < 0.0 {
        return format!(
            "; {name} costs ~US${:.5} less but is predicted {:.3} worse",
            -dearer, -better
        );
    }
    format!(
        "; ahead of {name} (predicted {:.3}{}, ~US${:.5})",
        r.quality,
        margin(r),
        r.cost.usd
    )
}

/// The exclusions counted by kind of reason, e.g. "3 without a key, 1 over the cost limit".
fn why_out(excluded: &[Exclusion]) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for e in excluded {
        let kind = match e.reason {
            Reason::ContextWindow { .. } => "too long for the context window",
            Reason::MaxCost { .. } => "over the cost limit",
            Reason::MaxLatency { .. } => "too slow",
            Reason::NoKey { .. } => "without a key",
            Reason::ExcludedByRequest => "excluded by the request",
            Reason::NotAllowed => "not among the models allowed",
            Reason::Unsupported { .. } => "unable to do what it asks",
            Reason::BelowMinQuality { .. } => "below the minimum quality",
        };
        *counts.entry(kind).or_default() += 1;
    }
    let parts: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::CostEstimate;

    fn candidate(model: &str, quality: f64, margin: f64, usd: f64) -> Candidate {
        Candidate {
            model: model.into(),
            provider: "p".into(),
            quality,
            margin,
            premium: 0.0,
            cost: CostEstimate {
                input_tokens: 10,
                output_tokens: 10,
                usd,
            },
            score: quality - margin,
        }
    }

    #[test]
    fn the_sentence_names_the_winner_the_rule_and_what_the_runner_up_lacked() {
        let cheap = candidate("cheap", 0.70, 0.0, 0.001);
        let dear = candidate("dear", 0.80, 0.0, 0.011);
        let s = sentence(Rule::Budget, 5.0, &cheap, Some(&dear), &[]);
        assert!(s.starts_with("cheap (predicted 0.700, ~US$0.00100) gives the most quality"));
        assert!(
            s.contains("dear is predicted 0.100 better but costs ~US$0.01000 more"),
            "{s}"
        );
        assert!(s.contains("λ = 5.0"), "{s}");
        let s = sentence(Rule::Best, 0.0, &dear, Some(&cheap), &[]);
        assert!(
            s.contains("cheap costs ~US$0.01000 less but is predicted 0.100 worse"),
            "{s}"
        );
        let unsure = candidate("unsure", 0.85, 0.10, 0.002);
        let s = sentence(Rule::Best, 0.0, &dear, Some(&unsure), &[]);
        assert!(
            s.contains("unsure is predicted higher (0.850) but less surely"),
            "{s}"
        );
        // A challenger a hair cheaper and better, held back by the cost margin.
        let kept = candidate("kept", 0.80, 0.0, 0.0100);
        let close = Candidate {
            premium: 0.05,
            ..candidate("close", 0.81, 0.0, 0.0099)
        };
        let score = |c: &Candidate| c.value() - 40.0 * c.weighed();
        assert!(
            score(&kept) > score(&close),
            "the margin holds it back at λ = 40"
        );
        let s = sentence(Rule::Budget, 40.0, &kept, Some(&close), &[]);
        assert!(
            s.contains("close is predicted 0.010 better for ~US$0.00010 less, closer than the cost estimate can tell apart (its cost counts 1.05×)"),
            "{s}"
        );
        let s = sentence(Rule::CheapestAbove { min: 0.75 }, 0.0, &dear, None, &[]);
        assert!(
            s.contains("cheapest model predicted to reach the minimum of 0.75"),
            "{s}"
        );
        assert!(s.ends_with("no other model is allowed."), "{s}");
    }

    #[test]
    fn exclusions_are_counted_by_reason() {
        let out = |model: &str, reason: Reason| Exclusion {
            model: model.into(),
            message: reason.to_string(),
            reason,
        };
        let excluded = [
            out(
                "a",
                Reason::NoKey {
                    provider: "x".into(),
                },
            ),
            out(
                "b",
                Reason::NoKey {
                    provider: "y".into(),
                },
            ),
            out(
                "c",
                Reason::MaxCost {
                    cost: 1.0,
                    limit: 0.1,
                },
            ),
        ];
        let w = candidate("w", 0.7, 0.0, 0.001);
        let s = sentence(Rule::Best, 0.0, &w, None, &excluded);
        assert!(
            s.contains("3 left out (1 over the cost limit, 2 without a key)"),
            "{s}"
        );
    }
}

//! Cost estimates, in US$, from prices per 1M tokens.

use serde::Serialize;

use crate::chat::Conversation;
use crate::pool::{Pool, PoolModel};

/// Estimated input tokens of a prompt: one token per 4 characters, rounded up.
///
/// The same rule priced the routing data, and it needs no provider tokenizer.
pub fn estimate_input_tokens(chars: usize) -> u64 {
    (chars as u64).div_ceil(4)
}

/// Tokens a chat request may add around the prompt (roles, the provider's template).
pub const REQUEST_OVERHEAD_TOKENS: u64 = 16;

/// Fewest answer tokens worth asking for; a cap that leaves less excludes the model.
pub const MIN_ANSWER_TOKENS: u32 = 16;

/// Tokens each turn after the first may add (its role and separators in the template).
pub const TURN_OVERHEAD_TOKENS: u64 = 8;

/// Most input tokens a conversation can cost: one per UTF-8 byte (a byte-level tokenizer never
/// makes more tokens than bytes), plus [`REQUEST_OVERHEAD_TOKENS`] and
/// [`TURN_OVERHEAD_TOKENS`] for each turn after the first. Four or more times the usual count
/// for English, about twice it for Chinese: a bound, not an estimate.
pub fn worst_input_tokens(conversation: &Conversation) -> u64 {
    let turns = conversation.messages().len().max(1) as u64;
    conversation.bytes() as u64 + REQUEST_OVERHEAD_TOKENS + (turns - 1) * TURN_OVERHEAD_TOKENS
}

/// US$ for `input_tokens` and `output_tokens` at `model`'s prices (US$ per 1M tokens): the
/// one price formula, for estimates, bounds and the provider's reported usage alike.
pub fn price(model: &PoolModel, input_tokens: u64, output_tokens: u64) -> f64 {
    (input_tokens as f64 * model.price_in + output_tokens as f64 * model.price_out) / 1e6
}

/// The most a call can cost: the worst-case input and `max_tokens` of answer, at `model`'s
/// prices.
pub fn worst_case(model: &PoolModel, conversation: &Conversation, max_tokens: u32) -> f64 {
    price(
        model,
        worst_input_tokens(conversation),
        u64::from(max_tokens),
    )
}

/// The largest answer, up to `wanted` tokens, whose worst case fits `usd`; `None` when not
/// even [`MIN_ANSWER_TOKENS`] fit.
pub fn max_tokens_within(
    model: &PoolModel,
    conversation: &Conversation,
    usd: f64,
    wanted: u32,
) -> Option<u32> {
    let input = price(model, worst_input_tokens(conversation), 0);
    let left = usd - input;
    let fits = if model.price_out > 0.0 {
        // Rounded down, and checked again below so rounding never lets the bound slip.
        let n = (left * 1e6 / model.price_out).floor();
        if n.is_finite() && n >= 0.0 {
            n.min(f64::from(wanted)) as u32
        } else {
            0
        }
    } else if left >= 0.0 {
        wanted
    } else {
        0
    };
    let mut tokens = fits;
    while tokens >= MIN_ANSWER_TOKENS && worst_case(model, conversation, tokens) > usd {
        tokens -= 1;
    }
    (tokens >= MIN_ANSWER_TOKENS.min(wanted).max(1)).then_some(tokens)
}

/// How the routing data billed a labelled model's answers to a prompt like this one: its input
/// at `input_scale` times its list price, and `output_tokens` of answer at its output price.
///
/// The bundle's [`crate::bundle::BillingSpec`] gives, per domain, the answer length the tables
/// billed and each model's ratio of billed to estimated cost there; a prompt weighs the domains
/// by the probabilities the encoder infers. It carries what list prices times a flat answer
/// length miss: that a multiple-choice answer is one letter, that a chain of thought is long,
/// that a table billed a model at another provider's price.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Billing {
    /// Billed input ÷ input tokens at the list price.
    pub input_scale: f64,
    /// Tokens billed at the list input price besides the prompt's (a harness's preamble).
    #[serde(skip_serializing_if = "is_zero")]
    pub input_tokens: f64,
    /// Billed answer tokens at the list output price.
    pub output_tokens: f64,
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

/// One domain class's billing convention, per domain: the answer tokens, the preamble's input
/// tokens (empty for none) and one model's ratio of billed to list prices.
#[derive(Debug, Clone, Copy)]
pub struct Classes<'a> {
    /// Answer tokens billed in each domain.
    pub answer_tokens: &'a [f32],
    /// Preamble tokens billed in each domain; empty when none.
    pub input_tokens: &'a [f32],
    /// The model's ratio of billed to estimated cost in each domain (of its input, where
    /// `output_ratios` is not empty).
    pub ratios: &'a [f32],
    /// The model's ratio of billed to estimated answer cost in each domain; empty when it is
    /// `ratios`.
    pub output_ratios: &'a [f32],
}

impl Billing {
    /// The billing of a model by `classes`, for a prompt in domain k with probability
    /// `domains[k]`, times `likelihood[k]` (how likely domain k makes the prompt's ending) when
    /// given and not zero everywhere: Σ p_k·r_k for the input, Σ p_k·r_k·T_k for the preamble,
    /// Σ p_k·o_k·L_k for the answer (o the output ratios, else r). `None` when the lengths
    /// differ or the weights are not a distribution.
    pub fn weigh(
        domains: &[f32],
        likelihood: Option<&[f32]>,
        classes: Classes<'_>,
    ) -> Option<Billing> {
        let n = domains.len();
        if classes.answer_tokens.len() != n
            || classes.ratios.len() != n
            || !(classes.output_ratios.is_empty() || classes.output_ratios.len() == n)
            || !(classes.input_tokens.is_empty() || classes.input_tokens.len() == n)
        {
            return None;
        }
        let (weights, mass) = cued(domains, likelihood)?;
        let preambles = (classes.input_tokens.iter().copied()).chain(std::iter::repeat(0.0));
        let outputs = match classes.output_ratios {
            [] => classes.ratios,
            o => o,
        };
        let (mut scale, mut before, mut tokens) = (0.0, 0.0, 0.0);
        let each = (weights.iter().zip(classes.answer_tokens))
            .zip(classes.ratios.iter().zip(outputs))
            .zip(preambles);
        for (((w, &l), (&r, &o)), t) in each {
            let (p, r) = (w / mass, f64::from(r));
            scale += p * r;
            before += p * r * f64::from(t);
            tokens += p * f64::from(o) * f64::from(l);
        }
        let ok = scale.is_finite() && before.is_finite() && tokens.is_finite();
        ok.then_some(Billing {
            input_scale: scale,
            input_tokens: before,
            output_tokens: tokens,
        })
    }
}

/// The domains of a prompt as a billing weighs them: the probabilities `domains` times
/// `likelihood[k]` (how likely domain k makes the prompt's ending), rescaled to the mass of
/// `domains`, or `domains` alone where no domain shows the ending; with that mass. `None` when
/// the lengths differ or `domains` is not a distribution.
pub fn cued(domains: &[f32], likelihood: Option<&[f32]>) -> Option<(Vec<f64>, f64)> {
    if likelihood.is_some_and(|l| l.len() != domains.len()) {
        return None;
    }
    let mass: f64 = domains.iter().map(|&p| f64::from(p)).sum();
    // The encoder's softmax sums to 1; anything else is not a domain distribution.
    if (mass - 1.0).abs() >= 1e-3 {
        return None;
    }
    let mut weights: Vec<f64> = domains.iter().map(|&p| f64::from(p)).collect();
    if let Some(l) = likelihood {
        let cued: Vec<f64> = (weights.iter().zip(l))
            .map(|(p, &l)| p * f64::from(l))
            .collect();
        let total: f64 = cued.iter().sum();
        // An ending no domain the prompt may be in shows: the domains alone decide.
        if total > 1e-9 && total.is_finite() {
            weights = cued.into_iter().map(|w| w / total * mass).collect();
        }
    }
    Some((weights, mass))
}

/// What one request to one model is expected to cost.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CostEstimate {
    /// Estimated prompt tokens.
    pub input_tokens: u64,
    /// Expected answer tokens.
    pub output_tokens: u64,
    /// Estimated US$.
    pub usd: f64,
}

/// Estimates a request of `chars` characters to `model`: its list prices with the pool's
/// expected answer length, or, with `billing`, as the routing data billed its answers to such a
/// prompt.
pub fn estimate(
    pool: &Pool,
    model: &PoolModel,
    chars: usize,
    billing: Option<Billing>,
) -> CostEstimate {
    let input_tokens = estimate_input_tokens(chars);
    match billing {
        None => {
            let output_tokens = u64::from(pool.output_tokens(model));
            CostEstimate {
                input_tokens,
                output_tokens,
                usd: price(model, input_tokens, output_tokens),
            }
        }
        Some(b) => {
            // What this user's answers were billed outweighs what the routing data's were.
            let output = model
                .observed_output
                .map_or(b.output_tokens, |o| o.blend(b.output_tokens));
            CostEstimate {
                input_tokens,
                output_tokens: output.round().max(1.0) as u64,
                usd: ((input_tokens as f64 * b.input_scale + b.input_tokens) * model.price_in
                    + output * model.price_out)
                    / 1e6,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn billing_weighs_each_domain_by_its_probability() {
        // A letter in domain 0 (1 token, billed at a tenth of the list price), a chain of
        // thought in domain 1 (200 tokens, at the list price). The spec is f32, so these hold
        // to f32's precision.
        let (lengths, ratios) = ([1.0, 200.0], [0.1, 1.0]);
        let classes = Classes {
            answer_tokens: &lengths,
            input_tokens: &[],
            ratios: &ratios,
            output_ratios: &[],
        };
        let sure = Billing::weigh(&[1.0, 0.0], None, classes).unwrap();
        assert!((sure.input_scale - 0.1).abs() < 1e-6);
        assert!((sure.output_tokens - 0.1).abs() < 1e-6);
        assert_eq!(sure.input_tokens, 0.0);
        let half = Billing::weigh(&[0.5, 0.5], None, classes).unwrap();
        assert!((half.input_scale - 0.55).abs() < 1e-6);
        assert!((half.output_tokens - 100.05).abs() < 1e-6);
        // Not a distribution, or lengths that differ: no billing, never a panic.
        assert_eq!(Billing::weigh(&[0.5, 0.1], None, classes), None);
        assert_eq!(Billing::weigh(&[1.0], None, classes), None);
        assert_eq!(Billing::weigh(&[0.5, 0.5], Some(&[1.0]), classes), None);
        let odd = Classes {
            input_tokens: &[1.0],
            ..classes
        };
        assert_eq!(Billing::weigh(&[0.5, 0.5], None, odd), None);
        let pool = Pool::default_pool().unwrap();
        let gpt4 = pool.model("gpt-4-1106-preview").unwrap();
        let flat = estimate(&pool, gpt4, 400, None);
        assert_eq!(flat.output_tokens, u64::from(pool.output_tokens(gpt4)));
        let billed = estimate(&pool, gpt4, 400, Some(half));
        assert_eq!(billed.input_tokens, 100);
        assert_eq!(billed.output_tokens, 100);
        let usd =
            (100.0 * half.input_scale * gpt4.price_in + half.output_tokens * gpt4.price_out) / 1e6;
        assert!((billed.usd - usd).abs() < 1e-15);
    }

    #[test]
    fn an_ending_reweighs_the_domains_and_a_preamble_bills_at_the_input_price() {
        // Domain 0 bills one letter after a 50-token preamble and all its prompts end alike;
        // domain 1 bills a chain of thought and a tenth of its prompts end so.
        let classes = Classes {
            answer_tokens: &[1.0, 200.0],
            input_tokens: &[50.0, 0.0],
            ratios: &[1.0, 1.0],
            output_ratios: &[],
        };
        let (cued, other) = ([1.0, 0.1], [0.0, 0.9]);
        let plain = Billing::weigh(&[0.5, 0.5], None, classes).unwrap();
        let letter = Billing::weigh(&[0.5, 0.5], Some(&cued), classes).unwrap();
        let free = Billing::weigh(&[0.5, 0.5], Some(&other), classes).unwrap();
        assert!((plain.output_tokens - 100.5).abs() < 1e-9);
        // 0.5·1 : 0.5·0.1, so 10/11 of the mass on the letter.
        assert!((letter.output_tokens - (10.0 + 200.0) / 11.0).abs() < 1e-4);
        assert!((letter.input_tokens - 500.0 / 11.0).abs() < 1e-4);
        // No prompt of domain 0 ends otherwise: all on the chain of thought.
        assert!((free.output_tokens - 200.0).abs() < 1e-4);
        assert_eq!(free.input_tokens, 0.0);
        // An ending neither domain shows leaves the domains to decide.
        let none = Billing::weigh(&[0.5, 0.5], Some(&[0.0, 0.0]), classes).unwrap();
        assert_eq!(none, plain);

        let pool = Pool::default_pool().unwrap();
        let gpt4 = pool.model("gpt-4-1106-preview").unwrap();
        let c = estimate(&pool, gpt4, 400, Some(letter));
        let usd = ((100.0 * letter.input_scale + letter.input_tokens) * gpt4.price_in
            + letter.output_tokens * gpt4.price_out)
            / 1e6;
        assert!((c.usd - usd).abs() < 1e-15);
    }

    #[test]
    fn output_ratios_bill_the_answer_apart_from_the_input() {
        // Billed at another provider's prices: input at 0.02 and output at 0.03 of a list
        // 0.22 / 0.22, after a 50-token preamble, one letter of answer.
        let (r_in, r_out) = (0.02 / 0.22, 0.03 / 0.22);
        let classes = Classes {
            answer_tokens: &[1.0, 200.0],
            input_tokens: &[50.0, 0.0],
            ratios: &[r_in, 1.0],
            output_ratios: &[r_out, 1.0],
        };
        let b = Billing::weigh(&[1.0, 0.0], None, classes).unwrap();
        assert!((b.input_scale - f64::from(r_in)).abs() < 1e-7);
        assert!((b.input_tokens - 50.0 * f64::from(r_in)).abs() < 1e-5);
        assert!((b.output_tokens - f64::from(r_out)).abs() < 1e-7);
        // At list prices of 0.22 / 0.22, a 128-token prompt costs what the table billed.
        let usd = ((128.0 * b.input_scale + b.input_tokens) * 0.22 + b.output_tokens * 0.22) / 1e6;
        assert!((usd - (178.0 * 0.02 + 0.03) / 1e6).abs() < 1e-12);
        // One ratio for both would charge the answer at the input's.
        let one = Billing::weigh(
            &[1.0, 0.0],
            None,
            Classes {
                output_ratios: &[],
                ..classes
            },
        )
        .unwrap();
        assert!((one.output_tokens - f64::from(r_in)).abs() < 1e-7);
        // Output ratios for other domains than the ratios: no billing.
        let odd = Classes {
            output_ratios: &[1.0],
            ..classes
        };
        assert_eq!(Billing::weigh(&[1.0, 0.0], None, odd), None);
    }

    #[test]
    fn the_worst_case_bounds_input_by_bytes_and_output_by_max_tokens() {
        let pool = Pool::default_pool().unwrap();
        let gpt4 = pool.model("gpt-4-1106-preview").unwrap();
        let tokyo = Conversation::from_prompt("東京");
        // "東京" is 6 bytes: at most 6 tokens, plus the overhead.
        assert_eq!(worst_input_tokens(&tokyo), 6 + REQUEST_OVERHEAD_TOKENS);
        let worst = worst_case(gpt4, &tokyo, 100);
        assert!((worst - (22.0 * 10.0 + 100.0 * 30.0) / 1e6).abs() < 1e-15);
        // A cap that pays for the input and 50 answer tokens lowers max_tokens to 50.
        let cap = (22.0 * 10.0 + 50.0 * 30.0) / 1e6;
        assert_eq!(max_tokens_within(gpt4, &tokyo, cap, 1024), Some(50));
        assert_eq!(max_tokens_within(gpt4, &tokyo, cap, 20), Some(20));
        // Not even the minimum answer: the model cannot be called under this cap.
        assert_eq!(
            max_tokens_within(gpt4, &tokyo, 22.0 * 10.0 / 1e6, 1024),
            None
        );
        assert_eq!(max_tokens_within(gpt4, &tokyo, -1.0, 1024), None);
        // Every turn of a conversation counts, with its overhead.
        let chat = Conversation::new(vec![
            crate::chat::Message::new(crate::chat::Role::User, "東京"),
            crate::chat::Message::new(crate::chat::Role::Assistant, "Tokyo"),
            crate::chat::Message::new(crate::chat::Role::User, "Why?"),
        ])
        .unwrap();
        assert_eq!(
            worst_input_tokens(&chat),
            6 + 5 + 4 + REQUEST_OVERHEAD_TOKENS + 2 * TURN_OVERHEAD_TOKENS
        );
    }

    #[test]
    fn cost_is_tokens_times_price_per_million() {
        assert_eq!(estimate_input_tokens(0), 0);
        assert_eq!(estimate_input_tokens(1), 1);
        assert_eq!(estimate_input_tokens(8), 2);
        assert_eq!(estimate_input_tokens(9), 3);
        let pool = Pool::default_pool().unwrap();
        let gpt4 = pool.model("gpt-4-1106-preview").unwrap();
        let c = estimate(&pool, gpt4, 400, None);
        assert_eq!((c.input_tokens, c.output_tokens), (100, 256));
        assert!((c.usd - (100.0 * 10.0 + 256.0 * 30.0) / 1e6).abs() < 1e-15);
    }
}

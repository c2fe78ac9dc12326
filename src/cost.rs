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
    /// Billed answer tokens at the list output price.
    pub output_tokens: f64,
}

impl Billing {
    /// The billing of a model whose ratio in domain k is `ratios[k]`, where an answer in domain
    /// k bills `answer_tokens[k]`, for a prompt in domain k with probability `domains[k]`:
    /// Σ p_k·r_k for the input, Σ p_k·r_k·L_k for the answer. `None` when the three lengths
    /// differ or the weights are not a distribution.
    pub fn weigh(domains: &[f32], answer_tokens: &[f32], ratios: &[f32]) -> Option<Billing> {
        if domains.len() != answer_tokens.len() || domains.len() != ratios.len() {
            return None;
        }
        let (mut scale, mut tokens, mut mass) = (0.0, 0.0, 0.0);
        for ((&p, &l), &r) in domains.iter().zip(answer_tokens).zip(ratios) {
            let (p, l, r) = (f64::from(p), f64::from(l), f64::from(r));
            scale += p * r;
            tokens += p * r * l;
            mass += p;
        }
        // The encoder's softmax sums to 1; anything else is not a domain distribution.
        let ok = (mass - 1.0).abs() < 1e-3 && scale.is_finite() && tokens.is_finite();
        ok.then(|| Billing {
            input_scale: scale / mass,
            output_tokens: tokens / mass,
        })
    }
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
        Some(b) => CostEstimate {
            input_tokens,
            output_tokens: b.output_tokens.round().max(1.0) as u64,
            usd: (input_tokens as f64 * b.input_scale * model.price_in
                + b.output_tokens * model.price_out)
                / 1e6,
        },
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
        let sure = Billing::weigh(&[1.0, 0.0], &lengths, &ratios).unwrap();
        assert!((sure.input_scale - 0.1).abs() < 1e-6);
        assert!((sure.output_tokens - 0.1).abs() < 1e-6);
        let half = Billing::weigh(&[0.5, 0.5], &lengths, &ratios).unwrap();
        assert!((half.input_scale - 0.55).abs() < 1e-6);
        assert!((half.output_tokens - 100.05).abs() < 1e-6);
        // Not a distribution, or lengths that differ: no billing, never a panic.
        assert_eq!(Billing::weigh(&[0.5, 0.1], &lengths, &ratios), None);
        assert_eq!(Billing::weigh(&[1.0], &lengths, &ratios), None);

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

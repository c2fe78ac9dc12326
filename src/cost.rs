//! Cost estimates, in US$, from prices per 1M tokens.

use serde::Serialize;

use crate::pool::{Pool, PoolModel};

/// Estimated input tokens of a prompt: one token per 4 characters, rounded up.
///
/// The same rule priced the routing data, and it needs no provider tokenizer.
pub fn estimate_input_tokens(chars: usize) -> u64 {
    (chars as u64).div_ceil(4)
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

/// Estimates a request of `chars` characters to `model`.
pub fn estimate(pool: &Pool, model: &PoolModel, chars: usize) -> CostEstimate {
    let input_tokens = estimate_input_tokens(chars);
    let output_tokens = u64::from(pool.output_tokens(model));
    CostEstimate {
        input_tokens,
        output_tokens,
        usd: (input_tokens as f64 * model.price_in + output_tokens as f64 * model.price_out) / 1e6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_is_tokens_times_price_per_million() {
        assert_eq!(estimate_input_tokens(0), 0);
        assert_eq!(estimate_input_tokens(1), 1);
        assert_eq!(estimate_input_tokens(8), 2);
        assert_eq!(estimate_input_tokens(9), 3);
        let pool = Pool::default_pool();
        let gpt4 = pool.model("gpt-4-1106-preview").unwrap();
        let c = estimate(&pool, gpt4, 400);
        assert_eq!((c.input_tokens, c.output_tokens), (100, 256));
        assert!((c.usd - (100.0 * 10.0 + 256.0 * 30.0) / 1e6).abs() < 1e-15);
    }
}

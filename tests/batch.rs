//! Batch routing under a total budget: the spend fits, more budget never lowers expected
//! accuracy (quality less margins), and every choice is the per-prompt best at the plan's λ.

use crate::common;
use proptest::prelude::*;
use routoo::batch::plan;
use routoo::{Candidate, Constraints};

fn batch() -> impl Strategy<Value = Vec<Vec<Candidate>>> {
    let prompt =
        prop::collection::vec((0.0..1.0f64, 0.0..0.01f64, 0.0..0.1f64), 1..7).prop_map(|models| {
            models
                .into_iter()
                .enumerate()
                .map(|(i, (quality, usd, margin))| {
                    let mut c = common::candidate(&format!("m{i}"), "p", quality, usd);
                    c.margin = margin;
                    c.score = quality - margin;
                    c
                })
                .collect()
        });
    prop::collection::vec(prompt, 0..40)
}

proptest! {
    #[test]
    fn spend_fits_and_more_budget_never_lowers_accuracy(
        batch in batch(),
        a in 0.0..1.2f64,
        b in 0.0..1.2f64,
    ) {
        let min: f64 = batch
            .iter()
            .map(|c| c.iter().map(|c| c.cost.usd).fold(f64::INFINITY, f64::min))
            .sum();
        let max: f64 = batch.iter().flatten().map(|c| c.cost.usd).sum();
        let (lo, hi) = (a.min(b), a.max(b));
        let budget = |t: f64| min + t * (max - min);
        let small = plan(&batch, budget(lo)).unwrap();
        let large = plan(&batch, budget(hi)).unwrap();
        for p in [&small, &large] {
            prop_assert!(p.spend <= p.budget_total, "spent {} of {}", p.spend, p.budget_total);
            prop_assert_eq!(p.choices.len(), batch.len());
            // Each choice is the best trade-off at the plan's λ (ties within rounding).
            for (choice, candidates) in p.choices.iter().zip(&batch) {
                let best = candidates
                    .iter()
                    .map(|c| c.value() - p.lambda * c.cost.usd)
                    .fold(f64::NEG_INFINITY, f64::max);
                prop_assert!(choice.score >= best - 1e-9, "{} < {}", choice.score, best);
            }
        }
        prop_assert!(large.expected_accuracy >= small.expected_accuracy - 1e-12);
        prop_assert!(large.spend >= small.spend - 1e-15);
    }
}

#[test]
fn the_router_plans_a_batch_of_real_prompts() {
    // Models that bill: a batch served free (a model on this machine) has no budget to miss.
    let mut pool = routoo::Pool::default_pool().unwrap();
    pool.models
        .retain(|m| m.price_in > 0.0 || m.price_out > 0.0);
    let router = &routoo::Router::new(common::predictor(), pool).unwrap();
    let prompts = common::prompts();
    let prompts: Vec<&str> = prompts.iter().map(String::as_str).collect();
    let none = Constraints::default();
    let cheapest = router.route_batch(&prompts, 1e9, &none).unwrap();
    let plans: Vec<_> = [0.0, 0.25, 0.5, 1.0]
        .iter()
        .map(|t| {
            let budget = cheapest.min_spend + t * (cheapest.max_spend - cheapest.min_spend);
            router.route_batch(&prompts, budget, &none).unwrap()
        })
        .collect();
    for w in plans.windows(2) {
        assert!(w[1].expected_accuracy >= w[0].expected_accuracy);
        assert!(w[1].spend <= w[1].budget_total);
    }
    let (first, last) = (&plans[0], &plans[3]);
    assert!(last.expected_accuracy > first.expected_accuracy);
    assert!((first.spend - first.min_spend).abs() < 1e-12);

    let too_small = router.route_batch(&prompts, first.min_spend / 2.0, &none);
    let message = too_small.unwrap_err().to_string();
    assert!(message.contains("cannot pay"), "{message}");
    let with_empty = router.route_batch(&["fine", "  "], 1.0, &none);
    let message = with_empty.unwrap_err().to_string();
    assert!(
        message.contains("prompt 1") && message.contains("empty"),
        "{message}"
    );
}

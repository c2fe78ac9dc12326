//! Selection properties: spend moves with the budget, constraints hold, ties are deterministic.

use crate::common;
use proptest::prelude::*;
use routoo::explain::Rule;
use routoo::pool::Capability;
use routoo::predictor::Estimate;
use routoo::select::{rank, BudgetCurve, Constraints, Margin};
use routoo::{Error, Pool, PoolModel, Reason, RouteOptions};

fn model(i: usize, price_in: f64, price_out: f64, window: u32, latency: u32) -> PoolModel {
    PoolModel {
        id: format!("m{i}"),
        provider: format!("p{}", i % 3),
        api_model: format!("m{i}"),
        base_url: "http://127.0.0.1:1/v1".into(),
        price_in,
        price_out,
        context_window: window,
        latency_ms: latency,
        expected_output_tokens: None,
        // Some models call tools, some follow schemas, some both.
        supports: [
            (i.is_multiple_of(2), Capability::Tools),
            (i.is_multiple_of(3), Capability::StructuredOutput),
        ]
        .into_iter()
        .filter_map(|(yes, c)| yes.then_some(c))
        .collect(),
        ..Default::default()
    }
}

fn estimate(quality: f64, sd: f64) -> Estimate {
    Estimate {
        quality,
        sd,
        billing: None,
    }
}

prop_compose! {
    /// A pool, one prompt's estimates for it and a margin over it.
    fn pool_and_quality()(
        specs in prop::collection::vec(
            (0.0..40.0f64, 0.0..80.0f64, 300u32..200_000, 100u32..20_000, (0.0..1.0f64, 0.0..0.2f64, 0.0..1.0f64)),
            1..10,
        ),
        out in 1u32..2000,
        kappa in prop::sample::select(vec![0.0, 0.5, 1.0, 3.0]),
    ) -> (Pool, Vec<Estimate>, Margin) {
        let models = specs
            .iter()
            .enumerate()
            .map(|(i, s)| model(i, s.0, s.1, s.2, s.3))
            .collect();
        let estimates = specs.iter().map(|s| estimate(s.4.0, s.4.1)).collect();
        let margin = Margin {
            kappa,
            average: specs.iter().map(|s| s.4.2).collect(),
            unknown: Vec::new(),
            floors: Vec::new(),
            lead: Vec::new(),
            cost: Vec::new(),
            cost_margin: 0.0,
        };
        (Pool { expected_output_tokens: out, models }, estimates, margin)
    }
}

prop_compose! {
    fn constraints()(
        max_cost in prop::option::of(0.0..0.05f64),
        max_latency in prop::option::of(100u32..20_000),
        providers in prop::option::of(prop::sample::subsequence(vec!["p0", "p1", "p2"], 0..=3)),
        exclude in prop::sample::subsequence(vec!["m0", "m3"], 0..=2),
        models in prop::option::of(prop::sample::subsequence(vec!["m0", "m1", "m2", "m4"], 0..=4)),
        needs in prop::sample::subsequence(vec![Capability::Tools, Capability::StructuredOutput], 0..=2),
    ) -> Constraints {
        Constraints {
            max_cost_per_request: max_cost,
            max_latency_ms: max_latency,
            providers: providers.map(|p| p.into_iter().map(String::from).collect()),
            models: models.map(|m| m.into_iter().map(String::from).collect()),
            exclude: exclude.into_iter().map(String::from).collect(),
            needs,
        }
    }
}

proptest! {
    #[test]
    fn a_larger_lambda_never_picks_a_dearer_model(
        (pool, quality, margin) in pool_and_quality(),
        chars in 1usize..100_000,
        l1 in 0.0..1e6f64,
        l2 in 0.0..1e6f64,
    ) {
        let (lo, hi) = if l1 <= l2 { (l1, l2) } else { (l2, l1) };
        let none = Constraints::default();
        let at_lo = rank(&pool, &quality, chars, lo, &margin, &none).0;
        let at_hi = rank(&pool, &quality, chars, hi, &margin, &none).0;
        if let (Some(a), Some(b)) = (at_lo.first(), at_hi.first()) {
            prop_assert!(b.cost.usd <= a.cost.usd + 1e-15, "λ {hi}: {b:?} dearer than λ {lo}: {a:?}");
        }
    }

    #[test]
    fn constraints_are_never_violated(
        (pool, quality, margin) in pool_and_quality(),
        chars in 1usize..400_000,
        lambda in 0.0..1e5f64,
        c in constraints(),
    ) {
        let (ranked, excluded) = rank(&pool, &quality, chars, lambda, &margin, &c);
        prop_assert_eq!(ranked.len() + excluded.len(), pool.models.len());
        for cand in &ranked {
            let m = pool.model(&cand.model).unwrap();
            prop_assert!(!c.exclude.contains(&m.id));
            if let Some(allowed) = &c.models { prop_assert!(allowed.contains(&m.id)); }
            prop_assert!(c.needs.iter().all(|n| m.supports.contains(n)));
            if let Some(p) = &c.providers { prop_assert!(p.contains(&m.provider)); }
            if let Some(l) = c.max_cost_per_request { prop_assert!(cand.cost.usd <= l); }
            if let Some(l) = c.max_latency_ms { prop_assert!(m.latency_ms <= l); }
            prop_assert!(cand.cost.input_tokens + cand.cost.output_tokens <= u64::from(m.context_window));
        }
        for pair in ranked.windows(2) {
            prop_assert!(pair[0].score >= pair[1].score);
        }
        // One allowed model, the best on average among them, gives up nothing.
        let free: Vec<&str> = ranked.iter().filter(|c| c.margin == 0.0).map(|c| c.model.as_str()).collect();
        if margin.kappa == 0.0 || ranked.is_empty() {
            prop_assert_eq!(free.len(), ranked.len());
        } else {
            prop_assert!(!free.is_empty());
            for cand in &ranked {
                prop_assert!(cand.margin >= 0.0);
                prop_assert!((cand.score - (cand.quality - cand.margin - lambda * cand.cost.usd)).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn the_budget_curve_is_monotone(
        (pool, _, margin) in pool_and_quality(),
        reference in prop::collection::vec((1usize..20_000, prop::collection::vec((0.0..1.0f64, 0.0..0.2f64), 10)), 1..40),
        budgets in prop::collection::vec(0.0..50.0f64, 2..8),
    ) {
        let chars: Vec<usize> = reference.iter().map(|r| r.0).collect();
        let quality: Vec<Vec<Estimate>> = reference
            .iter()
            .map(|r| r.1[..pool.models.len()].iter().map(|&(q, sd)| estimate(q, sd)).collect())
            .collect();
        let curve = BudgetCurve::trace(&pool, &chars, &quality, &margin);
        // Each point is what the top of `rank` gives on every reference prompt at its λ.
        for point in &curve.points {
            let (mut spend, mut q, mut n) = (0.0, 0.0, 0usize);
            for (&c, qs) in chars.iter().zip(&quality) {
                if let Some(best) = rank(&pool, qs, c, point.lambda, &margin, &Constraints::default()).0.first() {
                    spend += best.cost.usd;
                    q += best.value();
                    n += 1;
                }
            }
            let n = n.max(1) as f64;
            prop_assert_eq!(point.cost_per_1k, spend / n * 1000.0);
            prop_assert_eq!(point.quality, q / n);
        }
        for pair in curve.points.windows(2) {
            prop_assert!(pair[0].lambda < pair[1].lambda);
            prop_assert!(pair[1].cost_per_1k <= pair[0].cost_per_1k * (1.0 + 1e-12));
        }
        let mut budgets = budgets;
        budgets.sort_by(f64::total_cmp);
        let cheapest = curve.points.last().unwrap().cost_per_1k;
        let mut last_spend = 0.0;
        for b in budgets {
            let point = curve.point_for(b).unwrap();
            // Spend fits the budget whenever any λ can make it fit, and grows with it.
            if b >= cheapest { prop_assert!(point.cost_per_1k <= b); }
            prop_assert!(point.cost_per_1k >= last_spend);
            last_spend = point.cost_per_1k;
        }
    }
}

#[test]
fn ties_go_to_the_cheaper_then_the_smaller_id_whatever_the_order() {
    let same = |i| model(i, 1.0, 1.0, 8000, 1000);
    let mut models = vec![same(2), same(0), model(5, 0.5, 0.5, 8000, 1000), same(1)];
    let quality = [estimate(0.5, 0.0); 4];
    for round in 0..4 {
        let pool = Pool {
            expected_output_tokens: 100,
            models: models.clone(),
        };
        let none = (Margin::default(), Constraints::default());
        let (ranked, _) = rank(&pool, &quality, 400, 0.0, &none.0, &none.1);
        let order: Vec<&str> = ranked.iter().map(|c| c.model.as_str()).collect();
        assert_eq!(order, ["m5", "m0", "m1", "m2"], "round {round}");
        models.rotate_left(1);
    }
}

#[test]
fn a_models_billing_prices_it_in_ranking_and_in_the_budget_curve() {
    use routoo::cost::Billing;
    // Two models at the same list prices and quality; the routing data billed m1's answers to
    // prompts like this at ten times the list price, m0's as listed.
    let pool = Pool {
        expected_output_tokens: 100,
        models: vec![
            model(0, 1.0, 2.0, 8000, 1000),
            model(1, 1.0, 2.0, 8000, 1000),
        ],
    };
    let billed = |scale: f64| Billing {
        input_scale: scale,
        input_tokens: 0.0,
        output_tokens: 100.0 * scale,
    };
    let mut estimates = [estimate(0.6, 0.0), estimate(0.6, 0.0)];
    estimates[1].billing = Some(billed(10.0));
    let none = (Margin::default(), Constraints::default());
    let (ranked, _) = rank(&pool, &estimates, 400, 1.0, &none.0, &none.1);
    assert_eq!(ranked[0].model, "m0");
    let ratio = ranked[1].cost.usd / ranked[0].cost.usd;
    assert!((ratio - 10.0).abs() < 1e-9, "m1 costs {ratio}× m0");
    // Without billing the two tie and the smaller id leads; billed at a tenth, m1 leads.
    estimates[1].billing = None;
    let (ranked, _) = rank(&pool, &estimates, 400, 1.0, &none.0, &none.1);
    assert_eq!(ranked[0].model, "m0");
    estimates[1].billing = Some(billed(0.1));
    let (ranked, _) = rank(&pool, &estimates, 400, 1.0, &none.0, &none.1);
    assert_eq!(ranked[0].model, "m1");
    // The budget curve's cheapest point spends what m1 is billed, not its list price.
    let curve = BudgetCurve::trace(&pool, &[400], &[estimates.to_vec()], &none.0);
    let cheapest = curve.points.last().unwrap().cost_per_1k;
    let listed = routoo::cost::estimate(&pool, &pool.models[1], 400, None).usd * 1000.0;
    assert!(
        (cheapest - listed * 0.1).abs() < 1e-9,
        "{cheapest} vs {listed}"
    );
}

/// m0, dear and best on average, and m1, cheap.
fn dear_and_cheap() -> Pool {
    Pool {
        expected_output_tokens: 100,
        models: vec![
            model(0, 10.0, 30.0, 8000, 1000),
            model(1, 1.0, 2.0, 8000, 1000),
        ],
    }
}

#[test]
fn the_best_model_on_average_is_left_only_for_a_sure_margin() {
    let pool = dear_and_cheap();
    let margin = Margin {
        kappa: 1.0,
        average: vec![0.8, 0.6],
        unknown: Vec::new(),
        floors: Vec::new(),
        lead: Vec::new(),
        cost: Vec::new(),
        cost_margin: 0.0,
    };
    let top = |estimates: &[Estimate], margin: &Margin, c: &Constraints| {
        let (ranked, _) = rank(&pool, estimates, 400, 0.0, margin, c);
        (ranked[0].model.clone(), ranked[0].margin)
    };
    let none = Constraints::default();
    // m1 is predicted 5 points better on this prompt, but give or take 10.
    let unsure = [estimate(0.70, 0.01), estimate(0.75, 0.10)];
    assert_eq!(top(&unsure, &margin, &none).0, "m0");
    assert_eq!(top(&unsure, &Margin::default(), &none).0, "m1");
    // Give or take 1, the same 5 points are a margin it is sure of.
    let sure = [estimate(0.70, 0.01), estimate(0.75, 0.01)];
    assert_eq!(top(&sure, &margin, &none).0, "m1");
    // With m0 ruled out, m1 is the best allowed model on average and gives nothing up.
    let without = Constraints {
        exclude: vec!["m0".into()],
        ..Default::default()
    };
    assert_eq!(top(&unsure, &margin, &without), ("m1".into(), 0.0));
}

#[test]
fn where_the_labels_compare_two_models_they_say_which_is_kept() {
    let pool = dear_and_cheap();
    // m0 leads on the reference prompts, but the labels put m1 ahead on the rows they share.
    let by_average = Margin {
        kappa: 1.0,
        average: vec![0.8, 0.6],
        unknown: Vec::new(),
        floors: Vec::new(),
        lead: Vec::new(),
        cost: Vec::new(),
        cost_margin: 0.0,
    };
    let by_labels = by_average
        .clone()
        .with_lead(vec![vec![None, Some(-0.03)], vec![Some(0.03), None]]);
    assert_eq!(by_average.incumbent(&[0, 1]), Some(0));
    assert_eq!(by_labels.incumbent(&[0, 1]), Some(1));
    // So m0, predicted 5 points better give or take 10, is no longer sure enough to take.
    let unsure = [estimate(0.75, 0.10), estimate(0.70, 0.01)];
    let top = |margin: &Margin| {
        let (ranked, _) = rank(&pool, &unsure, 400, 0.0, margin, &Constraints::default());
        (ranked[0].model.clone(), ranked[0].margin)
    };
    assert_eq!(top(&by_average).0, "m0");
    assert_eq!(top(&by_labels), ("m1".into(), 0.0));
    // Three models: the labels compare m1 with m2 only; m0 against either goes by average.
    let three = Margin {
        average: vec![0.9, 0.6, 0.5],
        lead: vec![
            vec![None, None, None],
            vec![None, None, Some(-0.1)],
            vec![None, Some(0.1), None],
        ],
        ..by_average.clone()
    };
    assert_eq!(three.incumbent(&[0, 1, 2]), Some(0));
    assert_eq!(three.incumbent(&[1, 2]), Some(2));
    assert_eq!(three.subset(&[2, 1]).incumbent(&[0, 1]), Some(0));
    assert_eq!(three.incumbent(&[]), None);
}

#[test]
fn at_each_trade_off_the_model_ahead_in_quality_less_cost_is_kept() {
    // dear, mid, cheap: averages 0.9, 0.8, 0.6 at mean costs 10, 1 and 0.1 US$.
    let margin = Margin {
        kappa: 1.0,
        average: vec![0.9, 0.8, 0.6],
        ..Margin::default()
    }
    .with_costs(vec![10.0, 1.0, 0.1]);
    let all = [0, 1, 2];
    // dear leaves mid's lead at 0.1 / 9 and cheap's at 0.3 / 9.9; mid leaves cheap's at 0.2 / 0.9.
    let by_average = margin.incumbents(&all);
    assert_eq!(
        by_average.iter().map(|e| e.1).collect::<Vec<_>>(),
        [Some(0), Some(1), Some(2)]
    );
    assert_eq!(by_average[0].0, 0.0);
    assert!(
        (by_average[1].0 - 0.1 / 9.0).abs() < 1e-12,
        "{by_average:?}"
    );
    assert!(
        (by_average[2].0 - 0.2 / 0.9).abs() < 1e-12,
        "{by_average:?}"
    );
    for (lambda, want) in [
        (0.0, 0),
        (0.005, 0),
        (0.02, 1),
        (0.1, 1),
        (0.5, 2),
        (1e6, 2),
    ] {
        assert_eq!(margin.incumbent_at(&all, lambda), Some(want), "λ {lambda}");
    }
    // Labels that put cheap ahead of mid on the rows both answered: cheap is kept from the
    // point where it is ahead of dear too (0.3 / 9.9); between, the three each lead one other
    // and mid has the best average less λ·cost.
    let labelled = margin.clone().with_lead(vec![
        vec![None, None, None],
        vec![None, None, Some(-0.01)],
        vec![None, Some(0.01), None],
    ]);
    let by_labels = labelled.incumbents(&all);
    assert_eq!(
        by_labels.iter().map(|e| e.1).collect::<Vec<_>>(),
        [Some(0), Some(1), Some(2)]
    );
    assert!((by_labels[2].0 - 0.3 / 9.9).abs() < 1e-12, "{by_labels:?}");
    // Without costs one incumbent holds throughout: the top one.
    let top = Margin {
        cost: Vec::new(),
        ..margin.clone()
    };
    assert_eq!(top.incumbents(&all), [(0.0, Some(0))]);
    assert_eq!(top.incumbent_at(&all, 1e6), Some(0));
    // rank weighs the challengers against the incumbent of its λ: at 0.1, mid gives up nothing
    // and the others their κ·√(sd² + sd_mid²).
    let pool = Pool {
        expected_output_tokens: 100,
        models: vec![
            model(0, 10.0, 10.0, 100_000, 100),
            model(1, 1.0, 1.0, 100_000, 100),
            model(2, 0.1, 0.1, 100_000, 100),
        ],
    };
    let es = [estimate(0.9, 0.03), estimate(0.8, 0.04), estimate(0.6, 0.0)];
    let (ranked, _) = rank(&pool, &es, 400, 0.1, &margin, &Constraints::default());
    let margin_of = |id: &str| ranked.iter().find(|c| c.model == id).unwrap().margin;
    assert_eq!(margin_of("m1"), 0.0);
    assert!((margin_of("m0") - 0.05).abs() < 1e-12, "{ranked:?}");
    assert!((margin_of("m2") - 0.04).abs() < 1e-12, "{ranked:?}");
}

proptest! {
    /// The incumbents found along λ by following each comparison's change of sign are those
    /// counted afresh at any λ.
    #[test]
    fn the_incumbents_along_lambda_are_those_counted_at_each_lambda(
        models in prop::collection::vec((0.0..1.0f64, prop::sample::select(vec![0.0, 0.1, 0.1, 1.0, 3.0, 20.0])), 1..9),
        leads in prop::collection::vec(prop::option::of(-0.3..0.3f64), 64),
        keep in prop::collection::vec(any::<bool>(), 8),
        lambdas in prop::collection::vec(prop_oneof![0.0..0.1f64, 0.0..10.0f64, 0.0..1e4f64], 1..30),
    ) {
        let k = models.len();
        let lead = |m: usize, b: usize| match m.cmp(&b) {
            std::cmp::Ordering::Less => leads[m * 8 + b],
            std::cmp::Ordering::Greater => leads[b * 8 + m].map(|d| -d),
            std::cmp::Ordering::Equal => None,
        };
        let margin = Margin {
            kappa: 1.0,
            average: models.iter().map(|m| m.0).collect(),
            ..Margin::default()
        }
        .with_lead((0..k).map(|m| (0..k).map(|b| lead(m, b)).collect()).collect())
        .with_costs(models.iter().map(|m| m.1).collect());
        let allowed: Vec<usize> = (0..k).filter(|&m| keep[m]).collect();
        let schedule = margin.incumbents(&allowed);
        prop_assert_eq!(schedule[0], (0.0, margin.incumbent(&allowed)));
        prop_assert!(schedule.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 != w[1].1), "{:?}", schedule);
        for lambda in lambdas.into_iter().filter(|&l| l > 0.0) {
            let held = schedule.iter().rev().find(|e| e.0 <= lambda).unwrap().1;
            prop_assert_eq!(held, margin.incumbent_at(&allowed, lambda), "λ {} {:?}", lambda, schedule);
        }
    }
}

#[test]
fn a_pair_floor_discounts_only_a_gain_over_the_best_model_and_never_below_it() {
    let pool = dear_and_cheap();
    let margin = |floor: f64| Margin {
        kappa: 1.0,
        average: vec![0.8, 0.6],
        unknown: Vec::new(),
        floors: vec![vec![0.0, 0.0], vec![floor, 0.0]],
        lead: Vec::new(),
        cost: Vec::new(),
        cost_margin: 0.0,
    };
    let top = |estimates: &[Estimate], margin: &Margin, lambda: f64| {
        let (ranked, _) = rank(
            &pool,
            estimates,
            400,
            lambda,
            margin,
            &Constraints::default(),
        );
        (
            ranked[0].model.clone(),
            ranked.iter().find(|c| c.model == "m1").unwrap().margin,
        )
    };
    // m1 is predicted 0.10 above m0, sure to 0.01: 0.0859 clears κ, not a floor of 0.1.
    let sure = [estimate(0.70, 0.01), estimate(0.80, 0.01)];
    let kappa = 0.01f64.hypot(0.01);
    let (pick, handicap) = top(&sure, &margin(0.0), 0.0);
    assert_eq!((pick.as_str(), handicap), ("m1", kappa));
    let (pick, handicap) = top(&sure, &margin(0.1), 0.0);
    assert_eq!(pick, "m0");
    assert!(
        (0.8 - handicap - 0.70 + 1e-9).abs() < 1e-12,
        "{handicap}: held just below m0"
    );
    // A floor of 0.05 leaves m1 the rest of its gain.
    let (pick, handicap) = top(&sure, &margin(0.05), 0.0);
    assert_eq!(pick, "m1");
    assert!((handicap - (kappa + 0.05)).abs() < 1e-12, "{handicap}");
    // Predicted below m0, m1 keeps its value, whatever the floor: at a price λ, cheaper wins.
    let below = [estimate(0.70, 0.01), estimate(0.60, 0.01)];
    assert_eq!(top(&below, &margin(1.0), 0.0).1, kappa);
    assert_eq!(top(&below, &margin(1.0), 1e6).0, "m1");
    // A floor of 1 never leaves m0 for a gain alone, but cost still counts.
    assert_eq!(top(&sure, &margin(1.0), 0.0).0, "m0");
    assert_eq!(top(&sure, &margin(1.0), 1e6).0, "m1");
}

#[test]
fn the_real_router_spends_more_only_when_the_budget_grows() {
    let router = common::router();
    let budgets = [0.0, 0.01, 0.05, 0.1, 0.3, 1.0, 3.0, 10.0, 100.0];
    // One prompt may go to a cheaper model at a larger budget (its incumbent there is a
    // dearer model, and the cheap one is surely better than that); λ never rises, and the
    // budget's curve point never spends less nor expects less.
    for prompt in common::prompts() {
        let prediction = router.predict(&prompt).unwrap();
        let mut last: Option<(f64, f64, f64)> = None;
        for b in budgets {
            let options = RouteOptions {
                budget: Some(b),
                ..Default::default()
            };
            let d = router.decide(&prediction, &options).unwrap();
            let point = *router.curve().point_for(b).unwrap();
            if let Some((spend, quality, lambda)) = last {
                assert!(d.lambda <= lambda, "λ rose with the budget");
                assert!(point.cost_per_1k >= spend, "budget {b} spends less");
                assert!(point.quality >= quality, "budget {b} expects less");
            }
            last = Some((point.cost_per_1k, point.quality, d.lambda));
        }
    }
    let curve = router.curve();
    let cheap = curve.point_for(0.1).unwrap().cost_per_1k;
    let rich = curve.point_for(5.0).unwrap().cost_per_1k;
    assert!(
        cheap <= 0.1 && rich <= 5.0 && rich > cheap,
        "{cheap} {rich}"
    );
}

/// The default pool's labelled models change incumbent along λ, and still every point of the
/// budget curve spends less and expects less than the one before it, from λ = 0 on.
#[test]
fn across_incumbents_the_budget_curve_falls_in_spend_and_in_quality() {
    let router = common::router();
    let all: Vec<usize> = (0..router.pool().models.len()).collect();
    let schedule = router.margin().incumbents(&all);
    assert!(schedule.len() > 1, "one incumbent throughout: {schedule:?}");
    let points = &router.curve().points;
    assert_eq!(points[0].lambda, 0.0);
    for w in points.windows(2) {
        assert!(w[1].lambda > w[0].lambda);
        assert!(w[1].cost_per_1k <= w[0].cost_per_1k, "{w:?}");
        assert!(w[1].quality <= w[0].quality, "{w:?}");
    }
}

#[test]
fn a_new_pool_takes_effect_and_a_bad_one_changes_nothing() {
    let predictor = common::predictor();
    let mut router = routoo::Router::new(predictor, Pool::default_pool().unwrap()).unwrap();
    let before = router.curve().clone();
    let mut cheap = Pool::default_pool().unwrap();
    cheap.models.retain(|m| m.provider != "openai");
    router.set_pool(cheap.clone()).unwrap();
    assert_eq!(router.pool(), &cheap);
    let points = |c: &BudgetCurve| -> Vec<(f64, f64)> {
        c.points
            .iter()
            .map(|p| (p.cost_per_1k, p.quality))
            .collect()
    };
    assert_ne!(
        points(router.curve()),
        points(&before),
        "the curve follows the pool"
    );
    let d = router.route("Prove Fermat's little theorem.", &RouteOptions::default());
    assert!(d.unwrap().ranked.iter().all(|c| c.provider != "openai"));

    let mut unknown = cheap.clone();
    let labelled = (unknown.models.iter())
        .position(|m| !m.uncalibrated && m.like.is_none() && m.scores.is_empty())
        .unwrap();
    unknown.models[labelled].id = "gpt-5".into();
    let err = router.set_pool(unknown).unwrap_err();
    assert!(err.to_string().contains("gpt-5"), "{err}");
    assert_eq!(router.pool(), &cheap, "the failed call kept the pool");
}

/// A model no table labels: borrowed from a labelled one, estimates are that model's; left
/// uncalibrated, it is routed as an average model as unsure as models differ, and the margin
/// keeps it from displacing a known one at the same price.
#[test]
fn borrowed_and_uncalibrated_models_are_routed_and_say_so() {
    let predictor = common::predictor();
    let predictor_domains = predictor.manifest().encoder.domains.clone();
    let base = Pool::default_pool().unwrap();
    let prompt = "Prove that there are infinitely many primes.";
    // The labelled model predicted best on the prompt: a model to beat.
    let everyone = routoo::Router::new(common::predictor(), base.clone()).unwrap();
    let all = everyone.predict(prompt).unwrap();
    let sonnet = (base.models.iter())
        .filter(|m| !m.uncalibrated && m.like.is_none())
        .max_by(|a, b| {
            let q = |m: &PoolModel| all.estimate_of(&m.id).map_or(0.0, |e| e.quality);
            q(a).total_cmp(&q(b))
        })
        .unwrap()
        .clone();
    let borrowed = PoolModel {
        id: "claude-next".into(),
        like: Some(sonnet.id.clone()),
        ..sonnet.clone()
    };
    let fresh = PoolModel {
        id: "mystery".into(),
        uncalibrated: true,
        ..sonnet.clone()
    };
    let pool = Pool::from_models(vec![sonnet.clone(), borrowed, fresh]).unwrap();
    let router = routoo::Router::new(predictor, pool).unwrap();
    let prediction = router.predict(prompt).unwrap();
    let prior = prediction
        .uncalibrated
        .expect("the bundle's heads give a prior");
    let sure = prediction.estimate_of(&sonnet.id).unwrap();
    assert!(
        prior.sd > sure.sd,
        "the prior is unsure: {prior:?} vs {sure:?}"
    );
    let d = router.route(prompt, &RouteOptions::default()).unwrap();
    let of = |id: &str| d.ranked.iter().find(|c| c.model == id).unwrap().clone();
    assert_eq!(of("claude-next").quality, of(&sonnet.id).quality);
    // Known by its price alone: an average model at that price, as unsure as the prior.
    let mystery = prediction.estimate_of("mystery").unwrap();
    assert!((of("mystery").quality - mystery.quality).abs() < 1e-12);
    assert!(
        mystery.sd > sure.sd,
        "as unsure as the prior: {mystery:?} {prior:?}"
    );
    assert!(matches!(router.bases()[2], routoo::Basis::Price { .. }));
    // The borrowed one says whose head it has, and which tables labelled that model.
    let lender = match &router.bases()[0] {
        routoo::Basis::Labels { tables, .. } => tables.clone(),
        other => panic!("the lender is labelled: {other:?}"),
    };
    match &router.bases()[1] {
        routoo::Basis::Like {
            model,
            tables,
            domains,
            keeps,
        } => {
            assert_eq!((model, tables), (&sonnet.id, &lender));
            // Drawn toward an average model only where its labels leave a domain uncovered.
            let all = &predictor_domains;
            assert!(!domains.is_empty() && domains.iter().all(|d| all.contains(d)));
            assert_eq!(keeps.is_some(), domains.len() < all.len(), "{domains:?}");
        }
        other => panic!("the borrowed one is like its lender: {other:?}"),
    }
    assert!(router.bases()[1].to_string().contains(&lender.join(", ")));
    assert!(of("mystery").margin > 0.0);
    assert_ne!(
        d.choice.model, "mystery",
        "an unknown model does not win at the same price"
    );

    // Nothing to go on, or a borrowed head that does not exist: an error naming the model.
    let mut unknown = Pool::from_models(vec![PoolModel {
        id: "nobody".into(),
        ..sonnet.clone()
    }])
    .unwrap();
    let predictor = common::predictor();
    assert!(routoo::Router::new(predictor, unknown.clone())
        .unwrap_err()
        .to_string()
        .contains("nobody"));
    unknown.models[0].like = Some("gpt-7".into());
    let predictor = common::predictor();
    let err = routoo::Router::new(predictor, unknown)
        .unwrap_err()
        .to_string();
    assert!(err.contains("like gpt-7"), "{err}");
    let both = PoolModel {
        id: "x".into(),
        like: Some(sonnet.id.clone()),
        uncalibrated: true,
        ..sonnet.clone()
    };
    assert!(Pool::from_models(vec![both])
        .unwrap_err()
        .to_string()
        .contains("say one"));
    let mut dated = sonnet.clone();
    dated.price_date = Some("30/11/2026".into());
    assert!(Pool::from_models(vec![dated])
        .unwrap_err()
        .to_string()
        .contains("YYYY-MM-DD"));
    let mut sourced = sonnet.clone();
    sourced.price_source = Some("javascript:alert(1)".into());
    assert!(Pool::from_models(vec![sourced])
        .unwrap_err()
        .to_string()
        .contains("priceSource"));
}

/// A conversation is routed on its last user turn (earlier turns after it, most recent first),
/// and its cost counts every turn: one turn routes exactly as the plain prompt does.
#[test]
fn conversations_are_routed_on_the_last_turn_and_priced_whole() {
    use routoo::{Conversation, Message, Role};
    let predictor = common::predictor();
    let router = routoo::Router::new(predictor, Pool::default_pool().unwrap()).unwrap();
    let options = RouteOptions {
        budget: Some(1.0),
        ..RouteOptions::default()
    };
    let question = "And what is the derivative of x^3?";
    let plain = router.route(question, &options).unwrap();
    let one = Conversation::from_prompt(question);
    assert_eq!(router.route_conversation(&one, &options).unwrap(), plain);

    let history = "Write a long essay about the history of Rome. ".repeat(40);
    let chat = Conversation::new(vec![
        Message::new(Role::System, "You are a maths tutor."),
        Message::new(Role::User, history.clone()),
        Message::new(Role::Assistant, "Rome was founded..."),
        Message::new(Role::User, question),
    ])
    .unwrap();
    let prediction = router.predict_conversation(&chat).unwrap();
    assert_eq!(prediction.chars, chat.chars());
    // The encoder reads the last user turn first: with the long history after it, what it
    // reads starts as the plain question does.
    assert!(prediction.truncated, "the history fills the encoder");
    let decision = router.route_conversation(&chat, &options).unwrap();
    let tokens = |d: &routoo::Decision| d.ranked.iter().map(|c| c.cost.input_tokens).max().unwrap();
    assert_eq!(
        tokens(&decision),
        routoo::cost::estimate_input_tokens(chat.chars())
    );
    assert!(
        tokens(&decision) > 10 * tokens(&plain),
        "every turn is priced"
    );
}

/// A pool model with published scores and no head of its own is placed from them when the
/// router binds: a higher GPQA Diamond score (a benchmark whose gap to its family, MMLU-Pro's
/// sciences, the bundle measured) puts it higher on MMLU-Pro's prompts, the basis names
/// the scores, a user's own head stands over it, and changed scores place it again.
#[test]
fn models_with_published_scores_are_placed_from_them_and_say_so() {
    let base = Pool::default_pool().unwrap();
    let today = (base.models.iter())
        .find(|m| m.uncalibrated && !m.historical)
        .unwrap()
        .clone();
    let scored = |id: &str, accuracy: f64| PoolModel {
        id: id.into(),
        uncalibrated: false,
        scores: vec![routoo::card::Score {
            benchmark: "GPQA Diamond".into(),
            subject: None,
            accuracy,
            n: None,
            source: "https://example.test/card".into(),
            date: "2026-11-01".into(),
        }],
        ..today.clone()
    };
    let pool = Pool::from_models(vec![scored("weak", 0.35), scored("strong", 0.85)]).unwrap();
    let mut router = routoo::Router::new(common::predictor(), pool.clone()).unwrap();
    let set: serde_json::Value =
        serde_json::from_slice(&common::read("www/models/probes.json")).unwrap();
    let prompts: Vec<&str> = (set["probes"].as_array().unwrap().iter())
        .filter(|p| p["benchmark"] == "mmlu-pro")
        .map(|p| p["prompt"].as_str().unwrap())
        .take(20)
        .collect();
    assert!(prompts.len() >= 10);
    let mean = |router: &routoo::Router, id: &str| {
        let qs: Vec<f64> = (prompts.iter())
            .map(|p| router.predict(p).unwrap().quality_of(id).unwrap())
            .collect();
        qs.iter().sum::<f64>() / qs.len() as f64
    };
    let (weak, strong) = (mean(&router, "weak"), mean(&router, "strong"));
    eprintln!("mean estimate on MMLU-Pro prompts: weak {weak:.3}, strong {strong:.3}");
    assert!(strong > weak + 0.3, "{weak} {strong}");
    match &router.bases()[1] {
        routoo::Basis::Evidence { scores, probes } => {
            assert_eq!(*probes, 0);
            assert_eq!(scores[0].accuracy, 0.85);
        }
        other => panic!("{other:?}"),
    }
    assert!(router.bases()[1].to_string().contains("GPQA Diamond"));

    // Changed scores place it again.
    let mut raised = pool.clone();
    raised.models[0].scores[0].accuracy = 0.95;
    router.set_pool(raised).unwrap();
    assert!(mean(&router, "weak") > strong, "placed again from 0.95");

    // A user's head (here: the strong one's, renamed) stands over the card.
    let mut file = routoo::heads::HeadsFile::from_json(&format!(
        r#"{{"format": "routoo-heads", "encoder": "{}", "heads": []}}"#,
        router.predictor().manifest().encoder.sha256
    ))
    .unwrap();
    let mut head = (router.predictor().manifest().heads.iter())
        .find(|h| h.id == "strong")
        .unwrap()
        .clone();
    head.id = "weak".into();
    head.evidence = Some(routoo::bundle::Evidence {
        scores: Vec::new(),
        probes: 40,
        price: None,
    });
    file.heads.push(head);
    router.add_heads(&file).unwrap();
    router.set_pool(pool.clone()).unwrap();
    assert!((mean(&router, "weak") - strong).abs() < 1e-9);
    assert_eq!(router.bases()[0].to_string(), "40 probes");

    // Scores with another basis, or a benchmark the bundle does not map: refused, named.
    let mut both = scored("both", 0.5);
    both.uncalibrated = true;
    let err = Pool::from_models(vec![both]).unwrap_err().to_string();
    assert!(err.contains("say one"), "{err}");
    let mut odd = scored("odd", 0.5);
    odd.scores[0].benchmark = "Terminal-Bench 4.0".into();
    let pool = Pool::from_models(vec![odd]).unwrap();
    let err = routoo::Router::new(common::predictor(), pool)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("unknown benchmark") && err.contains("gpqa-diamond"),
        "{err}"
    );
}

/// Today's models, with nothing known of them but their prices, are placed at their prices: a
/// pricier one is estimated better on every prompt, a budget buys what the providers asked for
/// can give (a small one the cheapest of them, not whatever a free model elsewhere allows),
/// more budget never buys a cheaper model, and the slider moves among several of them.
#[test]
fn models_known_only_by_price_are_told_apart_by_it_and_the_budget_moves_among_them() {
    let pool = Pool::default_pool().unwrap().serving().unwrap();
    let router = routoo::Router::new(common::predictor(), pool.clone()).unwrap();
    let priced: Vec<&PoolModel> = (pool.models.iter()).filter(|m| m.uncalibrated).collect();
    assert!(priced.len() >= 3);
    for (m, basis) in pool.models.iter().zip(router.bases()) {
        if m.uncalibrated {
            assert!(
                matches!(basis, routoo::Basis::Price { .. }),
                "{}: {basis}",
                m.id
            );
        }
    }
    let price = |m: &PoolModel| m.price_in + 4.0 * m.price_out;
    let prompt = "Prove that the square root of 2 is irrational, step by step.";
    let prediction = router.predict(prompt).unwrap();
    let q = |m: &PoolModel| prediction.quality_of(&m.id).unwrap();
    for a in &priced {
        for b in &priced {
            if price(a) > price(b) {
                assert!(q(a) > q(b), "{} over {}", a.id, b.id);
            }
        }
    }
    let providers: Vec<String> = ["openai", "anthropic", "gemini"].map(String::from).to_vec();
    // The model a prompt goes to at a budget, with keys for those three providers.
    let route = |prompt: &str, budget: f64| {
        let options = RouteOptions {
            budget: Some(budget),
            constraints: Constraints {
                providers: Some(providers.clone()),
                ..Default::default()
            },
            ..Default::default()
        };
        let c = router.route(prompt, &options).unwrap().choice;
        pool.model(&c.model).unwrap().clone()
    };
    let cheapest = (priced.iter())
        .filter(|m| providers.contains(&m.provider))
        .map(|m| price(m))
        .fold(f64::INFINITY, f64::min);
    let first = route(prompt, 0.001);
    assert_eq!(price(&first), cheapest, "{}", first.id);
    let mut chosen = Vec::new();
    let mut last = 0.0;
    for i in 0..=40 {
        let budget = 0.001 * 1.3f64.powi(i);
        let m = route(prompt, budget);
        assert!(
            price(&m) >= last,
            "budget {budget} bought a cheaper {}",
            m.id
        );
        last = price(&m);
        if !chosen.contains(&m.id) {
            chosen.push(m.id);
        }
    }
    eprintln!("chosen along the budget: {chosen:?}");
    assert!(chosen.len() >= 4, "{chosen:?}");

    // A mix of prompts across the curve: competition maths, arithmetic, code, knowledge and a
    // greeting. At least four of the default API models are chosen, and in the middle of the
    // curve hard maths goes to a pricier model than the greeting.
    let mix = [
        "Let p be an odd prime. Show that the sum of the quadratic residues modulo p is divisible by p when p > 3.",
        "Find all real x such that x^4 - 5x^2 + 4 = 0, and justify each step.",
        "A shop sells pencils at 3 for $1. How much do 27 pencils cost?",
        "Write a Python function that returns the longest palindromic substring of a string.",
        "In which organelle does the Krebs cycle take place in eukaryotic cells?",
        "Hi there! How are you today?",
    ];
    let budgets: Vec<f64> = (0..=40).map(|i| 0.001 * 1.3f64.powi(i)).collect();
    let mut all: Vec<String> = Vec::new();
    for prompt in mix {
        for &b in &budgets {
            let m = route(prompt, b);
            if !all.contains(&m.id) {
                all.push(m.id);
            }
        }
    }
    eprintln!("the mix chose {all:?}");
    assert!(all.len() >= 4, "{all:?}");
    let (hard, hello) = (mix[0], mix[5]);
    let priciest = (priced.iter())
        .filter(|m| providers.contains(&m.provider))
        .map(|m| price(m))
        .fold(0.0, f64::max);
    let middle: Vec<f64> = (budgets.iter().copied())
        .filter(|&b| {
            let p = price(&route(hard, b));
            p > cheapest && p < priciest
        })
        .collect();
    assert!(
        !middle.is_empty(),
        "hard maths goes straight from the cheapest to the priciest"
    );
    let mid = middle[middle.len() / 2];
    let (to_hard, to_hello) = (route(hard, mid), route(hello, mid));
    eprintln!(
        "at US${mid:.2} per 1k: hard maths to {}, the greeting to {}",
        to_hard.id, to_hello.id
    );
    assert!(
        price(&to_hard) > price(&to_hello),
        "{} vs {}",
        to_hard.id,
        to_hello.id
    );
}

/// A calibration keeps its evidence, so another bundle can place the model again without a
/// call: refitting in the same space gives the same head, a probe the set no longer has is
/// left out and named, and a file with nothing left to fit is refused, naming the model.
#[test]
fn a_kept_calibration_is_fitted_again_from_its_evidence_without_a_call() {
    use routoo::calibrate::{refit, Calibration, ProbeResult};
    let predictor = common::predictor();
    let manifest = predictor.manifest();
    let set =
        routoo::probe::ProbeSet::from_bundle(manifest, &common::read("www/models/probes.json"))
            .unwrap();
    let base = Pool::default_pool().unwrap();
    let model = (base.models.iter())
        .find(|m| m.uncalibrated)
        .unwrap()
        .clone();
    let card = routoo::card::Card::from_json(&format!(
        r#"{{"model": "{}", "scores": [{{"benchmark": "mmlu-pro", "accuracy": 0.8,
            "source": "https://example.test/", "date": "2026-11-01"}}]}}"#,
        model.id
    ))
    .unwrap();
    let mut placed = Calibration::from_card(&predictor, &model, card).unwrap();
    // Twenty graded probes, right on every other one, and one the set does not hold.
    placed.results = (set.probes.iter().take(20).enumerate())
        .map(|(i, p)| ProbeResult {
            id: p.id.clone(),
            correct: Some(i % 2 == 0),
            spent: 0.0,
            error: None,
        })
        .chain([ProbeResult {
            id: "gone".into(),
            correct: Some(true),
            spent: 0.0,
            error: None,
        }])
        .collect();
    let mut file = routoo::heads::HeadsFile::of(&predictor, std::slice::from_ref(&placed));
    file.encoder = "0".repeat(64); // as written in another bundle's space
    let again = refit(&predictor, &set, &file).unwrap();
    assert_eq!(again.encoder, manifest.encoder.sha256);
    let head = &again.heads[0];
    let evidence = head.evidence.as_ref().unwrap();
    assert_eq!((evidence.probes, evidence.scores.len()), (20, 1));
    let kept = &again.calibrations[0];
    assert_eq!(kept["graded"], 20);
    assert!(kept["stopped"].as_str().unwrap().contains("gone"), "{kept}");
    // The same fit as one made here from the same evidence.
    let prior = routoo::heads::Prior::for_calibration(manifest, &model.id).unwrap();
    let graded: Vec<(Vec<f32>, bool)> = (set.probes.iter().take(20).enumerate())
        .map(|(i, p)| (predictor.embed(&p.prompt).unwrap().0, i % 2 == 0))
        .collect();
    let card = placed.card.as_ref().unwrap();
    let direct =
        routoo::heads::fit_evidence(&model.id, &prior, &graded, &card.targets(manifest).unwrap())
            .unwrap();
    let gap = (head.weights.iter().zip(&direct.weights))
        .map(|(a, b)| (a - b).abs())
        .fold((head.bias - direct.bias).abs(), f32::max);
    assert!(gap < 1e-5, "{gap}");
    // Nothing left to fit with: refused, naming the model.
    placed.card = None;
    placed.results.retain(|r| r.id == "gone");
    let empty = routoo::heads::HeadsFile::of(&predictor, &[placed]);
    let err = refit(&predictor, &set, &empty).unwrap_err().to_string();
    assert!(
        err.contains(&model.id) && err.contains("calibrate it again"),
        "{err}"
    );
}

/// The best model on average is kept, against a less sure one, only when it is known: one
/// known by the prior alone is no incumbent, and leaving it costs no margin.
#[test]
fn an_unknown_best_model_is_no_incumbent_to_keep() {
    let e = |sd: f64| Estimate {
        quality: 0.5,
        sd,
        billing: None,
    };
    let estimates = [e(0.1), e(0.1), e(0.2), e(0.05)];
    let margin = Margin {
        kappa: 1.0,
        average: vec![0.9, 0.5, 0.5, 0.5],
        unknown: Vec::new(),
        floors: Vec::new(),
        lead: Vec::new(),
        cost: Vec::new(),
        cost_margin: 0.0,
    };
    let known = margin.handicaps(&estimates, &[0, 1, 2, 3]);
    assert_eq!(known[0], 0.0);
    assert!((known[1] - 0.1f64.hypot(0.1)).abs() < 1e-12);
    let unknown = margin.with_unknown(vec![true, true, false, false]);
    assert_eq!(unknown.handicaps(&estimates, &[0, 1, 2, 3]), [0.0; 4]);
    // Known but not the best: the margin stands against the best when the best is known.
    let second = unknown.handicaps(&estimates, &[2, 3]);
    assert_eq!(second[0], 0.0);
    assert!((second[1] - 0.05f64.hypot(0.2)).abs() < 1e-12, "{second:?}");
}

/// A calibration's worst case counts the model's room for thinking, as every call to it does.
#[test]
fn the_calibration_outlook_counts_the_room_for_thinking() {
    let predictor = common::predictor();
    let set = routoo::probe::ProbeSet::from_bundle(
        predictor.manifest(),
        &common::read("www/models/probes.json"),
    )
    .unwrap();
    let base = Pool::default_pool().unwrap();
    let mut model = (base.models.iter())
        .find(|m| m.uncalibrated)
        .unwrap()
        .clone();
    let outlook = |model: &PoolModel| {
        routoo::calibrate::Plan::new(&predictor, &set, model, 10)
            .unwrap()
            .outlook(1024)
    };
    model.thinking_room = None;
    let plain = outlook(&model);
    model.thinking_room = Some(8192);
    let thinking = outlook(&model);
    assert_eq!(
        plain.expected, thinking.expected,
        "the estimate charges the answer only"
    );
    // Ten probes, each 8,192 more output tokens at the model's price, at most.
    let more = 10.0 * 8192.0 * model.price_out / 1e6;
    assert!(
        (thinking.worst - plain.worst - more).abs() < 1e-9,
        "{} -> {}",
        plain.worst,
        thinking.worst
    );
}

/// `minQuality`: the cheapest model whose chance less margin reaches it; with a budget, the
/// budget's choice only if it reaches it; none reaching it is an error naming the closest.
/// Each route names the rule that chose and says why in a sentence.
#[test]
fn a_minimum_quality_takes_the_cheapest_model_that_reaches_it() {
    let router = common::router();
    for prompt in common::prompts() {
        let prediction = router.predict(&prompt).unwrap();
        let free = router
            .decide(&prediction, &RouteOptions::default())
            .unwrap();
        let value = routoo::Candidate::value;
        let best = free.ranked.iter().map(value).fold(f64::MIN, f64::max);
        let lowest = free.ranked.iter().map(value).fold(f64::MAX, f64::min);
        // A bar between the weakest and the strongest value splits the pool; a chance is no
        // less than 0, and a value (quality less margin) may be.
        let min = (best + lowest.max(0.0)) / 2.0;
        let with = |budget: Option<f64>| RouteOptions {
            min_quality: Some(min),
            budget,
            ..Default::default()
        };
        // Every route says why: the rule, and a sentence naming the choice and the runner-up.
        assert_eq!(free.rule, Rule::Best);
        assert!(free.why.starts_with(&free.choice.model), "{}", free.why);
        assert!(free.why.contains(&free.ranked[1].model), "{}", free.why);
        let d = router.decide(&prediction, &with(None)).unwrap();
        assert_eq!(d.rule, Rule::CheapestAbove { min });
        assert!(
            d.why
                .contains("cheapest model predicted to reach the minimum"),
            "{}",
            d.why
        );
        assert!(value(&d.choice) >= min, "{prompt}: chose below the bar");
        for c in &free.ranked {
            if value(c) >= min {
                assert!(
                    c.cost.usd >= d.choice.cost.usd,
                    "{prompt}: {} is cheaper",
                    c.model
                );
                assert!(d.ranked.iter().any(|r| r.model == c.model));
            } else {
                let out = d.excluded.iter().find(|e| e.model == c.model).unwrap();
                assert!(
                    matches!(out.reason, Reason::BelowMinQuality { min: m, .. } if m == min),
                    "{out:?}"
                );
            }
        }
        assert!(
            d.ranked.iter().all(|c| value(c) >= min),
            "falls back only above the bar"
        );
        // With a budget: its choice when that reaches the bar, else the cheapest that does.
        for budget in [0.0, 1.0, 100.0] {
            let plain = router
                .decide(
                    &prediction,
                    &RouteOptions {
                        budget: Some(budget),
                        ..Default::default()
                    },
                )
                .unwrap();
            let both = router.decide(&prediction, &with(Some(budget))).unwrap();
            assert_eq!(plain.rule, Rule::Budget);
            if value(&plain.choice) >= min {
                assert_eq!(
                    both.choice.model, plain.choice.model,
                    "{prompt} at {budget}"
                );
                assert_eq!(both.rule, Rule::BudgetAbove { min });
            } else {
                assert_eq!(both.rule, Rule::CheapestAbove { min });
                assert_eq!(both.choice.model, d.choice.model, "{prompt} at {budget}");
            }
        }
        // Above every model: nothing goes out, and the error names the closest.
        let err = (router.decide(
            &prediction,
            &RouteOptions {
                min_quality: Some((best + 0.001).min(1.0)),
                ..Default::default()
            },
        ))
        .unwrap_err();
        let closest = free.ranked.iter().find(|c| value(c) == best).unwrap();
        assert!(
            matches!(&err, Error::BelowMinQuality { closest: m, .. } if *m == closest.model),
            "{prompt}: {err}"
        );
        assert!(err.to_string().contains(&closest.model), "{err}");
    }
    for bad in [-0.1, 1.5, f64::NAN] {
        let options = RouteOptions {
            min_quality: Some(bad),
            ..Default::default()
        };
        let err = router.route("hello", &options).unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidOption {
                    name: "minQuality",
                    ..
                }
            ),
            "{bad}: {err}"
        );
    }
}

#[test]
fn allowed_models_and_a_preference_for_local_ones_are_one_policy() {
    let router = common::router();
    let pool = router.pool();
    let local = |id: &str| routoo::endpoint::is_loopback(&pool.model(id).unwrap().base_url);
    let some_local = pool.models.iter().filter(|m| local(&m.id)).count();
    assert!(
        some_local > 0,
        "the default pool has models on this machine"
    );
    for prompt in common::prompts() {
        let prediction = router.predict(&prompt).unwrap();
        let free = router
            .decide(&prediction, &RouteOptions::default())
            .unwrap();
        // The best model is an API one: preferring local models moves one first, keeps
        // every model, and says so.
        let preferred = RouteOptions {
            prefer_local: Some(true),
            ..Default::default()
        };
        let d = router.decide(&prediction, &preferred).unwrap();
        assert!(local(&d.choice.model), "{prompt}: {}", d.choice.model);
        assert_eq!(d.ranked.len(), free.ranked.len());
        let first_remote = d.ranked.iter().position(|c| !local(&c.model)).unwrap();
        assert!(d.ranked[first_remote..].iter().all(|c| !local(&c.model)));
        if !local(&free.choice.model) {
            assert_eq!(d.rule, Rule::Local);
            assert!(d.why.contains("local models are preferred"), "{}", d.why);
        }
        // The local ones keep the order the budget gave them.
        let order: Vec<&str> = free
            .ranked
            .iter()
            .filter(|c| local(&c.model))
            .map(|c| c.model.as_str())
            .collect();
        let kept: Vec<&str> = d.ranked[..first_remote]
            .iter()
            .map(|c| c.model.as_str())
            .collect();
        assert_eq!(order, kept);
        // Only the models allowed are ranked; the others are left out saying so.
        let allowed: Vec<String> = free
            .ranked
            .iter()
            .rev()
            .take(2)
            .map(|c| c.model.clone())
            .collect();
        let only = RouteOptions {
            constraints: Constraints {
                models: Some(allowed.clone()),
                ..Default::default()
            },
            ..Default::default()
        };
        let d = router.decide(&prediction, &only).unwrap();
        let mut ranked: Vec<String> = d.ranked.iter().map(|c| c.model.clone()).collect();
        ranked.sort();
        let mut want = allowed.clone();
        want.sort();
        assert_eq!(ranked, want);
        assert!(d
            .excluded
            .iter()
            .filter(|e| !allowed.contains(&e.model))
            .all(|e| e.reason == Reason::NotAllowed));
    }
    let bad = RouteOptions {
        constraints: Constraints {
            models: Some(vec!["gpt-99".into()]),
            ..Default::default()
        },
        ..Default::default()
    };
    let err = router.route("hello", &bad).unwrap_err();
    assert!(
        matches!(err, Error::InvalidOption { name: "models", .. }),
        "{err}"
    );
    assert!(err.to_string().contains("gpt-99"), "{err}");
    let cap = RouteOptions {
        max_cost: Some(-1.0),
        ..Default::default()
    };
    assert!(matches!(
        router.route("hello", &cap).unwrap_err(),
        Error::InvalidOption {
            name: "maxCost",
            ..
        }
    ));
}

#[test]
fn a_request_with_tools_or_a_schema_goes_only_to_models_that_take_them() {
    use routoo::chat::{OutputSchema, Tool, ToolChoice, Toolset};
    use routoo::Conversation;
    let router = common::router();
    let pool = router.pool();
    let tool: Tool = serde_json::from_value(serde_json::json!({"type": "function", "function": {
        "name": "weather", "parameters": {"type": "object"}}}))
    .unwrap();
    let schema = OutputSchema {
        name: "answer".into(),
        schema: serde_json::json!({"type": "object"}),
    };
    for (toolset, need) in [
        (
            Toolset::new(vec![tool.clone()], ToolChoice::Auto, None),
            Capability::Tools,
        ),
        (
            Toolset::new(vec![], ToolChoice::Auto, Some(schema)),
            Capability::StructuredOutput,
        ),
    ] {
        let chat =
            Conversation::from_prompt("What is the weather in Paris?").with_tools(toolset.unwrap());
        let d = router
            .route_conversation(&chat, &RouteOptions::default())
            .unwrap();
        for c in &d.ranked {
            assert!(
                pool.model(&c.model).unwrap().supports.contains(&need),
                "{}",
                c.model
            );
        }
        let unable: Vec<&str> = (pool.models.iter())
            .filter(|m| !m.supports.contains(&need))
            .map(|m| m.id.as_str())
            .collect();
        assert!(
            !unable.is_empty(),
            "the default pool has models that cannot"
        );
        for id in unable {
            let e = d.excluded.iter().find(|e| e.model == id).unwrap();
            assert_eq!(e.reason, Reason::Unsupported { need }, "{id}");
        }
    }
    // Offering tools but forbidding their use needs nothing.
    let none = Toolset::new(vec![tool], ToolChoice::None, None).unwrap();
    let chat = Conversation::from_prompt("Hi").with_tools(none);
    let d = router
        .route_conversation(&chat, &RouteOptions::default())
        .unwrap();
    assert!(d
        .excluded
        .iter()
        .all(|e| !matches!(e.reason, Reason::Unsupported { .. })));
}

/// No regret at the top, and at every single model's cost, by construction (issue 23): what the
/// margin guarantees when each prediction lies within its stated standard deviation of the
/// truth.
mod regret {
    use super::*;
    use routoo::eval::{evaluate, Inputs, Point};
    use routoo::Basis;

    /// The upper hull of the curve at a mean cost: the best accuracy a mix of two neighbouring
    /// λ (the AIQ's hull) reaches for `cost`; −∞ when every point costs more.
    fn hull_at(curve: &[Point], cost: f64) -> f64 {
        let mut best = f64::NEG_INFINITY;
        for a in curve.iter().filter(|p| p.mean_cost <= cost) {
            best = best.max(a.accuracy);
            for b in curve.iter().filter(|p| p.mean_cost > cost) {
                let t = (cost - a.mean_cost) / (b.mean_cost - a.mean_cost);
                best = best.max(a.accuracy + t * (b.accuracy - a.accuracy));
            }
        }
        best
    }

    /// Copies of each question, so that a model right on `k` of them has exactly the known
    /// chance `k / COPIES`, and a routing's accuracy is its expected accuracy (the copies of a
    /// question look alike, so the router sends them all to one model).
    const COPIES: usize = 8;

    /// A question: its prompt's length, and per model (right on k of the copies, stated sd,
    /// error as a share of that sd).
    type Question = (usize, Vec<(usize, f64, f64)>);

    prop_compose! {
        /// A table with known answers: per question, each model's true chance (in eighths),
        /// the prediction's stated sd and its error within it, and the prompt's length.
        fn known_table()(models in 2usize..6)(
            prices in prop::collection::vec((0.05..30.0f64, 0.0..60.0f64), models),
            questions in prop::collection::vec(
                (1usize..6000, prop::collection::vec((0..=COPIES, 0.0..0.2f64, -1.0..1.0f64), models)),
                1..25,
            ),
            kappa in prop::sample::select(vec![0.0, 0.5, 1.0, 2.0_f64.sqrt(), 3.0]),
            floors in prop::collection::vec(prop::sample::select(vec![0.0, 0.0, 0.02, 0.1, 1.0]), 36),
            // Some pairs compared by labels, which may name another incumbent than the average.
            leads in prop::collection::vec(prop::option::of(-0.3..0.3f64), 36),
            // The incumbent at each trade-off, or the top one throughout.
            tradeoff in any::<bool>(),
        ) -> Inputs {
            let pool = Pool {
                expected_output_tokens: 200,
                models: prices.iter().enumerate().map(|(i, p)| model(i, p.0, p.1, 1_000_000, 100)).collect(),
            };
            let rows: Vec<&Question> =
                questions.iter().flat_map(|q| std::iter::repeat_n(q, COPIES)).collect();
            let mut inputs = Inputs {
                billing: Vec::new(),
                chars: rows.iter().map(|q| q.0).collect(),
                correct: questions.iter().flat_map(|q| (0..COPIES).map(move |copy| {
                    q.1.iter().map(|m| copy < m.0).collect::<Vec<bool>>()
                })).collect(),
                // The router knows what each answer costs: no estimate misorders the models.
                cost: rows.iter().map(|q| pool.models.iter()
                    .map(|m| routoo::cost::estimate(&pool, m, q.0, None).usd).collect()).collect(),
                quality: rows.iter().map(|q| q.1.iter().map(|m| {
                    let p = m.0 as f64 / COPIES as f64;
                    (p + m.2 * m.1).clamp(0.0, 1.0)
                }).collect()).collect(),
                sd: rows.iter().map(|q| q.1.iter().map(|m| m.1).collect()).collect(),
                pool,
                margin: Margin::default(),
            };
            let estimates: Vec<Vec<Estimate>> = (0..rows.len()).map(|r| inputs.estimates(r)).collect();
            let k = inputs.pool.models.len();
            let lead = |m: usize, b: usize| match m.cmp(&b) {
                std::cmp::Ordering::Less => leads[m * 6 + b],
                std::cmp::Ordering::Greater => leads[b * 6 + m].map(|d| -d),
                std::cmp::Ordering::Equal => None,
            };
            inputs.margin = Margin::over(kappa, &estimates)
                .with_floors((0..k).map(|m| (0..k).map(|b| floors[m * 6 + b]).collect()).collect())
                .with_lead((0..k).map(|m| (0..k).map(|b| lead(m, b)).collect()).collect());
            if tradeoff {
                let n = inputs.cost.len() as f64;
                let mean = (0..k).map(|m| inputs.cost.iter().map(|c| c[m]).sum::<f64>() / n);
                inputs.margin = inputs.margin.with_costs(mean.collect());
            }
            inputs
        }
    }

    proptest! {
        /// At each single model's cost the budget curve (mixing neighbouring λ, as the AIQ's
        /// hull does) is at most B_m below that model, where B_m is the mean over rows of m's
        /// stated sd and margin plus the largest stated sd: with exact predictions and no
        /// margin, never below it at all.
        #[test]
        fn the_budget_curve_never_falls_below_a_single_model_by_more_than_its_bound(inputs in known_table()) {
            let report = evaluate(&inputs);
            let n = inputs.correct.len() as f64;
            let all: Vec<usize> = (0..inputs.pool.models.len()).collect();
            for (m, model) in inputs.pool.models.iter().enumerate() {
                let mut bound = 0.0;
                for r in 0..inputs.correct.len() {
                    let estimates = inputs.estimates(r);
                    let handicap = inputs.margin.handicaps(&estimates, &all)[m];
                    let widest = inputs.sd[r].iter().copied().fold(0.0, f64::max);
                    bound += (inputs.sd[r][m] + handicap + widest) / n;
                }
                let single = report.models[&model.id];
                let router = hull_at(&report.curve, single.mean_cost * (1.0 + 1e-12));
                prop_assert!(
                    router >= single.accuracy - bound - 1e-9,
                    "{}: router {router} at its cost {}, the model {}, bound {bound}; curve {:?}",
                    model.id, single.mean_cost, single.accuracy, report.curve
                );
            }
        }

        /// At λ = 0 the router keeps its incumbent unless another is predicted better by more
        /// than κ·√(sd² + sd_best²); with κ ≥ √2 and errors within the stated
        /// sd, whatever it picks instead is truly no worse on any row.
        #[test]
        fn at_the_top_the_router_never_loses_to_its_incumbent_when_the_errors_are_within_the_margin(
            inputs in known_table()
        ) {
            let k = inputs.pool.models.len();
            let all: Vec<usize> = (0..k).collect();
            let best = inputs.margin.incumbent(&all).unwrap();
            let none = Constraints::default();
            for r in 0..inputs.correct.len() {
                let estimates = inputs.estimates(r);
                let (ranked, _) = rank(&inputs.pool, &estimates, inputs.chars[r], 0.0, &inputs.margin, &none);
                let pick = inputs.pool.models.iter().position(|m| m.id == ranked[0].model).unwrap();
                if pick == best {
                    continue;
                }
                let (q, sd) = (&inputs.quality[r], &inputs.sd[r]);
                let bound = inputs.margin.kappa * sd[pick].hypot(sd[best]);
                prop_assert!(q[pick] - bound >= q[best] - 1e-12, "row {r}: left {best} for {pick} within the bound");
                if inputs.margin.kappa >= 2.0_f64.sqrt() - 1e-12 {
                    // Each copy's answer is its question's known chance, so compare chances.
                    let chance = |m: usize| (r - r % COPIES..r - r % COPIES + COPIES)
                        .filter(|&c| inputs.correct[c][m]).count();
                    prop_assert!(chance(pick) >= chance(best), "row {r}: {pick} is truly worse than {best}");
                }
            }
        }
    }

    /// A row: its prompt's length, and per model (right, predicted quality, the estimate's
    /// error as a share of `err`, in [−1, 1]).
    type Row = (usize, Vec<(bool, f64, f64)>);

    /// A table whose costs the router estimates within a relative error `err` of the truth:
    /// each model's estimate on a row is its true cost (at list prices) times 1 + err·e, with
    /// e in [−1, 1] given per row and model. The incumbent changes with the trade-off, by mean
    /// estimated cost.
    fn misestimated(prices: &[(f64, f64)], rows: &[Row], err: f64, cost_margin: f64) -> Inputs {
        let pool = Pool {
            expected_output_tokens: 200,
            models: (prices.iter().enumerate())
                .map(|(i, p)| model(i, p.0, p.1, 1_000_000, 100))
                .collect(),
        };
        let k = prices.len();
        // The estimate's error, carried as the billing the router reads.
        let billing = |f: f64| routoo::cost::Billing {
            input_scale: f,
            input_tokens: 0.0,
            output_tokens: 200.0 * f,
        };
        let mut inputs = Inputs {
            billing: (rows.iter())
                .map(|r| {
                    (0..k)
                        .map(|m| Some(billing(1.0 + err * r.1[m].2)))
                        .collect()
                })
                .collect(),
            chars: rows.iter().map(|r| r.0).collect(),
            correct: rows
                .iter()
                .map(|r| r.1.iter().map(|m| m.0).collect())
                .collect(),
            cost: (rows.iter())
                .map(|r| {
                    (pool.models.iter())
                        .map(|m| routoo::cost::estimate(&pool, m, r.0, None).usd)
                        .collect()
                })
                .collect(),
            quality: rows
                .iter()
                .map(|r| r.1.iter().map(|m| m.1).collect())
                .collect(),
            sd: rows.iter().map(|r| vec![0.05; r.1.len()]).collect(),
            pool,
            margin: Margin::default(),
        };
        let estimates: Vec<Vec<Estimate>> = (0..rows.len()).map(|r| inputs.estimates(r)).collect();
        let n = rows.len().max(1) as f64;
        let mean: Vec<f64> = (0..k)
            .map(|m| {
                (0..rows.len())
                    .map(|r| estimate_of(&inputs, r, m))
                    .sum::<f64>()
                    / n
            })
            .collect();
        inputs.margin = Margin::over(1.0, &estimates)
            .with_costs(mean)
            .with_cost_margin(cost_margin);
        inputs
    }

    /// The router's estimated US$ for model `m` on row `r`.
    fn estimate_of(inputs: &Inputs, r: usize, m: usize) -> f64 {
        let billing = inputs.billing[r][m];
        routoo::cost::estimate(
            &inputs.pool,
            &inputs.pool.models[m],
            inputs.chars[r],
            billing,
        )
        .usd
    }

    /// The cheapest point of the curve, and the true mean cost of the incumbent at λ = ∞ (the
    /// model cheapest by mean estimate).
    fn bottom(inputs: &Inputs) -> (f64, f64) {
        let report = evaluate(inputs);
        let cheapest = (report.curve.iter().map(|p| p.mean_cost)).fold(f64::INFINITY, f64::min);
        let all: Vec<usize> = (0..inputs.pool.models.len()).collect();
        let last = inputs
            .margin
            .incumbents(&all)
            .last()
            .and_then(|i| i.1)
            .unwrap();
        (
            cheapest,
            report.models[&inputs.pool.models[last].id].mean_cost,
        )
    }

    #[test]
    fn a_cost_margin_keeps_the_cheapest_model_at_the_bottom_where_estimates_cannot_order_costs() {
        // Two models a few per cent apart in price, each estimated 3 % off on alternate rows:
        // on every other row the dearer one looks cheaper.
        let prices = [(1.00, 1.00), (1.02, 1.02)];
        let rows: Vec<Row> = (0..40)
            .map(|r| {
                let sign = if r % 2 == 0 { 1.0 } else { -1.0 };
                (400, vec![(r % 3 == 0, 0.4, sign), (r % 2 == 0, 0.5, -sign)])
            })
            .collect();
        let (without, cheapest) = bottom(&misestimated(&prices, &rows, 0.03, 0.0));
        assert!(
            without > cheapest * (1.0 + 1e-9),
            "without a margin the bottom mixes in the dearer model: {without} against {cheapest}"
        );
        let (with, cheapest) = bottom(&misestimated(&prices, &rows, 0.03, 0.07));
        assert!(
            with <= cheapest * (1.0 + 1e-12),
            "with one the bottom is the cheapest model: {with} against {cheapest}"
        );
    }

    prop_compose! {
        /// Prices, rows of (right, predicted quality, estimate error in [−1, 1]) per model, the
        /// estimate's relative error and a cost margin wide enough for it.
        fn misestimated_table()(models in 2usize..6)(
            prices in prop::collection::vec((0.05..3.0f64, 0.0..6.0f64), models),
            rows in prop::collection::vec(
                (1usize..6000, prop::collection::vec((any::<bool>(), 0.0..1.0f64, -1.0..1.0f64), models)),
                1..30,
            ),
            err in 0.0..0.1f64,
        ) -> Inputs {
            // (1 − err)(1 + margin) ≥ 1 + err: a challenger that looks cheaper by the margin is.
            let margin = (1.0 + err) / (1.0 - err) - 1.0;
            misestimated(&prices, &rows, err, margin)
        }
    }

    proptest! {
        /// With a cost margin at least the estimate's error, a model leaves the incumbent at
        /// λ = ∞ only for one truly cheaper on that row, so the curve's cheapest point never
        /// costs more than that incumbent: the curve has a point at its cost.
        #[test]
        fn with_a_cost_margin_the_curve_reaches_down_to_the_incumbent_at_the_bottom(
            inputs in misestimated_table()
        ) {
            let (bottom, incumbent) = bottom(&inputs);
            prop_assert!(bottom <= incumbent * (1.0 + 1e-9), "{bottom} above {incumbent}");
        }
    }

    /// The acceptance test of issue 23 on the committed bundle: at λ = 0, among the models it
    /// has labels for, the router picks its incumbent (the best on average over its reference
    /// prompts, where the labels do not compare two models; where they do, the one they put
    /// ahead) unless another's predicted gain clears κ standard deviations of the difference;
    /// and on some prompt the bound keeps it there although another model is predicted better.
    #[test]
    fn at_lambda_zero_the_real_router_keeps_its_best_model_unless_the_gain_clears_its_bound() {
        let router = common::router();
        let pool = router.pool();
        let labelled: Vec<usize> = (router.bases().iter().enumerate())
            .filter(|(_, b)| matches!(b, Basis::Labels { .. }))
            .map(|(i, _)| i)
            .collect();
        assert!(labelled.len() >= 3, "{labelled:?}");
        let margin = router.margin();
        let kappa = margin.kappa;
        assert!(kappa > 0.0, "the bundle ships a margin");
        let best = margin.incumbent(&labelled).unwrap();
        let options = RouteOptions {
            lambda: Some(0.0),
            constraints: Constraints {
                models: Some(
                    labelled
                        .iter()
                        .map(|&i| pool.models[i].id.clone())
                        .collect(),
                ),
                ..Default::default()
            },
            ..Default::default()
        };
        let (mut held, mut left) = (0, 0);
        for prompt in common::prompts() {
            let prediction = router.predict(&prompt).unwrap();
            let e = router.pool_estimates(&prediction);
            let d = router.decide(&prediction, &options).unwrap();
            let value = |m: usize| {
                let handicap = if m == best {
                    0.0
                } else {
                    kappa * e[m].sd.hypot(e[best].sd)
                };
                e[m].quality - handicap
            };
            let top = labelled
                .iter()
                .copied()
                .map(value)
                .fold(f64::NEG_INFINITY, f64::max);
            let chosen = pool
                .models
                .iter()
                .position(|m| m.id == d.choice.model)
                .unwrap();
            assert!(
                (value(chosen) - top).abs() < 1e-9,
                "{prompt}: {} is not the top",
                d.choice.model
            );
            if chosen == best {
                let better = labelled.iter().any(|&m| e[m].quality > e[best].quality);
                held += usize::from(better);
            } else {
                assert!(
                    value(chosen) >= e[best].quality - 1e-12,
                    "{prompt}: left within the bound"
                );
                left += 1;
            }
        }
        assert!(
            held > 0,
            "the bound never held the best model against a model predicted better ({left} left it)"
        );
    }
}

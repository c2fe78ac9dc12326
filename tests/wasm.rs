//! The real bundle in headless Chromium: same predictions as native, same refusals.

#![cfg(target_arch = "wasm32")]

use routoo::{Constraints, Error, Pool, Predictor, RouteOptions, Router};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const MANIFEST: &[u8] = include_bytes!("../www/models/predictor.json");
const ENCODER: &[u8] = include_bytes!("../www/models/encoder.onnx");
const TOKENIZER: &[u8] = include_bytes!("../www/models/tokenizer.json");
const NEIGHBOURS: &[u8] = include_bytes!("../www/models/neighbours.bin");
const PROMPTS: &str = include_str!("fixtures/prompts.json");
const EXPECTED: &str = include_str!("fixtures/expected.json");

fn router() -> Router {
    let predictor = Predictor::from_bytes(MANIFEST, ENCODER, TOKENIZER, NEIGHBOURS).unwrap();
    Router::new(predictor, Pool::default_pool().unwrap()).unwrap()
}

/// The fixture is the native build's output (`make fixtures`), checked natively within 1e-5;
/// 9e-5 here keeps native and wasm within 1e-4 of each other.
#[wasm_bindgen_test]
fn predictions_match_native() {
    let router = router();
    let prompts: serde_json::Value = serde_json::from_str(PROMPTS).unwrap();
    let expected: serde_json::Value = serde_json::from_str(EXPECTED).unwrap();
    let prompts = prompts["prompts"].as_array().unwrap();
    let expected = expected.as_array().unwrap();
    assert_eq!(prompts.len(), expected.len());
    let mut worst = 0.0f64;
    for (prompt, want) in prompts.iter().zip(expected) {
        let got = router.predict(prompt.as_str().unwrap()).unwrap();
        assert_eq!(got.truncated, want["truncated"].as_bool().unwrap());
        assert_eq!(got.tokens as u64, want["tokens"].as_u64().unwrap());
        let want_q = want["quality"].as_array().unwrap();
        assert!(got.quality.len() >= want_q.len());
        for (g, w) in got.quality.iter().zip(want_q) {
            assert_eq!(g.model, w["model"].as_str().unwrap());
            let delta = (g.quality - w["quality"].as_f64().unwrap()).abs();
            worst = worst.max(delta);
            assert!(delta <= 9e-5, "{}: |Δ| = {delta} for {prompt}", g.model);
        }
    }
    console_log!("largest |native - wasm| over the fixtures: {worst:e}");
}

#[wasm_bindgen_test]
fn bad_input_is_refused_in_the_browser_too() {
    let router = router();
    assert!(matches!(
        router.route("  ", &RouteOptions::default()),
        Err(Error::EmptyPrompt)
    ));
    let mut altered = ENCODER.to_vec();
    altered[1000] ^= 1;
    assert!(matches!(
        Predictor::from_bytes(MANIFEST, &altered, TOKENIZER, NEIGHBOURS),
        Err(Error::Checksum { .. })
    ));
    let long = "lorem ipsum dolor ".repeat(60_000);
    assert!(router.predict(&long).unwrap().truncated);
    // ~270k tokens: only the million-token windows fit, and this request leaves them out.
    let huge = router
        .pool()
        .models
        .iter()
        .filter(|m| m.context_window > 300_000);
    let options = RouteOptions {
        constraints: Constraints {
            exclude: huge.map(|m| m.id.clone()).collect(),
            ..Default::default()
        },
        ..Default::default()
    };
    assert!(matches!(
        router.route(&long, &options),
        Err(Error::NoCandidate(_))
    ));
}

//! The committed bundle: digests, tokenizer parity with Python, encoder vs fp32 reference,
//! predictions vs the fixture the browser tests compare against.

#![cfg(not(target_arch = "wasm32"))]

mod common;

use routoo::bundle::{sha256_hex, Manifest};

#[test]
fn bundle_files_match_their_recorded_sha256() {
    let manifest = Manifest::from_json(&common::read("www/models/predictor.json")).unwrap();
    for (file, expected) in [
        (&manifest.encoder.file, &manifest.encoder.sha256),
        (&manifest.tokenizer.file, &manifest.tokenizer.sha256),
    ] {
        let actual = sha256_hex(&common::read(&format!("www/models/{file}")));
        assert_eq!(&actual, expected, "{file} does not match predictor.json");
    }
}

#[test]
fn manifest_has_a_head_for_every_model_of_the_data() {
    let manifest = Manifest::from_json(&common::read("www/models/predictor.json")).unwrap();
    let models: serde_json::Value =
        serde_json::from_slice(&common::read("../shared/data/models.json")).unwrap_or_else(
            |_| serde_json::json!({"models": []}), // the shared folder may be absent
        );
    for m in models["models"].as_array().into_iter().flatten() {
        let id = m["id"].as_str().unwrap();
        assert!(manifest.head(id).is_some(), "no head for {id}");
    }
    assert_eq!(manifest.reference.quality.len(), manifest.heads.len());
    assert!(!manifest.reference.chars.is_empty());
}

#[test]
fn tokenizer_matches_python() {
    let router = common::router();
    let expected = common::fixture("tokens.json");
    let prompts = common::prompts();
    let expected = expected["tokens"].as_array().unwrap();
    assert_eq!(expected.len(), prompts.len());
    let mut truncated_seen = false;
    for (prompt, want) in prompts.iter().zip(expected) {
        let (ids, truncated) = router.predictor().tokenize(prompt).unwrap();
        let want_ids: Vec<u32> = serde_json::from_value(want["ids"].clone()).unwrap();
        assert_eq!(ids, want_ids, "token ids differ for {prompt:?}");
        assert_eq!(
            truncated,
            want["truncated"].as_bool().unwrap(),
            "{prompt:?}"
        );
        truncated_seen |= truncated;
    }
    assert!(truncated_seen, "the fixtures must exercise truncation");
}

/// `embeddings.json` holds z from the same graph run by onnxruntime (`training/train.py`).
#[test]
fn encoder_matches_onnxruntime() {
    let router = common::router();
    let reference = common::fixture("embeddings.json");
    for (prompt, want) in common::prompts()
        .iter()
        .zip(reference["embeddings"].as_array().unwrap())
    {
        let want: Vec<f32> = serde_json::from_value(want.clone()).unwrap();
        let (got, _, _) = router.predictor().embed(prompt).unwrap();
        assert_eq!(got.len(), want.len());
        let worst = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(worst <= 1e-4, "|Δz| {worst} for {prompt:?}");
    }
}

/// `python.json` is what `training/train.py` predicts for the fixture prompts: the Rust
/// predictor must compute the same qualities.
#[test]
fn predictions_match_python() {
    let router = common::router();
    let python = common::fixture("python.json");
    let models: Vec<String> = serde_json::from_value(python["models"].clone()).unwrap();
    let rows = python["quality"].as_array().unwrap();
    let prompts = common::prompts();
    assert_eq!(rows.len(), prompts.len());
    let mut worst = 0.0f64;
    for (prompt, want) in prompts.iter().zip(rows) {
        let got = router.predict(prompt).unwrap();
        let want: Vec<f64> = serde_json::from_value(want.clone()).unwrap();
        assert_eq!(got.quality.len(), models.len());
        for ((g, id), w) in got.quality.iter().zip(&models).zip(&want) {
            assert_eq!(&g.model, id);
            worst = worst.max((g.quality - w).abs());
            assert!(
                (g.quality - w).abs() <= 1e-4,
                "{id}: Rust {} vs Python {w} for {prompt:?}",
                g.quality
            );
        }
    }
    eprintln!("largest |Rust − Python| over the fixtures: {worst:e}");
}

/// `tests/fixtures/expected.json` is this build's output (`make fixtures`); the browser tests
/// hold the wasm build to it within 9e-5, so native and wasm agree within 1e-4.
#[test]
fn predictions_match_the_native_fixture() {
    let router = common::router();
    let expected = common::fixture("expected.json");
    let expected = expected.as_array().unwrap();
    let prompts = common::prompts();
    assert_eq!(expected.len(), prompts.len());
    for (prompt, want) in prompts.iter().zip(expected) {
        let got = router.predict(prompt).unwrap();
        let want_q = want["quality"].as_array().unwrap();
        assert_eq!(got.quality.len(), want_q.len());
        for (g, w) in got.quality.iter().zip(want_q) {
            assert_eq!(g.model, w["model"].as_str().unwrap());
            let w = w["quality"].as_f64().unwrap();
            assert!(
                (g.quality - w).abs() <= 1e-5,
                "{}: {} vs fixture {w} for {prompt:?}",
                g.model,
                g.quality
            );
        }
        assert_eq!(got.truncated, want["truncated"].as_bool().unwrap());
    }
}

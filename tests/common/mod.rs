//! Shared by the native test files: the committed bundle and fixtures.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

use routoo::{Pool, Predictor, Router};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn models_dir() -> PathBuf {
    root().join("www/models")
}

pub fn read(path: &str) -> Vec<u8> {
    let path = root().join(path);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

pub fn fixture(name: &str) -> serde_json::Value {
    serde_json::from_slice(&read(&format!("tests/fixtures/{name}")))
        .unwrap_or_else(|e| panic!("fixture {name} is not JSON: {e}"))
}

pub fn prompts() -> Vec<String> {
    serde_json::from_value(fixture("prompts.json")["prompts"].clone())
        .unwrap_or_else(|e| panic!("prompts.json: {e}"))
}

/// The committed bundle, loaded once per test binary (tract optimises the graph on load).
pub fn router() -> &'static Router {
    static ROUTER: OnceLock<Router> = OnceLock::new();
    ROUTER.get_or_init(|| {
        let predictor = Predictor::from_dir(models_dir())
            .unwrap_or_else(|e| panic!("the committed bundle does not load: {e}"));
        Router::new(predictor, Pool::default_pool())
            .unwrap_or_else(|e| panic!("the default pool does not fit the bundle: {e}"))
    })
}

/// A ranked candidate with made-up figures, for tests of what happens after ranking.
pub fn candidate(model: &str, provider: &str, quality: f64, usd: f64) -> routoo::Candidate {
    routoo::Candidate {
        model: model.into(),
        provider: provider.into(),
        quality,
        cost: routoo::cost::CostEstimate {
            input_tokens: 1,
            output_tokens: 1,
            usd,
        },
        score: quality,
    }
}

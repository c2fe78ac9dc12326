//! The predictor on arbitrary Unicode: an estimate in [0, 1] with a finite spread for every
//! model, or a typed error (an empty prompt); never a panic.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use routoo::Predictor;

fn predictor() -> &'static Predictor {
    static P: OnceLock<Predictor> = OnceLock::new();
    P.get_or_init(|| {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../www/models");
        Predictor::from_dir(dir).unwrap_or_else(|e| panic!("the bundle in {dir}: {e}"))
    })
}

fuzz_target!(|data: &[u8]| {
    let prompt = String::from_utf8_lossy(data);
    if let Ok(p) = predictor().predict(&prompt) {
        for q in &p.quality {
            assert!((0.0..=1.0).contains(&q.quality) && q.sd.is_finite() && q.sd >= 0.0);
        }
    }
});

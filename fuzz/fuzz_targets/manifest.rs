//! `predictor.json` on arbitrary bytes: parsed and checked, never a panic; a manifest that
//! passes its checks names sizes that fit in memory.
#![no_main]

use libfuzzer_sys::fuzz_target;
use routoo::bundle::Manifest;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Manifest::from_json(data) {
        let _ = m.neighbours.file_len(m.encoder.dim, m.heads.len());
        assert!(m.selection.margin.is_finite() && m.selection.margin >= 0.0);
    }
});

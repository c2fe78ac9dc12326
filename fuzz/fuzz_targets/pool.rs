//! A pool (what a user pastes or stores) on arbitrary text: an error or a pool whose every
//! model has a base URL that parses, within the model count, and admits its own entries.
#![no_main]

use libfuzzer_sys::fuzz_target;
use routoo::endpoint::Endpoint;
use routoo::Pool;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(pool) = Pool::from_json(text) {
        assert!(pool.models.len() <= routoo::bounded::MAX_MODELS);
        for m in &pool.models {
            assert!(Endpoint::parse(&m.base_url).is_ok());
            // Its own entries are admitted as they are, and never at a lower price.
            assert!(pool.admit(m).is_ok());
            let cheaper = routoo::PoolModel {
                price_in: m.price_in - 1.0,
                ..m.clone()
            };
            assert!(pool.admit(&cheaper).is_err());
        }
    }
});

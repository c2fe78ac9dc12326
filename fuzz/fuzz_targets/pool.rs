//! A pool (what a user pastes or stores) on arbitrary text: an error or a pool whose every
//! model has a base URL that parses.
#![no_main]

use libfuzzer_sys::fuzz_target;
use routoo::endpoint::Endpoint;
use routoo::Pool;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(pool) = Pool::from_json(text) {
        for m in &pool.models {
            assert!(Endpoint::parse(&m.base_url).is_ok());
        }
    }
});

//! Base URLs and key bindings on arbitrary text: a URL that passes is https or loopback http
//! with no user info, and a key bound to it goes to that origin only.
#![no_main]

use libfuzzer_sys::fuzz_target;
use routoo::endpoint::{is_loopback, Endpoint};
use routoo::provider::{ApiKey, Keys};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(e) = Endpoint::parse(text) {
        let origin = e.origin();
        assert!(origin.starts_with("https://") || (origin.starts_with("http://") && e.is_loopback()));
        assert!(!origin.contains('@'));
        assert_eq!(is_loopback(text), e.is_loopback());
        let mut keys = Keys::new();
        if keys.insert(text, ApiKey::new("k")).is_ok() {
            assert!(keys.for_base_url(text).is_some());
        }
    }
    let mut keys = Keys::new();
    let _ = keys.insert("openai", ApiKey::new(text));
});

//! A heads file (what a user imports or stores) on arbitrary text: an error, or a file within
//! the count bound whose every head checks or is refused with an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use routoo::heads::HeadsFile;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(file) = HeadsFile::from_json(text) {
        assert!(file.heads.len() <= routoo::bounded::MAX_MODELS);
        assert!(file.calibrations.len() <= routoo::bounded::MAX_MODELS);
        for head in &file.heads {
            let _ = head.check(8);
        }
    }
});

//! The routing-table reader on arbitrary bytes: an error or a table whose rows all have one
//! label and one cost per model.
#![no_main]

use libfuzzer_sys::fuzz_target;
use routoo::eval::Table;

fuzz_target!(|data: &[u8]| {
    if let Ok(t) = Table::from_csv(data) {
        assert_eq!(t.labels.len(), t.prompts.len());
        for (labels, costs) in t.labels.iter().zip(&t.costs) {
            assert_eq!(labels.len(), t.models.len());
            assert_eq!(costs.len(), t.models.len());
        }
    }
});

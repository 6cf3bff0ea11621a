//! libFuzzer target: the SPF record parser and the `exp` text checker must
//! not panic on any bytes, errors must point inside the input, and a parsed
//! record must re-parse from its own text to the same terms.
#![no_main]

use authwarden_spf::{check_explanation, parse_record};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match parse_record(data) {
        Err(e) => assert!(e.position <= data.len()),
        Ok(rec) => {
            let again = parse_record(rec.text.as_bytes()).expect("a parsed record re-parses");
            assert_eq!(again.terms, rec.terms);
        }
    }
    let _ = check_explanation(&String::from_utf8_lossy(data));
});

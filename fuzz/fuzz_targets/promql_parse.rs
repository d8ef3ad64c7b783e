//! Parses arbitrary text as a PromQL expression: parsing never panics, errors name a
//! position, and a parsed expression prints to text that parses to the same print.
//!
//! Except around infinities: Prometheus prints the literal `Inf` as `+Inf`, and
//! `+Inf ^ 2` parses back as `+(Inf ^ 2)`, so such prints need only parse again.
#![no_main]

use cortex_core::promql::parser::parse_expr;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    match parse_expr(s) {
        Ok(e) => {
            let printed = e.to_string();
            let again = parse_expr(&printed).expect("printed expression parses");
            if !printed.contains("Inf") {
                assert_eq!(again.to_string(), printed);
            }
        }
        Err(err) => {
            assert!(err.to_string().contains(": parse error: "));
        }
    }
});

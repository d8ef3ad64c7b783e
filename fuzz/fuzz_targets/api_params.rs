//! Feeds arbitrary text to the query API's parameter parsers (times, durations,
//! `match[]` selectors) and to the pretty printer and syntax-tree JSON of whatever
//! parses: nothing panics, a parsed time or duration is what the same text gives on a
//! second parse, and the tree JSON is a well-formed object.
#![no_main]

use cortex_core::api::ast_json::translate;
use cortex_core::api::params::{parse_duration, parse_matchers_param, parse_time};
use cortex_core::promql::parser::parse_expr;
use cortex_core::promql::parser::pretty::pretty;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(t) = parse_time(s) {
        assert_eq!(parse_time(s), Ok(t));
    }
    if let Ok(d) = parse_duration(s) {
        assert_eq!(parse_duration(s), Ok(d));
    }
    let _ = parse_matchers_param(&[s.to_string()]);
    if let Ok(e) = parse_expr(s) {
        let p = pretty(&e);
        assert!(!p.is_empty());
        let json = translate(&e);
        assert!(json.starts_with('{') && json.ends_with('}'), "{json}");
    }
});

//! The `.test` language of Prometheus' PromQL conformance suite: parse a test file,
//! load its data into an in-memory store, run every `eval` against the engine and
//! report which passed.
//!
//! The rules follow Prometheus' reference runner: instant queries are also checked
//! with `@` pinned to the evaluation time (at other evaluation times), and as a
//! range query around the evaluation time; floats compare with a relative
//! tolerance of 1e-6.

mod compare;
mod load;
mod runner;
mod script;
mod series;

pub use runner::{CaseResult, ScriptStorage, run_script, run_script_with};
pub use script::{Command, Eval, Expected, LoadSeries, Matcher, parse_script};
pub use series::{SeqValue, StLine, parse_histogram, parse_series, parse_st_line};

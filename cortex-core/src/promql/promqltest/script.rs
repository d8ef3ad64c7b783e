//! Parsing `.test` files into commands: `load`/`load_with_nhcb`, `clear`, and
//! `eval instant`/`eval range` with their expectations.

use cortex_tsdb::labels::Labels;
use std::sync::LazyLock;

use regex::Regex;

use super::series::{SeqValue, parse_series, parse_st_line};
use crate::promql::parser::literal::{parse_duration, parse_number, unquote};

/// A test command.
#[derive(Debug, Clone)]
pub enum Command {
    /// Load series sampled every `interval_ms`.
    Load {
        /// Sample spacing.
        interval_ms: i64,
        /// Also convert classic histograms to native custom-bucket histograms.
        with_nhcb: bool,
        /// The series.
        series: Vec<LoadSeries>,
    },
    /// Drop all data.
    Clear,
    /// Evaluate and check.
    Eval(Box<Eval>),
}

/// A series of a `load` command.
#[derive(Debug, Clone)]
pub struct LoadSeries {
    /// The series labels.
    pub labels: Labels,
    /// Its values, one per load interval.
    pub values: Vec<SeqValue>,
    /// Start-timestamp offsets (ms, relative to each sample), from a preceding `@st`
    /// line.
    pub sts: Option<Vec<Option<i64>>>,
}

/// How an expected annotation or error message is matched.
#[derive(Debug, Clone)]
pub enum Matcher {
    /// Anything.
    Any,
    /// Exactly this text.
    Exact(String),
    /// This (unanchored) regular expression.
    Regex(Regex),
}

impl Matcher {
    /// True when `s` matches.
    pub fn matches(&self, s: &str) -> bool {
        match self {
            Matcher::Any => true,
            Matcher::Exact(m) => m == s,
            Matcher::Regex(r) => r.is_match(s),
        }
    }
}

/// The expected result of an eval.
#[derive(Debug, Clone, Default)]
pub enum Expected {
    /// No result lines: an empty vector or matrix.
    #[default]
    Empty,
    /// A scalar.
    Scalar(f64),
    /// A string.
    String(String),
    /// Series with their values, and their position among the result lines.
    Series(Vec<(Labels, Vec<SeqValue>, usize)>),
}

/// One eval command.
#[derive(Debug, Clone)]
pub struct Eval {
    /// The query.
    pub expr: String,
    /// 1-based line of the `eval` in the file.
    pub line: usize,
    /// Range query (`eval range`), else instant.
    pub range: bool,
    /// Evaluation time (instant) or range start (ms).
    pub start: i64,
    /// Range end (ms).
    pub end: i64,
    /// Range step (ms).
    pub step: i64,
    /// The query must fail (with a matching message, if given).
    pub fail: Option<Matcher>,
    /// At least one warning is required.
    pub warn: bool,
    /// At least one info note is required.
    pub info: bool,
    /// Every warning must match one of these, and each of these some warning.
    pub warn_matchers: Vec<Matcher>,
    /// The same for info notes.
    pub info_matchers: Vec<Matcher>,
    /// No warnings allowed.
    pub no_warn: bool,
    /// No info notes allowed.
    pub no_info: bool,
    /// Result order matters.
    pub ordered: bool,
    /// An instant query returning a range vector over this range.
    pub range_vector: bool,
    /// Do not re-check an instant query as a range query.
    pub exclude_from_range: bool,
    /// The expected result.
    pub expected: Expected,
}

/// Parses a test file.
pub fn parse_script(input: &str) -> Result<Vec<Command>, String> {
    let lines: Vec<String> = input
        .split('\n')
        .map(|l| {
            let t = l.trim();
            if t.starts_with('#') {
                String::new()
            } else {
                t.to_string()
            }
        })
        .collect();
    let mut cmds = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let l = &lines[i];
        if l.is_empty() {
            i += 1;
            continue;
        }
        let word = l
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        if word == "clear" {
            cmds.push(Command::Clear);
            i += 1;
        } else if word.starts_with("load") {
            let (cmd, next) = parse_load(&lines, i)?;
            cmds.push(cmd);
            i = next;
        } else if word.starts_with("eval") {
            let (cmd, next) = parse_eval(&lines, i)?;
            cmds.push(Command::Eval(Box::new(cmd)));
            i = next;
        } else {
            return Err(format!("line {}: invalid command {l:?}", i + 1));
        }
    }
    Ok(cmds)
}

fn parse_load(lines: &[String], i: usize) -> Result<(Command, usize), String> {
    let mut parts = lines[i].split_whitespace();
    let head = parts.next().unwrap_or("");
    let with_nhcb = head == "load_with_nhcb";
    let interval = parts
        .next()
        .ok_or_else(|| format!("line {}: invalid load command", i + 1))?;
    let interval_ms = parse_duration(interval).map_err(|e| format!("line {}: {e}", i + 1))?;
    let mut series = Vec::new();
    let mut pending: Option<(Labels, Vec<Option<i64>>, usize)> = None;
    let mut j = i + 1;
    while j < lines.len() && !lines[j].is_empty() {
        let line = &lines[j];
        j += 1;
        if let Some((labels, sts)) = parse_st_line(line).map_err(|e| format!("line {j}: {e}"))? {
            if pending.is_some() {
                return Err(format!("line {j}: @st line has no following sample line"));
            }
            pending = Some((labels, sts, j));
            continue;
        }
        let (labels, values) = parse_series(line).map_err(|e| format!("line {j}: {e}"))?;
        let sts = match pending.take() {
            None => None,
            Some((l, sts, at)) => {
                if l != labels {
                    return Err(format!(
                        "line {at}: @st metric does not match the following sample line metric"
                    ));
                }
                if sts.len() != values.len() {
                    return Err(format!(
                        "line {at}: @st line has {} values but sample line has {}",
                        sts.len(),
                        values.len()
                    ));
                }
                Some(sts)
            }
        };
        series.push(LoadSeries {
            labels,
            values,
            sts,
        });
    }
    if let Some((_, _, at)) = pending {
        return Err(format!("line {at}: @st line has no following sample line"));
    }
    Ok((
        Command::Load {
            interval_ms,
            with_nhcb,
            series,
        },
        j,
    ))
}

fn dur(s: &str, line: usize) -> Result<i64, String> {
    parse_duration(s).map_err(|e| format!("line {line}: {e}"))
}

fn parse_matcher(kind: &str, rest: &str) -> Result<Matcher, String> {
    let rest = rest.trim();
    if rest.is_empty() {
        return Ok(Matcher::Any);
    }
    if let Some(m) = rest.strip_prefix("msg:") {
        return Ok(Matcher::Exact(m.trim().to_string()));
    }
    if let Some(r) = rest.strip_prefix("regex:") {
        let re = Regex::new(r.trim()).map_err(|e| format!("invalid regex for {kind}: {e}"))?;
        return Ok(Matcher::Regex(re));
    }
    Err(format!("invalid expect statement {kind} {rest}"))
}

fn parse_eval(lines: &[String], i: usize) -> Result<(Eval, usize), String> {
    let l = &lines[i];
    let line = i + 1;
    let head = l.split_whitespace().next().unwrap_or("");
    let modifier = head
        .strip_prefix("eval")
        .unwrap_or("")
        .trim_start_matches('_');
    let mut ev = Eval {
        expr: String::new(),
        line,
        range: false,
        start: 0,
        end: 0,
        step: 0,
        fail: None,
        warn: modifier == "warn",
        info: modifier == "info",
        warn_matchers: Vec::new(),
        info_matchers: Vec::new(),
        no_warn: false,
        no_info: false,
        ordered: modifier == "ordered",
        range_vector: false,
        exclude_from_range: false,
        expected: Expected::Empty,
    };
    if modifier == "fail" {
        ev.fail = Some(Matcher::Any);
    }
    static INSTANT: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(r"^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$").ok()
    });
    static RANGE: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(
            r"^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$",
        )
        .ok()
    });
    let (Some(instant_re), Some(range_re)) = (INSTANT.as_ref(), RANGE.as_ref()) else {
        return Err("eval patterns do not compile".into());
    };
    if let Some(c) = instant_re.captures(l) {
        let t = c.get(2).map_or("", |m| m.as_str());
        ev.start = dur(t, line)?;
        ev.end = ev.start;
        ev.expr = c.get(3).map_or("", |m| m.as_str()).to_string();
    } else if let Some(c) = range_re.captures(l) {
        ev.range = true;
        ev.start = dur(&c[2], line)?;
        ev.end = dur(&c[3], line)?;
        ev.step = dur(&c[4], line)?;
        ev.expr = c[5].to_string();
    } else {
        return Err(format!("line {line}: invalid evaluation command"));
    }
    let mut series = Vec::new();
    let mut j = i + 1;
    while j < lines.len() && !lines[j].is_empty() {
        let d = &lines[j];
        j += 1;
        if ev.fail.is_some()
            && let Some(m) = d.strip_prefix("expected_fail_message")
        {
            ev.fail = Some(Matcher::Exact(m.trim().to_string()));
            break;
        }
        if ev.fail.is_some()
            && let Some(m) = d.strip_prefix("expected_fail_regexp")
        {
            let re = Regex::new(m.trim()).map_err(|e| format!("line {j}: {e}"))?;
            ev.fail = Some(Matcher::Regex(re));
            break;
        }
        if let Some(r) = d.strip_prefix("expect range vector") {
            let toks: Vec<&str> = r.split_whitespace().collect();
            if toks.len() != 6 {
                return Err(format!("line {j}: invalid range vector definition"));
            }
            ev.start = dur(toks[1], j)?;
            ev.end = dur(toks[3], j)?;
            ev.step = dur(toks[5], j)?;
            ev.range_vector = true;
            ev.exclude_from_range = true;
            continue;
        }
        if let Some(r) = d.strip_prefix("expect string") {
            let v = unquote(r.trim()).ok_or_else(|| format!("line {j}: bad expected string"))?;
            ev.expected = Expected::String(String::from_utf8_lossy(&v).into_owned());
            ev.exclude_from_range = true;
            continue;
        }
        if d.split(' ').next() == Some("expect") {
            let body = d["expect".len()..].trim();
            let (kind, rest) = body.split_once(char::is_whitespace).unwrap_or((body, ""));
            match kind {
                "fail" => ev.fail = Some(parse_matcher(kind, rest)?),
                "warn" => ev.warn_matchers.push(parse_matcher(kind, rest)?),
                "info" => ev.info_matchers.push(parse_matcher(kind, rest)?),
                "no_warn" => ev.no_warn = true,
                "no_info" => ev.no_info = true,
                "ordered" => ev.ordered = true,
                _ => return Err(format!("line {j}: invalid expected annotation type {kind}")),
            }
            continue;
        }
        if let Ok(f) = parse_number(d) {
            ev.expected = Expected::Scalar(f);
            break;
        }
        let (labels, vals) = parse_series(d).map_err(|e| format!("line {j}: {e}"))?;
        if vals.len() > 1 && !ev.range && !ev.range_vector {
            return Err(format!(
                "line {j}: expecting multiple values in instant evaluation not allowed"
            ));
        }
        series.push((labels, vals, series.len() + 1));
    }
    if !series.is_empty() {
        ev.expected = Expected::Series(series);
    }
    Ok((ev, j))
}

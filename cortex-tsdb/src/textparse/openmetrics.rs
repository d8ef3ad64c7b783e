//! A pull parser for the OpenMetrics text format, accepting exactly what Prometheus'
//! OpenMetrics parser accepts.
//!
//! Each call to [`OpenMetricsParser::next`] returns one line's entry: `# HELP`, `# TYPE`,
//! `# UNIT` metadata or a sample with optional timestamp (float seconds, turned into
//! milliseconds by truncation, as Prometheus does) and exemplar. Input must end with
//! `# EOF` (optionally followed by one newline) and nothing else. Label values unescape
//! `\"`, `\\` and `\n` only. Errors carry the line and column.

use std::borrow::Cow;
use std::fmt;

use super::parse_go_float;
use crate::labels::{LabelError, Labels, LabelsBuilder, METRIC_NAME};

/// The `# TYPE` of a metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricType {
    /// `counter`
    Counter,
    /// `gauge`
    Gauge,
    /// `histogram`
    Histogram,
    /// `gaugehistogram`
    GaugeHistogram,
    /// `summary`
    Summary,
    /// `info`
    Info,
    /// `stateset`
    Stateset,
    /// `unknown`
    Unknown,
}

/// A sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesEntry<'a> {
    /// The series as written (`name{a="b"}`), usable as a cache key for its labels.
    pub series: &'a str,
    /// The metric name.
    pub name: &'a str,
    /// Label name and raw (still escaped) value pairs, in written order.
    pub raw_labels: Vec<(&'a str, &'a str)>,
    /// The sample value.
    pub value: f64,
    /// The timestamp in milliseconds, if the line has one.
    pub timestamp: Option<i64>,
    /// The exemplar, if the line has one.
    pub exemplar: Option<Exemplar>,
}

/// An exemplar attached to a sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar {
    /// The exemplar's labels.
    pub labels: Labels,
    /// Its value.
    pub value: f64,
    /// Its timestamp in milliseconds, if given.
    pub timestamp: Option<i64>,
}

/// One entry of the input.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry<'a> {
    /// `# HELP name text` (text unescaped).
    Help {
        /// Metric family name.
        metric: &'a str,
        /// Help text.
        text: Cow<'a, str>,
    },
    /// `# TYPE name type`.
    Type {
        /// Metric family name.
        metric: &'a str,
        /// Its type.
        kind: MetricType,
    },
    /// `# UNIT name unit`.
    Unit {
        /// Metric family name.
        metric: &'a str,
        /// The unit, a suffix of the name.
        unit: &'a str,
    },
    /// A sample.
    Series(SeriesEntry<'a>),
}

/// Why the input is not valid OpenMetrics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct ParseError {
    /// 1-based line.
    pub line: usize,
    /// 1-based byte column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

/// Parses OpenMetrics text one entry at a time.
pub struct OpenMetricsParser<'a> {
    input: &'a str,
    pos: usize,
    line: usize,
    line_start: usize,
    done: bool,
}

impl<'a> SeriesEntry<'a> {
    /// The sample's label set, with `__name__` and unescaped values.
    pub fn labels(&self) -> Result<Labels, LabelError> {
        let mut b = LabelsBuilder::new();
        b.push(METRIC_NAME, self.name);
        for (n, v) in &self.raw_labels {
            b.push(n, &unescape_label_value(v));
        }
        b.build()
    }
}

impl<'a> OpenMetricsParser<'a> {
    /// A parser over `input`. Input that is not UTF-8 should be rejected by the caller
    /// (see [`OpenMetricsParser::from_bytes`]).
    pub fn new(input: &'a str) -> OpenMetricsParser<'a> {
        OpenMetricsParser {
            input,
            pos: 0,
            line: 1,
            line_start: 0,
            done: false,
        }
    }

    /// A parser over bytes, failing with the position of the first invalid UTF-8 byte.
    pub fn from_bytes(input: &'a [u8]) -> Result<OpenMetricsParser<'a>, ParseError> {
        match std::str::from_utf8(input) {
            Ok(s) => Ok(OpenMetricsParser::new(s)),
            Err(e) => {
                let at = e.valid_up_to();
                let line = 1 + input[..at].iter().filter(|b| **b == b'\n').count();
                let line_start = input[..at]
                    .iter()
                    .rposition(|b| *b == b'\n')
                    .map_or(0, |p| p + 1);
                Err(ParseError {
                    line,
                    column: at - line_start + 1,
                    message: "invalid UTF-8".into(),
                })
            }
        }
    }

    /// The next entry; `Ok(None)` after `# EOF`.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Entry<'a>>, ParseError> {
        if self.done {
            return Ok(None);
        }
        let rest = &self.input[self.pos..];
        if rest.is_empty() {
            return Err(self.err(self.pos, "data does not end with # EOF"));
        }
        if let Some(after) = rest.strip_prefix("# ") {
            return self.meta(after);
        }
        self.series().map(|s| Some(Entry::Series(s)))
    }

    fn meta(&mut self, after: &'a str) -> Result<Option<Entry<'a>>, ParseError> {
        let start = self.pos + 2;
        if let Some(tail) = after.strip_prefix("EOF") {
            let tail = tail.strip_prefix('\n').unwrap_or(tail);
            if !tail.is_empty() {
                return Err(self.err(self.input.len() - tail.len(), "unexpected data after # EOF"));
            }
            self.done = true;
            self.pos = self.input.len();
            return Ok(None);
        }
        let (kw, body) = match after.split_once(' ') {
            Some((kw @ ("HELP" | "TYPE" | "UNIT"), body)) => (kw, body),
            _ => return Err(self.err(start, "\"#\" comment is not HELP, TYPE, UNIT or EOF")),
        };
        let name_at = start + kw.len() + 1;
        let name_len = metric_name_len(body);
        if name_len == 0 {
            return Err(self.err(name_at, format!("expected metric name after {kw}")));
        }
        let metric = &body[..name_len];
        let after_name = &body[name_len..];
        let Some(text_and_rest) = after_name.strip_prefix(' ') else {
            return Err(self.err(name_at + name_len, format!("expected text in {kw}")));
        };
        let Some(nl) = text_and_rest.find('\n') else {
            return Err(self.err(self.input.len(), "data does not end with # EOF"));
        };
        let text = &text_and_rest[..nl];
        let text_at = name_at + name_len + 1;
        self.advance_line(text_at + nl + 1);
        let entry = match kw {
            "HELP" => Entry::Help {
                metric,
                text: unescape_help(text),
            },
            "TYPE" => Entry::Type {
                metric,
                kind: match text {
                    "counter" => MetricType::Counter,
                    "gauge" => MetricType::Gauge,
                    "histogram" => MetricType::Histogram,
                    "gaugehistogram" => MetricType::GaugeHistogram,
                    "summary" => MetricType::Summary,
                    "info" => MetricType::Info,
                    "stateset" => MetricType::Stateset,
                    "unknown" => MetricType::Unknown,
                    other => {
                        return Err(self.err_at(
                            self.line - 1,
                            text_at,
                            format!("invalid metric type {other:?}"),
                        ));
                    }
                },
            },
            _ => {
                let ok = text.is_empty()
                    || (metric.len() > text.len()
                        && metric.ends_with(text)
                        && metric.as_bytes()[metric.len() - text.len() - 1] == b'_');
                if !ok {
                    return Err(self.err_at(
                        self.line - 1,
                        text_at,
                        format!("unit not a suffix of metric {metric:?}"),
                    ));
                }
                Entry::Unit { metric, unit: text }
            }
        };
        Ok(Some(entry))
    }

    fn series(&mut self) -> Result<SeriesEntry<'a>, ParseError> {
        let start = self.pos;
        let line = &self.input[start..];
        let name_len = metric_name_len(line);
        if name_len == 0 {
            let c = line.chars().next().unwrap_or(' ');
            return Err(self.err(start, format!("{c:?} is not a valid start token")));
        }
        let name = &line[..name_len];
        let mut i = name_len;
        let mut raw_labels = Vec::new();
        if line[i..].starts_with('{') {
            i = self.label_list(start, i + 1, &mut raw_labels)?;
        }
        let series = &line[..i];
        let (value, ni) = self.number(start, i, "metric")?;
        i = ni;
        let mut timestamp = None;
        let mut exemplar = None;
        match self.peek_token(line, i) {
            Token::Newline => i += 1,
            Token::ExemplarStart => {
                i = self.exemplar(start, line, i, name, &mut exemplar)?;
            }
            Token::Field(len) => {
                timestamp = Some(self.timestamp(start, &line[i + 1..i + 1 + len])?);
                i += 1 + len;
                match self.peek_token(line, i) {
                    Token::Newline => i += 1,
                    Token::ExemplarStart => {
                        i = self.exemplar(start, line, i, name, &mut exemplar)?;
                    }
                    Token::End => return Err(self.err(start + i, "data does not end with # EOF")),
                    _ => return Err(self.err(start + i, "expected next entry after timestamp")),
                }
            }
            Token::End => return Err(self.err(start + i, "data does not end with # EOF")),
            Token::Other => return Err(self.err(start + i, "expected timestamp or # symbol")),
        }
        self.advance_line(start + i);
        Ok(SeriesEntry {
            series,
            name,
            raw_labels,
            value,
            timestamp,
            exemplar,
        })
    }

    /// Parses `name="value",...}` starting right after `{`; returns the index after `}`.
    fn label_list(
        &self,
        base: usize,
        mut i: usize,
        out: &mut Vec<(&'a str, &'a str)>,
    ) -> Result<usize, ParseError> {
        let line = &self.input[base..];
        let b = line.as_bytes();
        let mut first = true;
        loop {
            match b.get(i) {
                Some(b'}') => return Ok(i + 1),
                Some(b',') if !first => {
                    i += 1;
                    if label_name_len(&line[i..]) == 0 {
                        return Err(self.err(base + i, "expected label name"));
                    }
                }
                _ if first && label_name_len(&line[i..]) > 0 => {}
                _ if first => return Err(self.err(base + i, "expected label name or right brace")),
                _ if label_name_len(&line[i..]) > 0 => {
                    return Err(self.err(base + i, "expected comma"));
                }
                _ => return Err(self.err(base + i, "expected comma or right brace")),
            }
            first = false;
            let n = label_name_len(&line[i..]);
            let lname = &line[i..i + n];
            i += n;
            if b.get(i) != Some(&b'=') {
                return Err(self.err(base + i, "expected equal"));
            }
            i += 1;
            if b.get(i) != Some(&b'"') {
                return Err(self.err(base + i, "expected label value"));
            }
            i += 1;
            let vstart = i;
            loop {
                match b.get(i) {
                    Some(b'\\') if b.get(i + 1).is_some_and(|c| *c != b'\n') => i += 2,
                    Some(b'"') => break,
                    Some(b'\n') | Some(b'\\') | None => {
                        return Err(self.err(base + i, "unterminated label value"));
                    }
                    Some(_) => i += 1,
                }
            }
            out.push((lname, &line[vstart..i]));
            i += 1;
        }
    }

    /// Parses ` <float>` at `i`; returns the value and the index after it.
    fn number(&self, base: usize, i: usize, after: &str) -> Result<(f64, usize), ParseError> {
        let line = &self.input[base..];
        match self.peek_token(line, i) {
            Token::Field(len) => {
                let s = &line[i + 1..i + 1 + len];
                let v = parse_go_float(s)
                    .ok_or_else(|| self.err(base + i + 1, format!("invalid float {s:?}")))?;
                Ok((v, i + 1 + len))
            }
            Token::End => Err(self.err(base + i, "data does not end with # EOF")),
            _ => Err(self.err(base + i, format!("expected value after {after}"))),
        }
    }

    fn timestamp(&self, base: usize, s: &str) -> Result<i64, ParseError> {
        let at = base + (s.as_ptr() as usize - self.input[base..].as_ptr() as usize);
        let ts =
            parse_go_float(s).ok_or_else(|| self.err(at, format!("invalid timestamp {s:?}")))?;
        if !ts.is_finite() {
            return Err(self.err(at, "invalid timestamp"));
        }
        let ms = ts * 1000.0;
        if !(-9.2e18..=9.2e18).contains(&ms) {
            return Err(self.err(at, format!("timestamp {s} is out of range")));
        }
        Ok(ms as i64)
    }

    /// Parses ` # {labels} value [ts]` followed by a newline; returns the index after it.
    fn exemplar(
        &self,
        base: usize,
        line: &'a str,
        i: usize,
        name: &str,
        out: &mut Option<Exemplar>,
    ) -> Result<usize, ParseError> {
        if !(name.ends_with("_total") || name.ends_with("_bucket")) {
            return Err(self.err(
                base + i,
                format!("metric name {name} does not support exemplars"),
            ));
        }
        let mut raw = Vec::new();
        let mut j = self.label_list(base, i + 4, &mut raw)?;
        let (value, nj) = self.number(base, j, "exemplar labels")?;
        j = nj;
        let mut timestamp = None;
        match self.peek_token(line, j) {
            Token::Newline => j += 1,
            Token::Field(len) => {
                let t = self.timestamp(base, &line[j + 1..j + 1 + len])?;
                timestamp = Some(t);
                j += 1 + len;
                if self.peek_token(line, j) != Token::Newline {
                    return Err(self.err(base + j, "expected next entry after exemplar timestamp"));
                }
                j += 1;
            }
            Token::End => return Err(self.err(base + j, "data does not end with # EOF")),
            _ => return Err(self.err(base + j, "expected timestamp or comment")),
        }
        let mut b = LabelsBuilder::new();
        for (n, v) in raw {
            b.push(n, &unescape_label_value(v));
        }
        let labels = b.build().map_err(|e| self.err(base + i, e.to_string()))?;
        *out = Some(Exemplar {
            labels,
            value,
            timestamp,
        });
        Ok(j)
    }

    fn peek_token(&self, line: &str, i: usize) -> Token {
        let rest = &line.as_bytes()[i.min(line.len())..];
        match rest {
            [] => Token::End,
            [b'\n', ..] => Token::Newline,
            [b' ', b'#', b' ', b'{', ..] => Token::ExemplarStart,
            [b' ', tail @ ..] => {
                let len = tail
                    .iter()
                    .position(|c| *c == b' ' || *c == b'\n')
                    .unwrap_or(tail.len());
                if len == 0 {
                    Token::Other
                } else {
                    Token::Field(len)
                }
            }
            _ => Token::Other,
        }
    }

    fn advance_line(&mut self, to: usize) {
        self.pos = to;
        self.line += 1;
        self.line_start = to;
    }

    fn err(&self, at: usize, message: impl Into<String>) -> ParseError {
        self.err_at(self.line, at, message)
    }

    fn err_at(&self, line: usize, at: usize, message: impl Into<String>) -> ParseError {
        let line_start = self.input[..at.min(self.input.len())]
            .rfind('\n')
            .map_or(0, |p| p + 1);
        ParseError {
            line,
            column: at.saturating_sub(line_start) + 1,
            message: message.into(),
        }
    }
}

impl fmt::Debug for OpenMetricsParser<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenMetricsParser")
            .field("line", &self.line)
            .finish()
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Token {
    End,
    Newline,
    ExemplarStart,
    Field(usize),
    Other,
}

/// Length of a metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`) at the start of `s`.
fn metric_name_len(s: &str) -> usize {
    let b = s.as_bytes();
    match b.first() {
        Some(c) if c.is_ascii_alphabetic() || *c == b'_' || *c == b':' => {}
        _ => return 0,
    }
    1 + b[1..]
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_' || **c == b':')
        .count()
}

/// Length of a label name (`[a-zA-Z_][a-zA-Z0-9_]*`) at the start of `s`.
fn label_name_len(s: &str) -> usize {
    let b = s.as_bytes();
    match b.first() {
        Some(c) if c.is_ascii_alphabetic() || *c == b'_' => {}
        _ => return 0,
    }
    1 + b[1..]
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
        .count()
}

/// Unescapes `\"`, `\\` and `\n` in a label value; other backslashes stay as they are.
pub(crate) fn unescape_label_value(v: &str) -> Cow<'_, str> {
    unescape(v, true)
}

fn unescape_help(v: &str) -> Cow<'_, str> {
    unescape(v, true)
}

fn unescape(v: &str, quotes: bool) -> Cow<'_, str> {
    if !v.contains('\\') {
        return Cow::Borrowed(v);
    }
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.peek() {
                Some('\\') => {
                    out.push('\\');
                    chars.next();
                }
                Some('n') => {
                    out.push('\n');
                    chars.next();
                }
                Some('"') if quotes => {
                    out.push('"');
                    chars.next();
                }
                _ => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(input: &str) -> Result<Vec<Entry<'_>>, ParseError> {
        let mut p = OpenMetricsParser::new(input);
        let mut out = Vec::new();
        while let Some(e) = p.next()? {
            out.push(e);
        }
        Ok(out)
    }

    #[test]
    fn parses_metadata_samples_and_exemplars() {
        let input = "# TYPE http_requests counter\n# HELP http_requests Requests \\\"served\\\".\n# UNIT rpc_seconds seconds\nhttp_requests_total{job=\"api\",code=\"200\"} 10.0 1700000000\nhttp_requests_total 1.5e3 1700000000.5 # {trace_id=\"abc\"} 1 1700000000.25\nup 1\n# EOF\n";
        let entries = all(input).unwrap();
        assert_eq!(entries.len(), 6);
        assert_eq!(
            entries[0],
            Entry::Type {
                metric: "http_requests",
                kind: MetricType::Counter
            }
        );
        assert_eq!(
            entries[1],
            Entry::Help {
                metric: "http_requests",
                text: Cow::Borrowed("Requests \"served\".").into_owned().into()
            }
        );
        let Entry::Series(s) = &entries[3] else {
            panic!()
        };
        assert_eq!(
            s.labels().unwrap().to_string(),
            r#"{__name__="http_requests_total", code="200", job="api"}"#
        );
        assert_eq!((s.value, s.timestamp), (10.0, Some(1_700_000_000_000)));
        let Entry::Series(s) = &entries[4] else {
            panic!()
        };
        assert_eq!(s.timestamp, Some(1_700_000_000_500));
        let ex = s.exemplar.as_ref().unwrap();
        assert_eq!((ex.value, ex.timestamp), (1.0, Some(1_700_000_000_250)));
        let Entry::Series(s) = &entries[5] else {
            panic!()
        };
        assert_eq!(s.timestamp, None);
    }

    #[test]
    fn label_values_unescape_like_prometheus() {
        let e = all("a{x=\"q\\\"b\\\\s\\nn\\tt\"} 1\n# EOF").unwrap();
        let Entry::Series(s) = &e[0] else { panic!() };
        assert_eq!(s.labels().unwrap().get("x"), Some("q\"b\\s\nn\\tt"));
    }

    #[test]
    fn timestamps_truncate_like_go() {
        // 0.0015 s * 1000 = 1.5 ms → truncated to 1, and negative times toward zero.
        let e = all("a 1 0.0015\nb 1 -0.0015\n# EOF\n").unwrap();
        let ts: Vec<_> = e
            .iter()
            .map(|e| match e {
                Entry::Series(s) => s.timestamp,
                _ => None,
            })
            .collect();
        assert_eq!(ts, vec![Some(1), Some(-1)]);
    }

    #[test]
    fn invalid_input_is_an_error_with_position() {
        let cases = [
            ("", "does not end with # EOF"),
            ("a 1\n", "does not end with # EOF"),
            ("a 1\n# EOF\nb 2\n", "unexpected data after # EOF"),
            ("# random comment\n# EOF", "comment"),
            ("a{b=\"c\",} 1\n# EOF", "expected label name"),
            ("a{b=\"c\" d=\"e\"} 1\n# EOF", "expected comma"),
            ("a{1=\"c\"} 1\n# EOF", "expected label name"),
            ("a{b=c} 1\n# EOF", "expected label value"),
            ("a 1x\n# EOF", "invalid float"),
            ("a +NaN\n# EOF", "invalid float"),
            ("a 1 NaN\n# EOF", "invalid timestamp"),
            ("a 1 2 3\n# EOF", "expected next entry after timestamp"),
            ("a\n# EOF", "expected value after metric"),
            ("a 1 # {x=\"y\"} 1\n# EOF", "does not support exemplars"),
            ("# TYPE a foo\n# EOF", "invalid metric type"),
            ("# UNIT a_bytes seconds\n# EOF", "unit not a suffix"),
            ("9a 1\n# EOF", "not a valid start token"),
            ("a{b=\"c\n\"} 1\n# EOF", "unterminated"),
        ];
        for (input, want) in cases {
            let err = all(input).expect_err(input);
            assert!(err.message.contains(want), "{input:?}: got {err}");
        }
        let err = all("a 1\nb 2\nc x\n# EOF").unwrap_err();
        assert_eq!((err.line, err.column), (3, 3), "{err}");
    }

    #[test]
    fn duplicate_label_names_are_an_error_when_building_labels() {
        let e = all("a{x=\"1\",x=\"2\"} 1\n# EOF").unwrap();
        let Entry::Series(s) = &e[0] else { panic!() };
        assert!(s.labels().is_err());
    }

    #[test]
    fn invalid_utf8_is_reported_with_position() {
        let err = OpenMetricsParser::from_bytes(b"a 1\nb{x=\"\xff\"} 1\n").unwrap_err();
        assert_eq!((err.line, err.column), (2, 6));
    }
}

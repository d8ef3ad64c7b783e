//! Warnings and info notes attached to query results, with Prometheus' wording.
//!
//! Annotations are kept once per message: a later one with the same message
//! replaces the earlier (or merges with it, for the kinds that count occurrences).
//! Positions refer to the query text and are rendered as `line:column` when the
//! annotations are turned into strings for a particular query.

use std::collections::BTreeMap;

use cortex_tsdb::float_format::go_g;

use super::parser::PosRange;
use super::parser::literal::go_quote;

/// Warning or info.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Severity {
    /// Something is probably wrong with the query or the data.
    Warning,
    /// Something the user may want to know.
    Info,
}

/// Extra state some annotations merge across occurrences.
#[derive(Debug, Clone, PartialEq)]
enum Detail {
    None,
    /// `histogram_quantile` had to fix non-monotonic buckets.
    Monotonicity {
        min_ts: i64,
        max_ts: i64,
        min_bucket: f64,
        max_bucket: f64,
        max_diff: f64,
        count: u64,
    },
    /// Start timestamps overlapped previous samples.
    Overlap {
        count: u64,
    },
}

/// One annotation.
#[derive(Debug, Clone, PartialEq)]
pub struct Annotation {
    /// Warning or info.
    pub severity: Severity,
    /// The message without position (`PromQL warning: ...`).
    pub message: String,
    /// Where in the query it applies.
    pub pos: PosRange,
    detail: Detail,
}

impl Annotation {
    fn new(severity: Severity, body: String, pos: PosRange) -> Annotation {
        let prefix = match severity {
            Severity::Warning => "PromQL warning: ",
            Severity::Info => "PromQL info: ",
        };
        Annotation {
            severity,
            message: format!("{prefix}{body}"),
            pos,
            detail: Detail::None,
        }
    }

    /// The annotation as shown to users of `query`.
    pub fn render(&self, query: &str) -> String {
        let pos = self.pos.start_pos_input(query, 0);
        match &self.detail {
            Detail::None => format!("{} ({pos})", self.message),
            Detail::Monotonicity {
                min_ts,
                max_ts,
                min_bucket,
                max_bucket,
                max_diff,
                count,
            } => format!(
                "{}, from buckets {} to {}, with a max diff of {}, over {} samples from {} to {} ({pos})",
                self.message,
                go_g(*min_bucket),
                go_g(*max_bucket),
                go_g_2(*max_diff),
                count + 1,
                rfc3339(*min_ts),
                rfc3339(*max_ts),
            ),
            Detail::Overlap { count } if *count > 1 => {
                format!("{} ({count} occurrences) ({pos})", self.message)
            }
            Detail::Overlap { .. } => format!("{} ({pos})", self.message),
        }
    }
}

/// Go's `%.2g`.
fn go_g_2(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return go_g(v);
    }
    let exp = v.abs().log10().floor() as i32;
    if !(-4..2).contains(&exp) {
        let s = format!("{v:.1e}");
        // Rust writes `1.5e-5`; Go writes `1.5e-05`.
        let (mant, e) = s.split_once('e').unwrap_or((&s, "0"));
        let e: i32 = e.parse().unwrap_or(0);
        let mant = mant.trim_end_matches('0').trim_end_matches('.');
        return format!("{mant}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs());
    }
    let decimals = (1 - exp).max(0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Seconds-resolution RFC 3339 time in UTC.
fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = crate::promql::functions::time::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The annotations of one query.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Annotations {
    by_message: BTreeMap<String, Annotation>,
}

impl Annotations {
    /// No annotations.
    pub fn new() -> Annotations {
        Annotations::default()
    }

    /// Adds (or merges) an annotation.
    pub fn add(&mut self, a: Annotation) {
        let merged = match self.by_message.get(&a.message) {
            Some(prev) => merge(a, prev),
            None => a,
        };
        self.by_message.insert(merged.message.clone(), merged);
    }

    /// Adds all of `other`.
    pub fn merge(&mut self, other: Annotations) {
        for a in other.by_message.into_values() {
            self.add(a);
        }
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.by_message.is_empty()
    }

    /// All annotations.
    pub fn iter(&self) -> impl Iterator<Item = &Annotation> {
        self.by_message.values()
    }

    /// The warnings as shown to users of `query`.
    pub fn warnings(&self, query: &str) -> Vec<String> {
        self.rendered(query, Severity::Warning)
    }

    /// The info notes as shown to users of `query`.
    pub fn infos(&self, query: &str) -> Vec<String> {
        self.rendered(query, Severity::Info)
    }

    fn rendered(&self, query: &str, severity: Severity) -> Vec<String> {
        self.iter()
            .filter(|a| a.severity == severity)
            .map(|a| a.render(query))
            .collect()
    }
}

fn merge(new: Annotation, prev: &Annotation) -> Annotation {
    match (&new.detail, &prev.detail) {
        (
            Detail::Monotonicity {
                min_ts,
                max_ts,
                min_bucket,
                max_bucket,
                max_diff,
                count,
            },
            Detail::Monotonicity {
                min_ts: p_min_ts,
                max_ts: p_max_ts,
                min_bucket: p_min_bucket,
                max_bucket: p_max_bucket,
                max_diff: p_max_diff,
                count: p_count,
            },
        ) => Annotation {
            detail: Detail::Monotonicity {
                min_ts: (*min_ts).min(*p_min_ts),
                max_ts: (*max_ts).max(*p_max_ts),
                min_bucket: min_bucket.min(*p_min_bucket),
                max_bucket: max_bucket.max(*p_max_bucket),
                max_diff: max_diff.max(*p_max_diff),
                count: count + p_count + 1,
            },
            ..prev.clone()
        },
        (Detail::Overlap { count }, Detail::Overlap { count: p }) => Annotation {
            detail: Detail::Overlap { count: count + p },
            ..prev.clone()
        },
        _ => new,
    }
}

fn with_metric(body: String, metric: &str) -> String {
    if metric.is_empty() {
        body
    } else {
        format!("{body} for metric name {}", go_quote(metric))
    }
}

/// Constructors for every annotation PromQL produces.
pub mod kinds {
    use super::*;

    /// `quantile value should be between 0 and 1`.
    pub fn invalid_quantile(q: f64, pos: PosRange) -> Annotation {
        Annotation::new(
            Severity::Warning,
            format!("quantile value should be between 0 and 1, got {}", go_g(q)),
            pos,
        )
    }

    /// `ratio value should be between -1 and 1`.
    pub fn invalid_ratio(q: f64, to: f64, pos: PosRange) -> Annotation {
        Annotation::new(
            Severity::Warning,
            format!(
                "ratio value should be between -1 and 1, got {}, capping to {}",
                go_g(q),
                go_g(to)
            ),
            pos,
        )
    }

    /// A classic histogram bucket without a parsable `le`.
    pub fn bad_bucket_label(metric: &str, le: &str, pos: PosRange) -> Annotation {
        let body = format!(
            "bucket label \"le\" is missing or has a malformed value of {}",
            go_quote(le)
        );
        Annotation::new(Severity::Warning, with_metric(body, metric), pos)
    }

    /// A range mixing floats and histograms.
    pub fn mixed_floats_histograms(metric: &str, pos: PosRange) -> Annotation {
        Annotation::new(
            Severity::Warning,
            format!(
                "encountered a mix of histograms and floats for metric name {}",
                go_quote(metric)
            ),
            pos,
        )
    }

    /// An aggregation mixing floats and histograms.
    pub fn mixed_floats_histograms_agg(pos: PosRange) -> Annotation {
        Annotation::new(
            Severity::Warning,
            "encountered a mix of histograms and floats for aggregation".into(),
            pos,
        )
    }

    /// Classic and native histograms of the same series at one step.
    pub fn mixed_classic_native(metric: &str, pos: PosRange) -> Annotation {
        Annotation::new(
            Severity::Warning,
            with_metric(
                "vector contains a mix of classic and native histograms".into(),
                metric,
            ),
            pos,
        )
    }

    /// A counter function over a gauge histogram.
    pub fn native_histogram_not_counter(metric: &str, pos: PosRange) -> Annotation {
        Annotation::new(
            Severity::Warning,
            format!(
                "this native histogram metric is not a counter: {}",
                go_quote(metric)
            ),
            pos,
        )
    }

    /// A gauge function over a counter histogram.
    pub fn native_histogram_not_gauge(metric: &str, pos: PosRange) -> Annotation {
        Annotation::new(
            Severity::Warning,
            format!(
                "this native histogram metric is not a gauge: {}",
                go_quote(metric)
            ),
            pos,
        )
    }

    /// Exponential and custom-bucket histograms combined.
    pub fn mixed_exponential_custom(metric: &str, pos: PosRange) -> Annotation {
        Annotation::new(
            Severity::Warning,
            format!(
                "vector contains a mix of histograms with exponential and custom buckets schemas for metric name {}",
                go_quote(metric)
            ),
            pos,
        )
    }

    /// A binary operator over histograms with incompatible layouts.
    pub fn incompatible_bucket_layout(op: &str, pos: PosRange) -> Annotation {
        Annotation::new(
            Severity::Warning,
            format!("incompatible bucket layout encountered for binary operator {op}"),
            pos,
        )
    }

    /// `sort` in a range query.
    pub fn sort_in_range_query(pos: PosRange) -> Annotation {
        Annotation::new(
            Severity::Warning,
            "sort is ineffective for range queries since results are always ordered by labels"
                .into(),
            pos,
        )
    }

    /// `rate` over something not named like a counter.
    pub fn possible_non_counter(metric: &str, pos: PosRange) -> Annotation {
        Annotation::new(
            Severity::Info,
            format!(
                "metric might not be a counter, name does not end in _total/_sum/_count/_bucket: {}",
                go_quote(metric)
            ),
            pos,
        )
    }

    /// `rate` over something whose `__type__` is not a counter.
    pub fn possible_non_counter_label(metric: &str, type_label: &str, pos: PosRange) -> Annotation {
        Annotation::new(
            Severity::Info,
            format!(
                "metric might not be a counter, __type__ label is not set to \"counter\" or \"histogram\", got {}: {}",
                go_quote(type_label),
                go_quote(metric)
            ),
            pos,
        )
    }

    /// `histogram_quantile` fixed non-monotonic buckets.
    pub fn forced_monotonicity(
        metric: &str,
        pos: PosRange,
        ts: i64,
        min_bucket: f64,
        max_bucket: f64,
        max_diff: f64,
    ) -> Annotation {
        let mut a = Annotation::new(
            Severity::Info,
            with_metric(
                "input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile)".into(),
                metric,
            ),
            pos,
        );
        a.detail = Detail::Monotonicity {
            min_ts: ts,
            max_ts: ts,
            min_bucket,
            max_bucket,
            max_diff,
            count: 0,
        };
        a
    }

    /// A binary operator between incompatible sample types.
    pub fn incompatible_types_in_binop(
        lhs: &str,
        op: &str,
        rhs: &str,
        pos: PosRange,
    ) -> Annotation {
        Annotation::new(
            Severity::Info,
            format!(
                "incompatible sample types encountered for binary operator {}: {lhs} {op} {rhs}",
                go_quote(op)
            ),
            pos,
        )
    }

    /// An aggregation that ignores histograms.
    pub fn histogram_ignored_in_aggregation(agg: &str, pos: PosRange) -> Annotation {
        Annotation::new(
            Severity::Info,
            format!("ignored histogram in {agg} aggregation"),
            pos,
        )
    }

    /// A range function that ignores histograms in a mixed range.
    pub fn histogram_ignored_in_mixed_range(metric: &str, pos: PosRange) -> Annotation {
        Annotation::new(
            Severity::Info,
            format!(
                "ignored histograms in a range containing both floats and histograms for metric name {}",
                go_quote(metric)
            ),
            pos,
        )
    }

    /// `histogram_quantile` over NaN observations (result NaN).
    pub fn quantile_nan_result(metric: &str, pos: PosRange) -> Annotation {
        Annotation::new(
            Severity::Info,
            with_metric(
                "input to histogram_quantile has NaN observations, result is NaN".into(),
                metric,
            ),
            pos,
        )
    }

    /// `histogram_quantile` over NaN observations (result skewed).
    pub fn quantile_nan_skew(metric: &str, pos: PosRange) -> Annotation {
        Annotation::new(
            Severity::Info,
            with_metric(
                "input to histogram_quantile has NaN observations, result is skewed higher".into(),
                metric,
            ),
            pos,
        )
    }

    /// `histogram_fraction` over NaN observations.
    pub fn fraction_nans(metric: &str, pos: PosRange) -> Annotation {
        Annotation::new(
            Severity::Info,
            with_metric(
                "input to histogram_fraction has NaN observations, which are excluded from all fractions".into(),
                metric,
            ),
            pos,
        )
    }

    /// Which histogram operation saw a conflict.
    #[derive(Debug, Clone, Copy)]
    pub enum HistogramOp {
        /// `+`
        Add,
        /// `-`
        Sub,
        /// `sum`, `avg`, ...
        Agg,
    }

    impl HistogramOp {
        fn as_str(self) -> &'static str {
            match self {
                HistogramOp::Add => "addition",
                HistogramOp::Sub => "subtraction",
                HistogramOp::Agg => "aggregation",
            }
        }
    }

    /// "Reset" and "not reset" histograms combined.
    pub fn counter_reset_collision(pos: PosRange, op: HistogramOp) -> Annotation {
        Annotation::new(
            Severity::Warning,
            format!(
                "conflicting counter resets during histogram {}",
                op.as_str()
            ),
            pos,
        )
    }

    /// Custom bucket bounds reconciled to their intersection.
    pub fn mismatched_custom_buckets(pos: PosRange, op: HistogramOp) -> Annotation {
        Annotation::new(
            Severity::Info,
            format!(
                "mismatched custom buckets were reconciled during {}",
                op.as_str()
            ),
            pos,
        )
    }

    /// A start timestamp before the previous sample.
    pub fn start_time_overlap(metric: &str, pos: PosRange) -> Annotation {
        let mut a = Annotation::new(
            Severity::Warning,
            format!(
                "sample has start time that overlaps with previous sample timestamp for metric {}",
                go_quote(metric)
            ),
            pos,
        );
        a.detail = Detail::Overlap { count: 1 };
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_message_is_kept_once_with_the_latest_position() {
        let mut a = Annotations::new();
        a.add(kinds::sort_in_range_query(PosRange::new(0, 4)));
        a.add(kinds::sort_in_range_query(PosRange::new(7, 9)));
        assert_eq!(
            a.warnings("abc + sort(x)"),
            vec![
                "PromQL warning: sort is ineffective for range queries since results are always ordered by labels (1:8)"
            ]
        );
        assert!(a.infos("x").is_empty());
    }

    #[test]
    fn monotonicity_notes_merge() {
        let mut a = Annotations::new();
        let p = PosRange::new(0, 1);
        a.add(kinds::forced_monotonicity("m", p, 60_000, 1.0, 2.0, 0.5));
        a.add(kinds::forced_monotonicity("m", p, 120_000, 0.5, 2.0, 0.25));
        let s = a.infos("x");
        assert_eq!(s.len(), 1);
        assert!(s[0].ends_with(
            "from buckets 0.5 to 2, with a max diff of 0.5, over 2 samples from 1970-01-01T00:01:00Z to 1970-01-01T00:02:00Z (1:1)"
        ), "{}", s[0]);
    }

    #[test]
    fn go_two_digit_g() {
        assert_eq!(go_g_2(0.5), "0.5");
        assert_eq!(go_g_2(0.123), "0.12");
        assert_eq!(go_g_2(12.3), "12");
        assert_eq!(go_g_2(123.0), "1.2e+02");
        assert_eq!(go_g_2(0.0000123), "1.2e-05");
    }
}

//! The PromQL expressions compared between Prometheus 2.42 (the reference here) and the
//! server (whose engine follows Prometheus 3.x), and the requests compared byte for byte.
//!
//! Differences between 2.42 and 3.x that this list avoids on purpose:
//! - Range selectors and the lookback window are closed on the left in 2.x and open in
//!   3.x. No sample sits on a boundary: sample timestamps end in one of
//!   [`SAMPLE_MS_PARTS`](super::dataset::SAMPLE_MS_PARTS) milliseconds, evaluation times
//!   (instant `time`, range `start`, `@` timestamps) end in `.500` s, and subquery steps,
//!   offsets and ranges are whole seconds, so neither raw samples nor subquery points can
//!   land on `t - range`.
//! - Regex `.` matches a newline in 3.x only: no label value holds a newline.
//! - Functions renamed, removed or added: no `holt_winters` (3.x
//!   `double_exponential_smoothing`), none of the 3.x experimental functions
//!   (`sort_by_label`, `limitk`, `limit_ratio`, `mad_over_time`, `info`, `ts_of_*`, ...).
//! - Native histograms (2.42 needs a feature flag): classic histograms only.
//! - Annotations: 3.x answers with `warnings`/`infos` (e.g. "metric might not be a
//!   counter") where 2.42 has none, so they are not compared; byte-compared queries are
//!   ones 3.x raises no annotation for.
//! - Ties: `topk`/`bottomk`/`sort` pick or order equal values arbitrarily, so they run on
//!   series with distinct random values (and sorted output is checked by value order).
//! - Error texts that 3.x changed: an empty query's parse error names "unknown
//!   position" where 2.42 says `1:1`, and a many-to-many matching error lists the two
//!   duplicate series sorted where 2.42 lists them in the order met. Those errors are
//!   compared by status and `errorType` only, not byte for byte.
//! - Float summation: 3.x sums with Kahan compensation, so values are compared with a
//!   relative tolerance and sums that cancel to ~0 with a tiny absolute one.

use super::ApiRequest;

/// Counter selectors.
const COUNTERS: [&str; 7] = [
    "http_requests_total",
    r#"http_requests_total{job="api",code="500"}"#,
    r#"node_cpu_seconds_total{mode!="idle"}"#,
    "flaky_scrapes_total",
    r#"shard_ops_total{zone=~"eu.*"}"#,
    "request_duration_seconds_count",
    "batch_progress",
];

/// Gauge selectors.
const GAUGES: [&str; 9] = [
    "memory_usage_bytes",
    "queue_length",
    "temperature_celsius",
    "extreme_values",
    "label_shapes",
    "batch_progress",
    "process_max_fds",
    "late_starter",
    "up",
];

/// Every expression compared as an instant query at several times and as a range query.
pub fn expressions() -> Vec<String> {
    let mut q: Vec<String> = Vec::new();
    // Counter functions.
    for c in COUNTERS {
        for f in ["rate", "irate", "increase", "resets"] {
            for r in ["1m", "5m", "17m"] {
                q.push(format!("{f}({c}[{r}])"));
            }
        }
    }
    // Gauge functions and *_over_time.
    let over_time = [
        "delta({}[5m])",
        "idelta({}[3m])",
        "deriv({}[10m])",
        "predict_linear({}[10m], 600)",
        "changes({}[10m])",
        "resets({}[10m])",
        "avg_over_time({}[10m])",
        "min_over_time({}[10m])",
        "max_over_time({}[10m])",
        "sum_over_time({}[10m])",
        "count_over_time({}[10m])",
        "stddev_over_time({}[10m])",
        "stdvar_over_time({}[10m])",
        "last_over_time({}[10m])",
        "present_over_time({}[10m])",
        "quantile_over_time(0.5, {}[10m])",
        "quantile_over_time(0.9, {}[30m])",
        "absent_over_time({}[2m])",
    ];
    for g in GAUGES {
        for f in over_time {
            q.push(f.replace("{}", g));
        }
    }
    q.extend(
        [
            "quantile_over_time(0, queue_length[10m])",
            "quantile_over_time(1, queue_length[10m])",
            "quantile_over_time(-1, queue_length[10m])",
            "quantile_over_time(1.5, queue_length[10m])",
            "absent_over_time(nonexistent_metric[10m])",
            r#"absent_over_time(nonexistent_metric{job="x",instance=~"y"}[10m])"#,
            "predict_linear(http_requests_total[30m], 3600)",
            "deriv(memory_usage_bytes[1h])",
        ]
        .map(String::from),
    );
    // Aggregations.
    let inner = [
        "rate(http_requests_total[5m])",
        "memory_usage_bytes",
        "temperature_celsius",
        "rate(shard_ops_total[5m])",
    ];
    for e in inner {
        for agg in [
            "sum", "avg", "min", "max", "count", "group", "stddev", "stdvar",
        ] {
            q.push(format!("{agg}({e})"));
            q.push(format!("{agg} by (job) ({e})"));
            q.push(format!("{agg} without (instance) ({e})"));
        }
        // Integer counters' rates tie, and topk/bottomk pick among ties arbitrarily.
        if !e.contains("http_requests_total") {
            q.push(format!("topk(3, {e})"));
            q.push(format!("bottomk(3, {e})"));
            q.push(format!("topk by (job) (2, {e})"));
        }
        q.push(format!("quantile(0.9, {e})"));
        q.push(format!("quantile by (job) (0.25, {e})"));
    }
    q.extend(
        [
            r#"count_values("value", queue_length)"#,
            r#"count_values by (job) ("v", up)"#,
            r#"sum by (zone) (rate(shard_ops_total[5m]))"#,
            r#"topk(5, rate(shard_ops_total[10m]))"#,
            r#"bottomk(5, rate(shard_ops_total[10m]))"#,
            r#"quantile(0.5, rate(shard_ops_total[10m]))"#,
            r#"avg without (cpu, mode) (rate(node_cpu_seconds_total[5m]))"#,
            r#"sum by (__name__) ({job="api"})"#,
            r#"count by (le) (request_duration_seconds_bucket)"#,
            r#"max by (location) (temperature_celsius)"#,
            r#"sum(extreme_values)"#,
            r#"avg(extreme_values)"#,
            r#"stddev(extreme_values)"#,
        ]
        .map(String::from),
    );
    // Binary operators.
    q.extend(
        [
            "memory_usage_bytes / 1024 / 1024",
            "memory_usage_bytes % 7",
            "2 ^ queue_length",
            "-temperature_celsius",
            "temperature_celsius * -1.5 + 3",
            "queue_length > 20",
            "queue_length > bool 20",
            "queue_length == 20",
            "queue_length != bool 20",
            "queue_length <= 15",
            "temperature_celsius >= bool 0",
            "20 < queue_length",
            "1 < bool 2",
            "queue_length / on(job, instance) memory_usage_bytes",
            "queue_length / ignoring(job) memory_usage_bytes",
            "rate(http_requests_total[5m]) / ignoring(code) group_left sum without (code) (rate(http_requests_total[5m]))",
            "sum without (code) (rate(http_requests_total[5m])) / ignoring(code) group_right rate(http_requests_total[5m])",
            r#"rate(http_requests_total{code="500"}[5m]) / ignoring(code) rate(http_requests_total{code="200"}[5m])"#,
            "up * on(job, instance) group_left(method) rate(http_requests_total{code=\"200\",method=\"GET\"}[5m])",
            "queue_length and up == 1",
            "queue_length or memory_usage_bytes",
            "queue_length unless up == 0",
            "queue_length and on(job) up",
            "queue_length unless on(instance) (up == 0)",
            "memory_usage_bytes or on(job) queue_length",
            "(queue_length > 10) or vector(0)",
            "sum(queue_length) / count(queue_length)",
            "queue_length - queue_length offset 10m",
            "rate(http_requests_total[5m]) > 1 and rate(http_requests_total[5m]) < 10",
            "1 / (queue_length - queue_length)",
            "0 * extreme_values",
            "extreme_values * extreme_values",
            "http_requests_total + on(job) group_left memory_usage_bytes",
            "http_requests_total + on(job) memory_usage_bytes",
            "time() - timestamp(up)",
        ]
        .map(String::from),
    );
    // Classic histograms.
    for phi in ["0", "0.5", "0.9", "0.99", "1", "-0.5", "2"] {
        q.push(format!(
            "histogram_quantile({phi}, sum by (le, job) (rate(request_duration_seconds_bucket[5m])))"
        ));
    }
    q.extend(
        [
            "histogram_quantile(0.9, rate(request_duration_seconds_bucket[10m]))",
            "histogram_quantile(0.5, request_duration_seconds_bucket)",
            "histogram_quantile(0.75, sum by (le) (increase(request_duration_seconds_bucket[15m])))",
            r#"histogram_quantile(0.9, sum by (le) (rate(request_duration_seconds_bucket{le!="+Inf"}[5m])))"#,
            "rate(request_duration_seconds_sum[5m]) / rate(request_duration_seconds_count[5m])",
        ]
        .map(String::from),
    );
    // Math.
    for f in [
        "abs", "ceil", "floor", "round", "exp", "ln", "log2", "log10", "sqrt", "sgn", "sin", "cos",
        "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "deg",
        "rad",
    ] {
        q.push(format!("{f}(temperature_celsius)"));
    }
    q.extend(
        [
            "round(temperature_celsius, 0.5)",
            "round(memory_usage_bytes, 1000)",
            "clamp(temperature_celsius, -5, 5)",
            "clamp(temperature_celsius, 5, -5)",
            "clamp_min(temperature_celsius, 0)",
            "clamp_max(temperature_celsius, 0)",
            "exp(queue_length)",
            "ln(extreme_values)",
            "sqrt(extreme_values)",
            "pi()",
            "atan2(temperature_celsius, 3)",
            "temperature_celsius atan2 queue_length",
        ]
        .map(String::from),
    );
    // Time.
    q.extend(
        [
            "time()",
            "timestamp(up)",
            "timestamp(batch_progress)",
            "day_of_week()",
            "day_of_month()",
            "day_of_year()",
            "days_in_month()",
            "hour()",
            "minute()",
            "month()",
            "year()",
            "hour(timestamp(up))",
            "minute(timestamp(queue_length))",
            "day_of_week(vector(86400 * 3))",
            "days_in_month(vector(86400 * 40))",
            "month(vector(1e10))",
            "year(vector(-86400))",
        ]
        .map(String::from),
    );
    // Labels, sorting, absent, vector/scalar.
    q.extend(
        [
            r#"label_replace(up, "host", "$1", "instance", "(.*):.*")"#,
            r#"label_replace(up, "job", "", "job", "api")"#,
            r#"label_replace(temperature_celsius, "loc", "[$1]", "location", "(.+)")"#,
            r#"label_replace(up, "x", "y", "nonexistent", ".*")"#,
            r#"label_join(up, "id", "/", "job", "instance")"#,
            r#"label_join(http_requests_total, "key", "", "method", "code", "nope")"#,
            "sort(memory_usage_bytes)",
            "sort_desc(memory_usage_bytes)",
            "sort(temperature_celsius)",
            "sort_desc(rate(shard_ops_total[10m]))",
            "sort(sum by (job) (rate(http_requests_total[5m])))",
            "absent(nonexistent_metric)",
            r#"absent(nonexistent_metric{job="x", instance=~"y"})"#,
            r#"absent(up{job="api"})"#,
            "absent(up)",
            "vector(1)",
            "vector(time())",
            "scalar(sum(up))",
            "scalar(up)",
            r#"scalar(memory_usage_bytes{job="api",instance="10.0.0.10:9100"})"#,
            "vector(scalar(sum(queue_length)))",
            "sum(up) * scalar(count(up))",
        ]
        .map(String::from),
    );
    // Offset, @, subqueries.
    q.extend(
        [
            "rate(http_requests_total[5m] offset 10m)",
            "memory_usage_bytes offset 1h",
            "memory_usage_bytes offset -5m",
            "sum(rate(http_requests_total[5m] offset 30m))",
            "memory_usage_bytes @ start()",
            "memory_usage_bytes @ end()",
            "rate(http_requests_total[5m] @ end())",
            "rate(http_requests_total[5m] @ start() offset 2m)",
            "max_over_time(rate(http_requests_total[1m])[10m:1m])",
            "avg_over_time(queue_length[10m:])",
            "min_over_time(sum by (job) (queue_length)[30m:2m])",
            "rate(http_requests_total[5m:30s])",
            "max_over_time(deriv(memory_usage_bytes[5m])[15m:1m] offset 5m)",
            "sum_over_time(vector(1)[5m:1m])",
            "last_over_time(batch_progress[10m:1m])",
            "count_over_time(up[10m:1m] @ end())",
            "quantile_over_time(0.9, rate(shard_ops_total[2m])[20m:1m])",
        ]
        .map(String::from),
    );
    // Staleness and gaps (evaluated at several times, some inside gaps).
    q.extend(
        [
            "batch_progress",
            "count(batch_progress)",
            "last_over_time(batch_progress[20m])",
            "present_over_time(batch_progress[10m])",
            "flaky_scrapes_total",
            "count_over_time(flaky_scrapes_total[10m])",
            "late_starter",
            "timestamp(late_starter)",
            "absent(late_starter)",
        ]
        .map(String::from),
    );
    // Matchers.
    q.extend(
        [
            r#"up{job=~"api|db"}"#,
            r#"up{job!~"api|db"}"#,
            r#"temperature_celsius{location=~".*ü.*"}"#,
            r#"temperature_celsius{location=~"(?i)ZÜRICH"}"#,
            r#"temperature_celsius{location!=""}"#,
            r#"label_shapes{odd_value=~"\\s"}"#,
            r#"label_shapes{odd_value=~".+long.+"}"#,
            r#"label_shapes{odd_value!~".*long.*"}"#,
            r#"label_shapes{odd_value="quote\"and\\backslash"}"#,
            r#"label_shapes{_leading_underscore=~"[0-4]"}"#,
            r#"label_shapes{odd_value="emoji 🚀"}"#,
            r#"{__name__=~"http_.*", code="500"}"#,
            r#"{__name__=~"request_duration_seconds_(sum|count)"}"#,
            r#"up{instance=~"10\\.0\\.0\\..*"}"#,
            r#"up{nonexistent=""}"#,
            r#"up{job=~"a.*",job!="api"}"#,
            r#"{job="weather"}"#,
        ]
        .map(String::from),
    );
    // Errors: parse and type errors, execution errors.
    q.extend(
        [
            "1 +",
            "rate(up)",
            "sum(up[5m])",
            "nonexistent_function(up)",
            r#"{job=~""}"#,
            "up[5m] + 1",
            r#"label_replace(up, "x", "$1", "job", "(")"#,
            r#"label_replace(up, "instance", "x", "", "")"#,
            "http_requests_total + on(job) memory_usage_bytes",
            "quantile_over_time(0.5, up)",
            "up offset",
        ]
        .map(String::from),
    );
    q
}

/// Requests compared byte for byte: (description, request). `start_s`/`end_s` are the
/// dataset bounds and `t` an evaluation time, as the API writes them.
pub fn byte_compared(
    t: &str,
    range_start: &str,
    range_end: &str,
) -> Vec<(&'static str, ApiRequest)> {
    let instant = |q: &str| ApiRequest::get("query", &[("query", q), ("time", t)]);
    let range = |q: &str, step: &str| {
        ApiRequest::get(
            "query_range",
            &[
                ("query", q),
                ("start", range_start),
                ("end", range_end),
                ("step", step),
            ],
        )
    };
    vec![
        (
            "vector, one series",
            instant(r#"memory_usage_bytes{job="api",instance="10.0.0.10:9100"}"#),
        ),
        ("vector, sorted", instant("sort(temperature_celsius)")),
        (
            "vector, escaped labels",
            instant(r#"sort_desc(label_shapes)"#),
        ),
        (
            "vector, decimals",
            instant(r#"sort(rate(shard_ops_total{zone="eu-1"}[5m]))"#),
        ),
        ("vector 1e22", instant("vector(1e22)")),
        ("vector 1e-7", instant("vector(1e-7)")),
        ("vector 0.1+0.2", instant("vector(0.1 + 0.2)")),
        ("vector big integer", instant("vector(123456789012345)")),
        ("vector 1e21", instant("vector(1e21)")),
        ("vector 1/3", instant("vector(1/3)")),
        ("vector -0", instant("vector(-1 * 0)")),
        ("vector extremes", instant("sort(extreme_values)")),
        ("scalar", instant(r#"scalar(sum(up))"#)),
        ("scalar +Inf", instant("1/0")),
        ("scalar -Inf", instant("-1/0")),
        ("scalar NaN", instant("0/0")),
        ("scalar 2.5e-300", instant("2.5e-300")),
        ("string", instant(r#""hello \"world\"""#)),
        ("empty vector", instant("nonexistent_metric")),
        (
            "matrix",
            range(r#"rate(http_requests_total{job="api"}[5m])"#, "60"),
        ),
        ("matrix, gaps", range("flaky_scrapes_total", "30")),
        (
            "matrix, staleness",
            range(r#"batch_progress{task="task-03"}"#, "30"),
        ),
        (
            "matrix, NaN and Inf",
            range("1/(queue_length - queue_length)", "120"),
        ),
        ("matrix, scalar", range("time()", "300")),
        ("empty matrix", range("nonexistent_metric", "60")),
        ("labels", ApiRequest::get("labels", &[])),
        (
            "labels with match[]",
            ApiRequest::get("labels", &[("match[]", "up")]),
        ),
        ("label values job", ApiRequest::get("label/job/values", &[])),
        (
            "label values unicode",
            ApiRequest::get("label/location/values", &[]),
        ),
        (
            "label values odd",
            ApiRequest::get("label/odd_value/values", &[]),
        ),
        (
            "label values __name__",
            ApiRequest::get("label/__name__/values", &[]),
        ),
        (
            "label values missing",
            ApiRequest::get("label/nonexistent/values", &[]),
        ),
        ("series", ApiRequest::get("series", &[("match[]", "up")])),
        (
            "series, two matchers",
            ApiRequest::get(
                "series",
                &[
                    ("match[]", r#"temperature_celsius"#),
                    ("match[]", r#"label_shapes{odd_value=~"[ -_]"}"#),
                ],
            ),
        ),
        (
            "format_query, short",
            ApiRequest::get(
                "format_query",
                &[("query", "sum by(job)(rate(x{a='b'}[5m]))")],
            ),
        ),
        (
            "format_query, split",
            ApiRequest::get(
                "format_query",
                &[(
                    "query",
                    r#"sum without (instance, pod) (rate(a_very_long_metric_name_for_the_format_test_total{handler="/api/v1/query_range",code=~"5.."}[5m])) / on (job) group_left () sum by (job) (rate(a_very_long_metric_name_for_the_format_test_total[5m]))"#,
                )],
            ),
        ),
        (
            "format_query, error",
            ApiRequest::get("format_query", &[("query", "sum(")]),
        ),
        ("error: parse", instant("1 +")),
        ("error: parse, bad char", instant("up{")),
        ("error: type", instant("rate(up)")),
        (
            "error: too many points",
            ApiRequest::get(
                "query_range",
                &[
                    ("query", "up"),
                    ("start", "0"),
                    ("end", "100000"),
                    ("step", "1"),
                ],
            ),
        ),
        (
            "error: bad time",
            ApiRequest::get("query", &[("query", "up"), ("time", "abc")]),
        ),
        ("error: bad step", range("up", "abc")),
        ("error: zero step", range("up", "0")),
        ("error: negative step", range("up", "-10")),
        (
            "error: end before start",
            ApiRequest::get(
                "query_range",
                &[
                    ("query", "up"),
                    ("start", range_end),
                    ("end", range_start),
                    ("step", "60"),
                ],
            ),
        ),
        (
            "error: series without match[]",
            ApiRequest::get("series", &[]),
        ),
        (
            "error: execution, duplicate labelset",
            instant(r#"label_replace(up, "instance", "x", "", "")"#),
        ),
    ]
}

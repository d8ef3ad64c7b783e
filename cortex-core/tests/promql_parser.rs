//! Robustness of the PromQL parser: mangled and random input never panics, every
//! error names a position inside the input, and whatever parses prints back to a
//! query that parses to the same text.

use cortex_core::promql::parser::parse_expr;

const QUERIES: &[&str] = &[
    r#"sum by (job) (rate(http_requests_total{job=~"api|web", code!="500"}[5m]))"#,
    r#"histogram_quantile(0.99, sum by (le) (rate(h_bucket[5m] offset 1h)))"#,
    r#"a / on (instance) group_left (version) b unless c or d == bool e"#,
    r#"max_over_time(deriv(rate(x[1m])[5m:30s])[1h:] @ end())"#,
    r#"label_replace(up, "dst", "$1", "src", "(.*)") > bool 0.5"#,
    r#"topk(3, x) + count_values("v", y) - quantile(0.9, z) * limitk(2, w)"#,
    r#"-x ^ 2 ^ -3 % 4 atan2 y"#,
    r#"{__name__=~"job:.*", "utf8.label"="v"} offset -5m @ 1609746000"#,
    r#"foo[step() + 1m:max_of(30s, range() / 10)] offset (1h - 2m)"#,
    r#"rate(x[5m] anchored) + increase(y[5m] smoothed)"#,
    r#"sort_by_label_desc(info(up, {k8s_cluster=~".+"}), "instance")"#,
    r#"a + fill(0) b - fill_left(1) fill_right(2) c"#,
    r#"0x1F + 1e-3 + .5 + 1_000 + Inf - NaN + 1h30m"#,
    "sum(\n  x # comment\n) without (a, b,)",
    r#"double_exponential_smoothing(x[10m], 0.5, 0.1) </ 0.2 >/ 3"#,
    r#"absent_over_time(nonexistent{job="a"}[1m]) == bool vector(1)"#,
];

/// Characters that tend to change how a query lexes.
const NOISE: &[&str] = &[
    "(", ")", "[", "]", "{", "}", "\"", "'", "`", ",", ":", "@", "-", "=", "!", "~", "#", "\\",
    "1", "m", "é", " ", "\n", "by", "offset", "5m", "step()",
];

fn check(input: &str) {
    match parse_expr(input) {
        Ok(e) => {
            let printed = e.to_string();
            let again = parse_expr(&printed)
                .unwrap_or_else(|err| panic!("{input:?} printed as {printed:?}: {err}"));
            assert_eq!(again.to_string(), printed, "{input:?} does not round-trip");
        }
        Err(err) => {
            let msg = err.to_string();
            let (pos, rest) = msg
                .split_once(": parse error: ")
                .unwrap_or_else(|| panic!("{input:?}: malformed error {msg:?}"));
            assert!(!rest.is_empty(), "{input:?}: empty message");
            if pos == "unknown position" {
                assert!(input.is_empty(), "{input:?}: {msg}");
                return;
            }
            let (line, col) = pos
                .split_once(':')
                .and_then(|(l, c)| Some((l.parse::<usize>().ok()?, c.parse::<usize>().ok()?)))
                .unwrap_or_else(|| panic!("{input:?}: bad position in {msg:?}"));
            let lines: Vec<&str> = input.split('\n').collect();
            assert!(line >= 1 && line <= lines.len(), "{input:?}: {msg}");
            assert!(
                col >= 1 && col <= lines[line - 1].len() + 1,
                "{input:?}: {msg}"
            );
        }
    }
}

#[test]
fn valid_queries_round_trip() {
    for q in QUERIES {
        let e = parse_expr(q).unwrap_or_else(|err| panic!("{q}: {err}"));
        check(&e.to_string());
    }
}

#[test]
fn every_prefix_parses_or_fails_cleanly() {
    for q in QUERIES {
        for (i, _) in q.char_indices() {
            check(&q[..i]);
        }
    }
}

#[test]
fn insertions_and_deletions_never_panic() {
    for q in QUERIES {
        let bounds: Vec<usize> = q.char_indices().map(|(i, _)| i).collect();
        for (k, &i) in bounds.iter().enumerate() {
            let next = bounds.get(k + 1).copied().unwrap_or(q.len());
            check(&format!("{}{}", &q[..i], &q[next..]));
            for n in NOISE {
                check(&format!("{}{n}{}", &q[..i], &q[i..]));
            }
        }
    }
}

#[test]
fn random_token_soup_never_panics() {
    let tokens: Vec<&str> = NOISE
        .iter()
        .copied()
        .chain([
            "x",
            "sum",
            "rate",
            "[5m]",
            "+",
            "/",
            "on",
            "group_left",
            "bool",
            "and",
            "0.5",
            "\"s\"",
            "{a=\"b\"}",
            "@ start()",
            "anchored",
            "fill(1)",
            "info",
        ])
        .collect();
    let mut state: u64 = 0x853c_49e6_748f_ea9b;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..20_000 {
        let len = (next() % 12) as usize;
        let mut q = String::new();
        for _ in 0..len {
            q.push_str(tokens[(next() % tokens.len() as u64) as usize]);
            if next() % 3 == 0 {
                q.push(' ');
            }
        }
        check(&q);
    }
}

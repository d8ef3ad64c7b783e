//! Parser behaviour: precedence, modifiers, printing back, and error messages.

use super::*;

fn round_trip(input: &str) -> String {
    match parse_expr(input) {
        Ok(e) => e.to_string(),
        Err(e) => panic!("{input}: {e}"),
    }
}

fn err(input: &str) -> String {
    match parse_expr(input) {
        Ok(e) => panic!("{input} parsed as {e}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn prints_like_prometheus() {
    let cases = [
        (
            "sum by() (task:errors:rate10s{job=\"s\"})",
            "sum(task:errors:rate10s{job=\"s\"})",
        ),
        (
            "sum by(code) (task:errors:rate10s{job=\"s\"})",
            "sum by (code) (task:errors:rate10s{job=\"s\"})",
        ),
        ("sum without() (x)", "sum without () (x)"),
        ("sum by(\"foo.bar\") (x)", "sum by (\"foo.bar\") (x)"),
        ("topk(5, x)", "topk(5, x)"),
        ("a - on() c", "a - on () c"),
        ("a - on(b) group_left c", "a - on (b) group_left () c"),
        ("a - ignoring() c", "a - c"),
        ("a + fill_left(5) fill_right(5) b", "a + fill (5) b"),
        (
            "a + fill_left(-23) fill_right(42) b",
            "a + fill_left (-23) fill_right (42) b",
        ),
        ("up > bool 0", "up > bool 0"),
        ("a offset -7m", "a offset -7m"),
        ("a{c=\"d\"}[5m] offset 1m", "a{c=\"d\"}[5m] offset 1m"),
        ("a[1h:5m] offset 1m", "a[1h:5m] offset 1m"),
        (
            "a{b=\"c\"}[5m] anchored @ start() offset 1m",
            "a{b=\"c\"}[5m] anchored @ start() offset 1m",
        ),
        ("{__name__=\"a\"}", "{__name__=\"a\"}"),
        ("x @ 100", "x @ 100.000"),
        ("x[5m:]", "x[5m:]"),
        ("rate(x[90m])", "rate(x[1h30m])"),
        ("-x", "-x"),
        ("-1", "-1"),
        ("x[10]", "x[10s]"),
        ("x[1h + step()]", "x[1h + step()]"),
        ("x offset (1h / 2)", "x offset (1h / 2)"),
        ("\"a\\\"b\"", "\"a\\\"b\""),
        ("foo{b=\"1\",a=\"2\"}", "foo{a=\"2\",b=\"1\"}"),
        ("SUM(x)", "sum(x)"),
    ];
    for (input, want) in cases {
        assert_eq!(round_trip(input), want, "{input}");
    }
}

#[test]
fn precedence_follows_prometheus() {
    assert_eq!(round_trip("1 + 2 * 3"), "1 + 2 * 3");
    let e = parse_expr("1 + 2 * 3").unwrap();
    let Expr::Binary(b) = e else { panic!() };
    assert_eq!(b.op, BinOp::Add);
    // `^` is right-associative and binds tighter than unary minus.
    let Expr::Unary(u) = parse_expr("-x ^ 2").unwrap() else {
        panic!()
    };
    assert!(matches!(
        *u.expr,
        Expr::Binary(BinaryExpr { op: BinOp::Pow, .. })
    ));
    let Expr::Binary(b) = parse_expr("2 ^ 3 ^ 2").unwrap() else {
        panic!()
    };
    assert!(matches!(*b.rhs, Expr::Binary(_)));
    // Unary minus binds tighter than `*`.
    let Expr::Binary(b) = parse_expr("-x * y").unwrap() else {
        panic!()
    };
    assert_eq!(b.op, BinOp::Mul);
    // `and` binds tighter than `or`.
    let Expr::Binary(b) = parse_expr("a or b and c").unwrap() else {
        panic!()
    };
    assert_eq!(b.op, BinOp::Or);
    // Modifiers bind to the closest operand.
    let Expr::Binary(b) = parse_expr("a + b offset 5m").unwrap() else {
        panic!()
    };
    let Expr::VectorSelector(vs) = *b.rhs else {
        panic!()
    };
    assert_eq!(vs.offset_ms, 300_000);
}

#[test]
fn set_operators_become_many_to_many() {
    let Expr::Binary(b) = parse_expr("a and b").unwrap() else {
        panic!()
    };
    assert_eq!(b.matching.unwrap().card, Some(Cardinality::ManyToMany));
    let Expr::Binary(b) = parse_expr("a + 1").unwrap() else {
        panic!()
    };
    assert!(b.matching.is_none());
}

#[test]
fn selectors_carry_modifiers() {
    let Expr::MatrixSelector(m) = parse_expr("foo{a=~\"b.*\"}[5m] offset -1h @ end()").unwrap()
    else {
        panic!()
    };
    assert_eq!(m.range_ms, 300_000);
    assert_eq!(m.vs.offset_ms, -3_600_000);
    assert_eq!(m.vs.start_or_end, Some(AtPreprocessor::End));
    assert_eq!(m.vs.matchers.len(), 2);
    let Expr::Subquery(s) = parse_expr("rate(x[5m])[1h:1m] @ 1000").unwrap() else {
        panic!()
    };
    assert_eq!(
        (s.range_ms, s.step_ms, s.timestamp),
        (3_600_000, 60_000, Some(1_000_000))
    );
}

#[test]
fn errors_match_prometheus() {
    let cases = [
        ("foo bar", "1:5: parse error: unexpected identifier \"bar\""),
        (
            "",
            "unknown position: parse error: no expression found in input",
        ),
        ("sum(x", "1:6: parse error: unclosed left parenthesis"),
        (
            "{}",
            "1:1: parse error: vector selector must contain at least one non-empty matcher",
        ),
        (
            "{a=\"\"}",
            "1:1: parse error: vector selector must contain at least one non-empty matcher",
        ),
        (
            "foo{__name__=\"bar\"}",
            "1:1: parse error: metric name must not be set twice: \"foo\" or \"bar\"",
        ),
        (
            "nope(x)",
            "1:1: parse error: unknown function with name \"nope\"",
        ),
        (
            "rate(x)",
            "1:6: parse error: expected type range vector in call to function \"rate\", got instant vector",
        ),
        (
            "abs(x, y)",
            "1:1: parse error: expected 1 argument(s) in call to \"abs\", got 2",
        ),
        (
            "round()",
            "1:1: parse error: expected at least 1 argument(s) in call to \"round\", got 0",
        ),
        (
            "abs(x,)",
            "1:6: parse error: trailing commas not allowed in function call args",
        ),
        (
            "1 > 2",
            "1:3: parse error: comparisons between scalars must use BOOL modifier",
        ),
        (
            "x + bool y",
            "1:3: parse error: bool modifier can only be used on comparison operators",
        ),
        (
            "1 and x",
            "1:1: parse error: set operator \"and\" not allowed in binary scalar expression",
        ),
        (
            "x and on(a) group_left y",
            "1:1: parse error: no grouping allowed for \"and\" operation",
        ),
        (
            "x offset 5m offset 3m",
            "1:1: parse error: offset may not be set multiple times",
        ),
        (
            "x offset 1m[5m]",
            "1:12: parse error: no offset modifiers allowed before range",
        ),
        (
            "rate(x[5m]) offset 1m",
            "1:1: parse error: offset modifier must be preceded by an instant vector selector or range vector selector or a subquery",
        ),
        ("x[0s]", "1:3: parse error: duration must be greater than 0"),
        (
            "x @ Inf",
            "1:1: parse error: timestamp out of bounds for @ modifier: +Inf",
        ),
        (
            "sum(x, y)",
            "1:1: parse error: wrong number of arguments for aggregate expression provided, expected 1, got 2",
        ),
        (
            "topk(x)",
            "1:1: parse error: wrong number of arguments for aggregate expression provided, expected 2, got 1",
        ),
        (
            "-\"a\"",
            "1:1: parse error: unary expression only allowed on expressions of type scalar or instant vector, got \"string\"",
        ),
        (
            "x[5m][1m:]",
            "1:1: parse error: subquery is only allowed on instant vector, got matrix instead",
        ),
        (
            "foo offset",
            "1:11: parse error: unexpected end of input in offset, expected number, duration, step(), or range()",
        ),
        ("1 +", "1:4: parse error: unexpected end of input"),
        ("x $", "1:3: parse error: unexpected character: '$'"),
        ("(1))", "1:5: parse error: unexpected right parenthesis ')'"),
        (
            "0deadbeef",
            "1:1: parse error: bad number or duration syntax: \"0de\"",
        ),
        (
            "foo[5mm]",
            "1:5: parse error: bad number or duration syntax: \"5mm\"",
        ),
        ("-=", "1:2: parse error: unexpected \"=\""),
        (
            "foo[\"5m\"]",
            "1:5: parse error: unexpected character in duration expression: '\"'",
        ),
        (
            "foo{bar=\"baz\"}[",
            "1:16: parse error: unexpected end of input in duration expression",
        ),
        (
            "foo[step]",
            "1:9: parse error: unexpected \"]\" in subquery or range selector, expected number, duration, step(), or range()",
        ),
        (
            "foo[1m:step(]",
            "1:13: parse error: unexpected \"]\" in subquery selector, expected number, duration, step(), range(), or \"]\"",
        ),
        (
            "1e999",
            "1:1: parse error: error parsing number: strconv.ParseFloat: parsing \"1e999\": value out of range",
        ),
    ];
    let bad: Vec<String> = cases
        .iter()
        .filter(|(i, w)| err(i) != *w)
        .map(|(i, w)| format!("{i}: got {:?}, want {w:?}", err(i)))
        .collect();
    assert!(bad.is_empty(), "{bad:#?}");
}

#[test]
fn error_positions_count_lines() {
    assert_eq!(
        err("x +\n  bar baz"),
        "2:7: parse error: unexpected identifier \"baz\""
    );
}

#[test]
fn keywords_can_be_metric_names_and_labels() {
    assert_eq!(
        round_trip("sum by (by, on) (offset)"),
        "sum by (by, on) (offset)"
    );
    assert_eq!(round_trip("count + sum"), "count + sum");
}

#[test]
fn deeply_nested_input_is_an_error_not_a_crash() {
    let q = "(".repeat(100) + "1" + &")".repeat(100);
    assert_eq!(round_trip(&q).len(), 201);
}

//! `parse_query`'s answer: a PromQL syntax tree as the JSON object Prometheus' UI tree
//! view reads. Every node is an object with a `type` and its fields; keys are written
//! in byte order, as Go writes maps.

use cortex_tsdb::float_format::write_go_f;
use cortex_tsdb::labels::{METRIC_NAME, MatchType, Matcher};

use super::json::{write_string, write_string_array};
use crate::promql::parser::{
    AtPreprocessor, Cardinality, Expr, MatrixSelector, ValueType, VectorSelector,
};

/// The tree of `expr` as JSON.
pub fn translate(expr: &Expr) -> String {
    let mut out = String::with_capacity(256);
    node(&mut out, Some(expr));
    out
}

/// Writes an object from `(key, writer)` pairs, sorting the keys.
fn object(out: &mut String, mut fields: Vec<Field<'_>>) {
    fields.sort_by(|a, b| a.0.cmp(b.0));
    out.push('{');
    for (i, (k, w)) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(out, k);
        out.push(':');
        w(out);
    }
    out.push('}');
}

type Field<'a> = (&'a str, Box<dyn FnOnce(&mut String) + 'a>);

fn s<'a>(key: &'a str, v: &'a str) -> Field<'a> {
    (key, Box::new(move |o| write_string(o, v)))
}

fn b(key: &str, v: bool) -> Field<'_> {
    (
        key,
        Box::new(move |o| o.push_str(if v { "true" } else { "false" })),
    )
}

fn int(key: &str, v: i64) -> Field<'_> {
    (key, Box::new(move |o| o.push_str(&v.to_string())))
}

fn sub<'a>(key: &'a str, e: Option<&'a Expr>) -> Field<'a> {
    (key, Box::new(move |o| node(o, e)))
}

fn dur<'a>(key: &'a str, e: Option<&'a Expr>) -> Field<'a> {
    (key, Box::new(move |o| duration_node(o, e)))
}

fn list<'a>(key: &'a str, v: &'a [String]) -> Field<'a> {
    (key, Box::new(move |o| write_string_array(o, v)))
}

fn number(o: &mut String, v: f64) {
    o.push('"');
    write_go_f(o, v);
    o.push('"');
}

fn type_name(t: ValueType) -> &'static str {
    t.short()
}

fn node(out: &mut String, e: Option<&Expr>) {
    let Some(e) = e else {
        out.push_str("null");
        return;
    };
    match e {
        Expr::Aggregate(a) => object(
            out,
            vec![
                s("type", "aggregation"),
                s("op", a.op.as_str()),
                sub("expr", Some(&a.expr)),
                sub("param", a.param.as_deref()),
                list("grouping", &a.grouping),
                b("without", a.without),
            ],
        ),
        Expr::Binary(bin) => {
            let vectors = bin.lhs.value_type() == ValueType::Vector
                && bin.rhs.value_type() == ValueType::Vector;
            let matching = vectors.then(|| bin.matching.clone().unwrap_or_default());
            object(
                out,
                vec![
                    s("type", "binaryExpr"),
                    s("op", bin.op.as_str()),
                    sub("lhs", Some(&bin.lhs)),
                    sub("rhs", Some(&bin.rhs)),
                    (
                        "matching",
                        Box::new(move |o: &mut String| match matching {
                            None => o.push_str("null"),
                            Some(m) => {
                                let card = if bin.op.is_set() {
                                    Cardinality::ManyToMany
                                } else {
                                    m.cardinality()
                                };
                                let card = match card {
                                    Cardinality::OneToOne => "one-to-one",
                                    Cardinality::ManyToOne => "many-to-one",
                                    Cardinality::OneToMany => "one-to-many",
                                    Cardinality::ManyToMany => "many-to-many",
                                };
                                let (fl, fr) = (m.fill_lhs, m.fill_rhs);
                                object(
                                    o,
                                    vec![
                                        s("card", card),
                                        list("labels", &m.matching_labels),
                                        b("on", m.on),
                                        list("include", &m.include),
                                        (
                                            "fillValues",
                                            Box::new(move |o: &mut String| {
                                                object(
                                                    o,
                                                    vec![
                                                        ("lhs", Box::new(move |o| opt_f(o, fl))),
                                                        ("rhs", Box::new(move |o| opt_f(o, fr))),
                                                    ],
                                                )
                                            }),
                                        ),
                                    ],
                                )
                            }
                        }),
                    ),
                    b("bool", bin.return_bool),
                ],
            )
        }
        Expr::Call(c) => object(
            out,
            vec![
                s("type", "call"),
                (
                    "func",
                    Box::new(move |o: &mut String| {
                        let types = c.func.arg_types;
                        object(
                            o,
                            vec![
                                s("name", c.func.name),
                                (
                                    "argTypes",
                                    Box::new(move |o: &mut String| {
                                        let names: Vec<&str> =
                                            types.iter().map(|t| type_name(*t)).collect();
                                        write_string_array(o, &names);
                                    }),
                                ),
                                int("variadic", c.func.variadic as i64),
                                s("returnType", type_name(c.func.return_type)),
                            ],
                        )
                    }),
                ),
                (
                    "args",
                    Box::new(move |o: &mut String| {
                        o.push('[');
                        for (i, a) in c.args.iter().enumerate() {
                            if i > 0 {
                                o.push(',');
                            }
                            node(o, Some(a));
                        }
                        o.push(']');
                    }),
                ),
            ],
        ),
        Expr::MatrixSelector(m) => matrix(out, m),
        Expr::Subquery(sq) => object(
            out,
            vec![
                s("type", "subquery"),
                sub("expr", Some(&sq.expr)),
                int("range", sq.range_ms),
                dur("rangeExpr", sq.range_expr.as_deref()),
                int("offset", sq.offset_ms),
                dur("offsetExpr", sq.offset_expr.as_deref()),
                int("step", sq.step_ms),
                dur("stepExpr", sq.step_expr.as_deref()),
                timestamp("timestamp", sq.timestamp),
                start_or_end(sq.start_or_end),
            ],
        ),
        Expr::Duration(_) => duration_node(out, Some(e)),
        Expr::NumberLiteral(n) => object(
            out,
            vec![
                s("type", "numberLiteral"),
                ("val", Box::new(move |o| number(o, n.val))),
            ],
        ),
        Expr::Paren(p) => object(
            out,
            vec![s("type", "parenExpr"), sub("expr", Some(&p.expr))],
        ),
        Expr::StringLiteral(l) => object(out, vec![s("type", "stringLiteral"), s("val", &l.val)]),
        Expr::Unary(u) => object(
            out,
            vec![
                s("type", "unaryExpr"),
                s("op", if u.negate { "-" } else { "+" }),
                sub("expr", Some(&u.expr)),
            ],
        ),
        Expr::VectorSelector(vs) => vector(out, vs),
        Expr::StepInvariant(si) => node(out, Some(&si.expr)),
    }
}

fn opt_f(o: &mut String, v: Option<f64>) {
    match v {
        Some(v) if v.is_finite() => write_go_f(o, v),
        _ => o.push_str("null"),
    }
}

fn timestamp(key: &str, t: Option<i64>) -> Field<'_> {
    (
        key,
        Box::new(move |o| match t {
            Some(t) => o.push_str(&t.to_string()),
            None => o.push_str("null"),
        }),
    )
}

fn start_or_end<'a>(p: Option<AtPreprocessor>) -> Field<'a> {
    (
        "startOrEnd",
        Box::new(move |o| match p {
            Some(AtPreprocessor::Start) => o.push_str("\"start\""),
            Some(AtPreprocessor::End) => o.push_str("\"end\""),
            None => o.push_str("null"),
        }),
    )
}

/// Matchers in Prometheus' order: the label matchers as written, then the one for the
/// metric name.
fn matchers<'a>(vs: &'a VectorSelector) -> Field<'a> {
    (
        "matchers",
        Box::new(move |o| {
            let is_name = |m: &Matcher| {
                !vs.name.is_empty()
                    && m.name() == METRIC_NAME
                    && m.kind() == MatchType::Equal
                    && m.value() == vs.name
            };
            let mut ordered: Vec<&Matcher> = vs.matchers.iter().filter(|m| !is_name(m)).collect();
            if let Some(n) = vs.matchers.iter().find(|m| is_name(m)) {
                ordered.push(n);
            }
            o.push('[');
            for (i, m) in ordered.into_iter().enumerate() {
                if i > 0 {
                    o.push(',');
                }
                let op = match m.kind() {
                    MatchType::Equal => "=",
                    MatchType::NotEqual => "!=",
                    MatchType::Regexp => "=~",
                    MatchType::NotRegexp => "!~",
                };
                object(
                    o,
                    vec![s("name", m.name()), s("type", op), s("value", m.value())],
                );
            }
            o.push(']');
        }),
    )
}

fn vector(out: &mut String, vs: &VectorSelector) {
    object(
        out,
        vec![
            s("type", "vectorSelector"),
            s("name", &vs.name),
            int("offset", vs.offset_ms),
            dur("offsetExpr", vs.offset_expr.as_deref()),
            matchers(vs),
            timestamp("timestamp", vs.timestamp),
            start_or_end(vs.start_or_end),
            b("anchored", vs.anchored),
            b("smoothed", vs.smoothed),
        ],
    )
}

fn matrix(out: &mut String, m: &MatrixSelector) {
    let vs = &m.vs;
    object(
        out,
        vec![
            s("type", "matrixSelector"),
            s("name", &vs.name),
            int("range", m.range_ms),
            dur("rangeExpr", m.range_expr.as_deref()),
            int("offset", vs.offset_ms),
            dur("offsetExpr", vs.offset_expr.as_deref()),
            matchers(vs),
            timestamp("timestamp", vs.timestamp),
            start_or_end(vs.start_or_end),
            b("anchored", vs.anchored),
            b("smoothed", vs.smoothed),
        ],
    )
}

fn duration_node(out: &mut String, e: Option<&Expr>) {
    match e {
        None => out.push_str("null"),
        Some(Expr::Duration(d)) => object(
            out,
            vec![
                s("type", "durationExpr"),
                s("op", d.op.fixed_str().unwrap_or("")),
                dur("lhs", d.lhs.as_deref()),
                dur("rhs", d.rhs.as_deref()),
                b("wrapped", d.wrapped),
            ],
        ),
        Some(Expr::NumberLiteral(n)) => object(
            out,
            vec![
                s("type", "numberLiteral"),
                ("val", Box::new(move |o| number(o, n.val))),
                b("duration", n.duration),
            ],
        ),
        Some(other) => node(out, Some(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promql::parser::parse_expr;

    #[test]
    fn trees_have_prometheus_shape() {
        let e = parse_expr("sum by (job) (rate(http_requests_total{code=\"200\"}[5m]))").unwrap();
        assert_eq!(
            translate(&e),
            concat!(
                r#"{"expr":{"args":[{"anchored":false,"matchers":[{"name":"code","type":"=","value":"200"},"#,
                r#"{"name":"__name__","type":"=","value":"http_requests_total"}],"name":"http_requests_total","#,
                r#""offset":0,"offsetExpr":null,"range":300000,"rangeExpr":null,"smoothed":false,"startOrEnd":null,"#,
                r#""timestamp":null,"type":"matrixSelector"}],"func":{"argTypes":["matrix"],"name":"rate","#,
                r#""returnType":"vector","variadic":0},"type":"call"},"grouping":["job"],"op":"sum","param":null,"#,
                r#""type":"aggregation","without":false}"#
            )
        );
        let e = parse_expr("1 + 2").unwrap();
        assert_eq!(
            translate(&e),
            r#"{"bool":false,"lhs":{"type":"numberLiteral","val":"1"},"matching":null,"op":"+","rhs":{"type":"numberLiteral","val":"2"},"type":"binaryExpr"}"#
        );
        let e = parse_expr("a and on(x) b").unwrap();
        assert!(translate(&e).contains(
            r#""matching":{"card":"many-to-many","fillValues":{"lhs":null,"rhs":null},"include":[],"labels":["x"],"on":true}"#
        ));
    }
}

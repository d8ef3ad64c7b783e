//! Pretty-printing, as Prometheus' `Pretty()` does for `format_query`: a node that
//! prints within 100 characters stays on one line; a longer one is split, its children
//! indented two spaces per level (aggregations and calls open a parenthesis on their
//! line, binary operators go on a line of their own between the operands).

use super::ast::*;

const MAX_LINE: usize = 100;

/// `e` formatted over several lines where a single line would be too long.
pub fn pretty(e: &Expr) -> String {
    at(e, 0)
}

fn indent(level: usize) -> String {
    "  ".repeat(level)
}

fn needs_split(e: &Expr) -> bool {
    e.to_string().len() > MAX_LINE
}

fn join(labels: &[String]) -> String {
    let quoted: Vec<String> = labels
        .iter()
        .map(|l| {
            if cortex_tsdb::labels::is_valid_legacy_name(l) {
                l.clone()
            } else {
                super::literal::go_quote(l)
            }
        })
        .collect();
    quoted.join(", ")
}

fn at(e: &Expr, level: usize) -> String {
    let ind = indent(level);
    match e {
        Expr::Aggregate(a) if needs_split(e) => {
            let mut s = ind.clone();
            s.push_str(a.op.as_str());
            if a.without {
                s.push_str(&format!(" without ({}) ", join(&a.grouping)));
            } else if !a.grouping.is_empty() {
                s.push_str(&format!(" by ({}) ", join(&a.grouping)));
            }
            s.push_str("(\n");
            if let Some(p) = &a.param {
                s.push_str(&at(p, level + 1));
                s.push_str(",\n");
            }
            s.push_str(&at(&a.expr, level + 1));
            s.push('\n');
            s.push_str(&ind);
            s.push(')');
            s
        }
        Expr::Binary(b) if needs_split(e) => {
            let mut op = b.op.as_str().to_string();
            if b.return_bool {
                op.push_str(" bool");
            }
            if let Some(m) = &b.matching
                && (!m.matching_labels.is_empty() || m.on)
            {
                let tag = if m.on { "on" } else { "ignoring" };
                op.push_str(&format!(" {tag} ({})", join(&m.matching_labels)));
                match m.card {
                    Some(Cardinality::ManyToOne) => {
                        op.push_str(&format!(" group_left ({})", join(&m.include)));
                    }
                    Some(Cardinality::OneToMany) => {
                        op.push_str(&format!(" group_right ({})", join(&m.include)));
                    }
                    _ => {}
                }
            }
            format!(
                "{}\n{ind}{op}\n{}",
                at(&b.lhs, level + 1),
                at(&b.rhs, level + 1)
            )
        }
        Expr::Call(c) if needs_split(e) => {
            let args: Vec<String> = c.args.iter().map(|a| at(a, level + 1)).collect();
            format!("{ind}{}(\n{}\n{ind})", c.func.name, args.join(",\n"))
        }
        Expr::Paren(p) if needs_split(e) => {
            format!("{ind}(\n{}\n{ind})", at(&p.expr, level + 1))
        }
        Expr::Subquery(s) => {
            if !needs_split(e) {
                return e.to_string();
            }
            let full = e.to_string();
            let inner = s.expr.to_string();
            let suffix = full.strip_prefix(&inner).unwrap_or("");
            format!("{}{suffix}", at(&s.expr, level))
        }
        Expr::Unary(u) => {
            let child = at(&u.expr, level);
            format!("{ind}{}{}", if u.negate { "-" } else { "+" }, child.trim())
        }
        Expr::StepInvariant(s) => at(&s.expr, level),
        _ => format!("{ind}{e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promql::parser::parse_expr;

    #[test]
    fn short_queries_stay_on_one_line() {
        let e = parse_expr("sum by (job) (rate(x[5m]))").unwrap();
        assert_eq!(pretty(&e), "sum by (job) (rate(x[5m]))");
    }

    #[test]
    fn aggregations_split_around_their_operand() {
        let q = "sum without (instance, pod) (rate(a_very_long_metric_name_for_the_test_total{handler=\"/api/v1/query_range\"}[5m]))";
        let e = parse_expr(q).unwrap();
        assert_eq!(
            pretty(&e),
            concat!(
                "sum without (instance, pod) (\n",
                "  rate(a_very_long_metric_name_for_the_test_total{handler=\"/api/v1/query_range\"}[5m])\n",
                ")"
            )
        );
    }

    #[test]
    fn long_queries_split_like_prometheus() {
        let q = "sum by (job, instance) (rate(http_requests_total{handler=\"/api/v1/query\",code=~\"5..\"}[5m])) / on (job, instance) group_left () sum by (job, instance) (rate(http_requests_total[5m]))";
        let e = parse_expr(q).unwrap();
        assert_eq!(
            pretty(&e),
            concat!(
                "  sum by (job, instance) (rate(http_requests_total{code=~\"5..\",handler=\"/api/v1/query\"}[5m]))\n",
                "/ on (job, instance) group_left ()\n",
                "  sum by (job, instance) (rate(http_requests_total[5m]))"
            )
        );
    }
}

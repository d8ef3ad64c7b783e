//! What a query's expression allows the frontend to do with it: whether its range may
//! be split (nothing in it depends on the query's own start or end), and how far past
//! an evaluation timestamp it may read (negative offsets, `@` timestamps), which
//! decides which of its results are old enough to cache.

use crate::promql::parser::token::TokenKind;
use crate::promql::parser::{AtPreprocessor, Expr};

/// What the frontend may do with one query expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryShape {
    /// The range may be cut into parts evaluated on their own: false when the query
    /// uses `@ start()`, `@ end()` or the `range()` duration function, whose values
    /// change with the range.
    pub splittable: bool,
    /// Results may be cached at all: false when an offset is an expression whose value
    /// is not known before evaluation.
    pub cacheable: bool,
    /// How far (ms) past an evaluation timestamp the query may read: the sum of its
    /// negative offsets.
    pub forward_reach: i64,
    /// The latest `@` timestamp (ms) the query reads at, if any.
    pub latest_at: Option<i64>,
}

impl QueryShape {
    /// The shape of `expr`.
    pub fn of(expr: &Expr) -> QueryShape {
        let mut shape = QueryShape {
            splittable: true,
            cacheable: true,
            forward_reach: 0,
            latest_at: None,
        };
        expr.inspect(&mut |e, _| {
            shape.visit(e);
            true
        });
        shape
    }

    /// The last evaluation timestamp whose result may be cached when results newer than
    /// `cutoff` (ms) must not be: `None` when nothing of this query may be cached.
    pub fn cacheable_until(&self, cutoff: i64) -> Option<i64> {
        if !self.cacheable || !self.splittable {
            return None;
        }
        let limit = cutoff.saturating_sub(self.forward_reach);
        match self.latest_at {
            Some(at) if at > limit => None,
            _ => Some(limit),
        }
    }

    fn visit(&mut self, e: &Expr) {
        match e {
            Expr::VectorSelector(vs) => {
                self.selector(vs.offset_ms, vs.offset_expr.as_deref());
                self.at(vs.timestamp, vs.start_or_end);
            }
            Expr::MatrixSelector(ms) => {
                self.selector(ms.vs.offset_ms, ms.vs.offset_expr.as_deref());
                self.at(ms.vs.timestamp, ms.vs.start_or_end);
                self.duration(ms.range_expr.as_deref());
            }
            Expr::Subquery(sq) => {
                self.selector(sq.offset_ms, sq.offset_expr.as_deref());
                self.at(sq.timestamp, sq.start_or_end);
                self.duration(sq.range_expr.as_deref());
                self.duration(sq.step_expr.as_deref());
            }
            Expr::Duration(_) => self.duration(Some(e)),
            _ => {}
        }
    }

    fn selector(&mut self, offset_ms: i64, offset_expr: Option<&Expr>) {
        if offset_expr.is_some() {
            self.cacheable = false;
            self.duration(offset_expr);
        } else if offset_ms < 0 {
            self.forward_reach = self
                .forward_reach
                .saturating_add(offset_ms.saturating_neg());
        }
    }

    fn at(&mut self, timestamp: Option<i64>, start_or_end: Option<AtPreprocessor>) {
        if start_or_end.is_some() {
            self.splittable = false;
        }
        if let Some(t) = timestamp {
            self.latest_at = Some(self.latest_at.map_or(t, |l| l.max(t)));
        }
    }

    /// Marks the query unsplittable when a duration expression uses `range()`.
    fn duration(&mut self, e: Option<&Expr>) {
        let Some(e) = e else { return };
        match e {
            Expr::Duration(d) => {
                if d.op == TokenKind::Range {
                    self.splittable = false;
                }
                self.duration(d.lhs.as_deref());
                self.duration(d.rhs.as_deref());
            }
            Expr::Paren(p) => self.duration(Some(&p.expr)),
            Expr::Unary(u) => self.duration(Some(&u.expr)),
            Expr::Binary(b) => {
                self.duration(Some(&b.lhs));
                self.duration(Some(&b.rhs));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promql::parser::parse_expr;

    fn shape(q: &str) -> QueryShape {
        QueryShape::of(&parse_expr(q).unwrap())
    }

    #[test]
    fn plain_queries_split_and_cache_up_to_the_cutoff() {
        let s = shape(r#"sum by (job) (rate(http_requests_total{job="api"}[5m]))"#);
        assert!(s.splittable && s.cacheable);
        assert_eq!(s.cacheable_until(1000), Some(1000));
    }

    #[test]
    fn start_and_end_modifiers_prevent_splitting() {
        assert!(!shape("rate(x[5m] @ start())").splittable);
        assert!(!shape("x @ end()").splittable);
        assert!(!shape("max_over_time(x[10m:1m] @ end())").splittable);
        assert_eq!(shape("x @ end()").cacheable_until(1000), None);
    }

    #[test]
    fn negative_offsets_move_the_cache_cutoff_back() {
        let s = shape("x offset -5m + rate(y[1m] offset -1m)");
        assert_eq!(s.forward_reach, 360_000);
        assert_eq!(s.cacheable_until(1_000_000), Some(640_000));
        assert_eq!(shape("x offset 5m").forward_reach, 0);
    }

    #[test]
    fn at_timestamps_after_the_cutoff_are_not_cached() {
        let s = shape("x @ 100");
        assert_eq!(s.latest_at, Some(100_000));
        assert_eq!(s.cacheable_until(200_000), Some(200_000));
        assert_eq!(s.cacheable_until(50_000), None);
    }
}

//! The PromQL syntax tree: expression nodes, their value types and source positions.
//!
//! The parser builds these nodes; the engine's preprocessing pass fills in the few
//! evaluation-time fields (resolved `@ start()`/`@ end()` timestamps, evaluated duration
//! expressions, step-invariant wrappers). Printing lives in `printer.rs`, type checking
//! in `check.rs`.

use cortex_tsdb::labels::Matcher;

use super::functions::Function;
use super::token::TokenKind;

/// A byte range `[start, end)` in the query text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct PosRange {
    /// First byte of the range.
    pub start: usize,
    /// One past the last byte of the range.
    pub end: usize,
}

impl PosRange {
    /// A range from `start` to `end`.
    pub fn new(start: usize, end: usize) -> PosRange {
        PosRange { start, end }
    }

    /// The `line:column` (both 1-based) of the range start in `query`, as Prometheus
    /// prints positions in errors and annotations.
    pub fn start_pos_input(&self, query: &str, line_offset: usize) -> String {
        if query.is_empty() {
            return "unknown position".to_string();
        }
        let pos = self.start;
        if pos > query.len() {
            return "invalid position".to_string();
        }
        let mut line = line_offset + 1;
        let mut last_break: isize = -1;
        for (i, b) in query.as_bytes()[..pos].iter().enumerate() {
            if *b == b'\n' {
                last_break = i as isize;
                line += 1;
            }
        }
        let col = pos as isize - last_break;
        format!("{line}:{col}")
    }
}

/// The type of value an expression evaluates to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueType {
    /// No value (only for malformed trees).
    None,
    /// A single number.
    Scalar,
    /// A set of series with one sample each.
    Vector,
    /// A set of series with a range of samples each.
    Matrix,
    /// A string.
    String,
}

impl ValueType {
    /// The name Prometheus uses in messages ("instant vector", "range vector", ...).
    pub fn documented(self) -> &'static str {
        match self {
            ValueType::None => "none",
            ValueType::Scalar => "scalar",
            ValueType::Vector => "instant vector",
            ValueType::Matrix => "range vector",
            ValueType::String => "string",
        }
    }

    /// The short name used in a few messages ("vector", "matrix", ...).
    pub fn short(self) -> &'static str {
        match self {
            ValueType::None => "none",
            ValueType::Scalar => "scalar",
            ValueType::Vector => "vector",
            ValueType::Matrix => "matrix",
            ValueType::String => "string",
        }
    }
}

/// An aggregation operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AggregateOp {
    /// `sum`
    Sum,
    /// `avg`
    Avg,
    /// `count`
    Count,
    /// `min`
    Min,
    /// `max`
    Max,
    /// `group`
    Group,
    /// `stddev`
    Stddev,
    /// `stdvar`
    Stdvar,
    /// `topk`
    Topk,
    /// `bottomk`
    Bottomk,
    /// `count_values`
    CountValues,
    /// `quantile`
    Quantile,
    /// `limitk`
    Limitk,
    /// `limit_ratio`
    LimitRatio,
}

impl AggregateOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            AggregateOp::Sum => "sum",
            AggregateOp::Avg => "avg",
            AggregateOp::Count => "count",
            AggregateOp::Min => "min",
            AggregateOp::Max => "max",
            AggregateOp::Group => "group",
            AggregateOp::Stddev => "stddev",
            AggregateOp::Stdvar => "stdvar",
            AggregateOp::Topk => "topk",
            AggregateOp::Bottomk => "bottomk",
            AggregateOp::CountValues => "count_values",
            AggregateOp::Quantile => "quantile",
            AggregateOp::Limitk => "limitk",
            AggregateOp::LimitRatio => "limit_ratio",
        }
    }

    /// True for the operators that take a parameter before the vector.
    pub fn has_param(self) -> bool {
        matches!(
            self,
            AggregateOp::Topk
                | AggregateOp::Bottomk
                | AggregateOp::CountValues
                | AggregateOp::Quantile
                | AggregateOp::Limitk
                | AggregateOp::LimitRatio
        )
    }
}

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `^`
    Pow,
    /// `atan2`
    Atan2,
    /// `==`
    Eql,
    /// `!=`
    Neq,
    /// `<`
    Lss,
    /// `<=`
    Lte,
    /// `>`
    Gtr,
    /// `>=`
    Gte,
    /// `</` (trim buckets above a value)
    TrimUpper,
    /// `>/` (trim buckets below a value)
    TrimLower,
    /// `and`
    And,
    /// `or`
    Or,
    /// `unless`
    Unless,
}

impl BinOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::Pow => "^",
            BinOp::Atan2 => "atan2",
            BinOp::Eql => "==",
            BinOp::Neq => "!=",
            BinOp::Lss => "<",
            BinOp::Lte => "<=",
            BinOp::Gtr => ">",
            BinOp::Gte => ">=",
            BinOp::TrimUpper => "</",
            BinOp::TrimLower => ">/",
            BinOp::And => "and",
            BinOp::Or => "or",
            BinOp::Unless => "unless",
        }
    }

    /// True for `==`, `!=`, `<`, `<=`, `>`, `>=`.
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinOp::Eql | BinOp::Neq | BinOp::Lss | BinOp::Lte | BinOp::Gtr | BinOp::Gte
        )
    }

    /// True for `and`, `or`, `unless`.
    pub fn is_set(self) -> bool {
        matches!(self, BinOp::And | BinOp::Or | BinOp::Unless)
    }

    /// True when the result no longer means what the input metric meant, so the
    /// metric name is dropped.
    pub fn changes_metric_schema(self) -> bool {
        matches!(
            self,
            BinOp::Add
                | BinOp::Sub
                | BinOp::Mul
                | BinOp::Div
                | BinOp::Pow
                | BinOp::Mod
                | BinOp::Atan2
        )
    }
}

/// Which side of a binary operation may have several series per match group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cardinality {
    /// One series on each side.
    OneToOne,
    /// `group_left`: many on the left, one on the right.
    ManyToOne,
    /// `group_right`: one on the left, many on the right.
    OneToMany,
    /// Set operators.
    ManyToMany,
}

/// How series of the two sides of a binary operation are matched.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VectorMatching {
    /// The matching cardinality.
    pub card: Option<Cardinality>,
    /// Labels listed in `on(...)` or `ignoring(...)`.
    pub matching_labels: Vec<String>,
    /// True for `on`, false for `ignoring` (or no clause).
    pub on: bool,
    /// Labels listed in `group_left(...)`/`group_right(...)`, copied from the "one" side.
    pub include: Vec<String>,
    /// `fill(...)` value used when the left side is missing.
    pub fill_lhs: Option<f64>,
    /// `fill(...)` value used when the right side is missing.
    pub fill_rhs: Option<f64>,
}

impl VectorMatching {
    /// The matching cardinality (one-to-one when unset).
    pub fn cardinality(&self) -> Cardinality {
        self.card.unwrap_or(Cardinality::OneToOne)
    }
}

/// `@ start()` or `@ end()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AtPreprocessor {
    /// `@ start()`
    Start,
    /// `@ end()`
    End,
}

/// An aggregation: `sum by (job) (x)`.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateExpr {
    /// The operator.
    pub op: AggregateOp,
    /// The aggregated vector.
    pub expr: Box<Expr>,
    /// The parameter of `topk`, `quantile`, `count_values`, ...
    pub param: Option<Box<Expr>>,
    /// Labels in `by (...)` or `without (...)`.
    pub grouping: Vec<String>,
    /// True for `without`.
    pub without: bool,
    /// Source range.
    pub pos: PosRange,
}

/// A binary operation.
#[derive(Debug, Clone, PartialEq)]
pub struct BinaryExpr {
    /// The operator.
    pub op: BinOp,
    /// Left operand.
    pub lhs: Box<Expr>,
    /// Right operand.
    pub rhs: Box<Expr>,
    /// Vector matching; `None` when an operand is a scalar.
    pub matching: Option<VectorMatching>,
    /// True with the `bool` modifier.
    pub return_bool: bool,
}

/// A function call.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The called function.
    pub func: &'static Function,
    /// Its arguments.
    pub args: Vec<Expr>,
    /// Source range.
    pub pos: PosRange,
}

/// A range vector selector: `x[5m]`.
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixSelector {
    /// The selector whose samples are taken.
    pub vs: VectorSelector,
    /// The range in milliseconds.
    pub range_ms: i64,
    /// The range as a duration expression, when it was written as one.
    pub range_expr: Option<Box<Expr>>,
    /// End of the source range.
    pub end_pos: usize,
}

/// A subquery: `expr[range:step]`.
#[derive(Debug, Clone, PartialEq)]
pub struct SubqueryExpr {
    /// The inner expression, evaluated at every step.
    pub expr: Box<Expr>,
    /// The range in milliseconds.
    pub range_ms: i64,
    /// The range as a duration expression, when it was written as one.
    pub range_expr: Option<Box<Expr>>,
    /// The offset in milliseconds.
    pub offset_ms: i64,
    /// The offset as a duration expression, when it was written as one.
    pub offset_expr: Option<Box<Expr>>,
    /// The `@` timestamp in milliseconds.
    pub timestamp: Option<i64>,
    /// `@ start()` / `@ end()`.
    pub start_or_end: Option<AtPreprocessor>,
    /// The step in milliseconds (0: the engine's default).
    pub step_ms: i64,
    /// The step as a duration expression, when it was written as one.
    pub step_expr: Option<Box<Expr>>,
    /// End of the source range.
    pub end_pos: usize,
}

/// A number.
#[derive(Debug, Clone, PartialEq)]
pub struct NumberLiteral {
    /// The value.
    pub val: f64,
    /// True when written as a duration (`5m`); printed back as one.
    pub duration: bool,
    /// Source range.
    pub pos: PosRange,
}

/// A parenthesised expression.
#[derive(Debug, Clone, PartialEq)]
pub struct ParenExpr {
    /// The inner expression.
    pub expr: Box<Expr>,
    /// Source range (including the parentheses).
    pub pos: PosRange,
}

/// A string.
#[derive(Debug, Clone, PartialEq)]
pub struct StringLiteral {
    /// The unquoted value (invalid UTF-8 replaced by U+FFFD).
    pub val: String,
    /// The raw unquoted bytes when they are not valid UTF-8 (`"\xff"`).
    pub invalid_utf8: Option<Vec<u8>>,
    /// Source range.
    pub pos: PosRange,
}

/// A unary `-` or `+`.
#[derive(Debug, Clone, PartialEq)]
pub struct UnaryExpr {
    /// True for `-`.
    pub negate: bool,
    /// The operand.
    pub expr: Box<Expr>,
    /// Position of the operator.
    pub start_pos: usize,
}

/// An instant vector selector: `x{job="api"} offset 5m @ 100`.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorSelector {
    /// The metric name written before the braces (empty if none).
    pub name: String,
    /// The label matchers (including one for `name`, if given).
    pub matchers: Vec<Matcher>,
    /// The offset in milliseconds.
    pub offset_ms: i64,
    /// The offset as a duration expression, when it was written as one.
    pub offset_expr: Option<Box<Expr>>,
    /// The `@` timestamp in milliseconds.
    pub timestamp: Option<i64>,
    /// `@ start()` / `@ end()`.
    pub start_or_end: Option<AtPreprocessor>,
    /// The `anchored` modifier.
    pub anchored: bool,
    /// The `smoothed` modifier.
    pub smoothed: bool,
    /// Skips the empty-matcher check (the selector argument of `info()`).
    pub bypass_empty_matcher_check: bool,
    /// Source range.
    pub pos: PosRange,
}

/// A node whose value is the same at every step; evaluated once (set by the engine).
#[derive(Debug, Clone, PartialEq)]
pub struct StepInvariantExpr {
    /// The wrapped expression.
    pub expr: Box<Expr>,
}

/// An arithmetic expression over durations (experimental): `[1h + step()]`.
#[derive(Debug, Clone, PartialEq)]
pub struct DurationExpr {
    /// The operator: `+ - * / % ^`, or `step`, `range`, `min_of`, `max_of`.
    pub op: TokenKind,
    /// Left operand (absent for unary operators and `step()`/`range()`).
    pub lhs: Option<Box<Expr>>,
    /// Right operand (absent for `step()`/`range()`).
    pub rhs: Option<Box<Expr>>,
    /// True when written in parentheses.
    pub wrapped: bool,
    /// Start position for unary operators and `step()`/`range()`.
    pub start_pos: usize,
    /// End position for `step()`/`range()`.
    pub end_pos: usize,
}

/// A PromQL expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `sum(x)`
    Aggregate(AggregateExpr),
    /// `a + b`
    Binary(BinaryExpr),
    /// `rate(x[5m])`
    Call(Call),
    /// `x[5m]`
    MatrixSelector(MatrixSelector),
    /// `x[5m:1m]`
    Subquery(SubqueryExpr),
    /// `1.5`
    NumberLiteral(NumberLiteral),
    /// `(a)`
    Paren(ParenExpr),
    /// `"s"`
    StringLiteral(StringLiteral),
    /// `-a`
    Unary(UnaryExpr),
    /// `x{a="b"}`
    VectorSelector(VectorSelector),
    /// Evaluated once, repeated at every step.
    StepInvariant(StepInvariantExpr),
    /// `1h + step()`
    Duration(DurationExpr),
}

impl Expr {
    /// The type of value the expression produces.
    pub fn value_type(&self) -> ValueType {
        match self {
            Expr::Aggregate(_) | Expr::VectorSelector(_) => ValueType::Vector,
            Expr::Binary(b) => {
                if b.lhs.value_type() == ValueType::Scalar
                    && b.rhs.value_type() == ValueType::Scalar
                {
                    ValueType::Scalar
                } else {
                    ValueType::Vector
                }
            }
            Expr::Call(c) => c.func.return_type,
            Expr::MatrixSelector(_) | Expr::Subquery(_) => ValueType::Matrix,
            Expr::NumberLiteral(_) | Expr::Duration(_) => ValueType::Scalar,
            Expr::Paren(p) => p.expr.value_type(),
            Expr::StringLiteral(_) => ValueType::String,
            Expr::Unary(u) => u.expr.value_type(),
            Expr::StepInvariant(s) => s.expr.value_type(),
        }
    }

    /// The source range the expression was parsed from.
    pub fn pos(&self) -> PosRange {
        match self {
            Expr::Aggregate(a) => a.pos,
            Expr::Binary(b) => PosRange::new(b.lhs.pos().start, b.rhs.pos().end),
            Expr::Call(c) => c.pos,
            Expr::MatrixSelector(m) => PosRange::new(m.vs.pos.start, m.end_pos),
            Expr::Subquery(s) => PosRange::new(s.expr.pos().start, s.end_pos),
            Expr::NumberLiteral(n) => n.pos,
            Expr::Paren(p) => p.pos,
            Expr::StringLiteral(s) => s.pos,
            Expr::Unary(u) => PosRange::new(u.start_pos, u.expr.pos().end),
            Expr::VectorSelector(v) => v.pos,
            Expr::StepInvariant(s) => s.expr.pos(),
            Expr::Duration(d) => match (&d.lhs, &d.rhs) {
                (None, None) => PosRange::new(d.start_pos, d.end_pos),
                (Some(l), None) => PosRange::new(d.start_pos, l.pos().end),
                (None, Some(r)) => PosRange::new(d.start_pos, r.pos().end),
                (Some(l), Some(r)) => PosRange::new(l.pos().start, r.pos().end),
            },
        }
    }

    /// The direct child expressions. The selector inside a matrix selector and the
    /// duration expressions attached to selectors are not children.
    pub fn children(&self) -> Vec<&Expr> {
        match self {
            Expr::Aggregate(a) => {
                let mut v = vec![&*a.expr];
                if let Some(p) = &a.param {
                    v.push(p);
                }
                v
            }
            Expr::Binary(b) => vec![&*b.lhs, &*b.rhs],
            Expr::Call(c) => c.args.iter().collect(),
            Expr::Subquery(s) => vec![&*s.expr],
            Expr::Paren(p) => vec![&*p.expr],
            Expr::Unary(u) => vec![&*u.expr],
            Expr::StepInvariant(s) => vec![&*s.expr],
            Expr::NumberLiteral(_)
            | Expr::MatrixSelector(_)
            | Expr::StringLiteral(_)
            | Expr::VectorSelector(_)
            | Expr::Duration(_) => vec![],
        }
    }

    /// Visits every node depth-first with the path of its ancestors; stops early when
    /// `f` returns false for a node (its children are then skipped).
    pub fn inspect<'a>(&'a self, f: &mut dyn FnMut(&'a Expr, &[&'a Expr]) -> bool) {
        let mut path = Vec::new();
        self.inspect_inner(&mut path, f);
    }

    fn inspect_inner<'a>(
        &'a self,
        path: &mut Vec<&'a Expr>,
        f: &mut dyn FnMut(&'a Expr, &[&'a Expr]) -> bool,
    ) {
        if !f(self, path) {
            return;
        }
        path.push(self);
        for c in self.children() {
            c.inspect_inner(path, f);
        }
        path.pop();
    }
}

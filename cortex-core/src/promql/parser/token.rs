//! Tokens of the PromQL lexer: their kinds, keyword table and the descriptions used in
//! "unexpected ..." parse errors.

/// The kind of a lexed token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum TokenKind {
    Eof,
    Comma,
    Colon,
    LeftParen,
    RightParen,
    LeftBrace,
    RightBrace,
    LeftBracket,
    RightBracket,
    Identifier,
    MetricIdentifier,
    Number,
    Duration,
    String,
    // Operators.
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Eql,
    Eqlc,
    Neq,
    Lss,
    Lte,
    Gtr,
    Gte,
    TrimUpper,
    TrimLower,
    EqlRegex,
    NeqRegex,
    Land,
    Lor,
    Lunless,
    Atan2,
    At,
    // Aggregators.
    Sum,
    Avg,
    Count,
    Min,
    Max,
    Group,
    Stddev,
    Stdvar,
    Topk,
    Bottomk,
    CountValues,
    Quantile,
    Limitk,
    LimitRatio,
    // Keywords.
    Bool,
    By,
    GroupLeft,
    GroupRight,
    Fill,
    FillLeft,
    FillRight,
    Ignoring,
    Offset,
    Smoothed,
    Anchored,
    On,
    Without,
    // Preprocessors.
    Start,
    End,
    Step,
    Range,
    MaxOf,
    MinOf,
}

use TokenKind as K;

/// Keywords recognised outside braces (case-insensitively); `inf` and `nan` lex as
/// numbers.
pub fn keyword(word_lower: &str) -> Option<TokenKind> {
    Some(match word_lower {
        "and" => K::Land,
        "or" => K::Lor,
        "unless" => K::Lunless,
        "atan2" => K::Atan2,
        "sum" => K::Sum,
        "avg" => K::Avg,
        "count" => K::Count,
        "min" => K::Min,
        "max" => K::Max,
        "group" => K::Group,
        "stddev" => K::Stddev,
        "stdvar" => K::Stdvar,
        "topk" => K::Topk,
        "bottomk" => K::Bottomk,
        "count_values" => K::CountValues,
        "quantile" => K::Quantile,
        "limitk" => K::Limitk,
        "limit_ratio" => K::LimitRatio,
        "offset" => K::Offset,
        "smoothed" => K::Smoothed,
        "anchored" => K::Anchored,
        "by" => K::By,
        "without" => K::Without,
        "on" => K::On,
        "ignoring" => K::Ignoring,
        "group_left" => K::GroupLeft,
        "group_right" => K::GroupRight,
        "fill" => K::Fill,
        "fill_left" => K::FillLeft,
        "fill_right" => K::FillRight,
        "bool" => K::Bool,
        "start" => K::Start,
        "end" => K::End,
        "step" => K::Step,
        "range" => K::Range,
        "max_of" => K::MaxOf,
        "min_of" => K::MinOf,
        "inf" | "nan" => K::Number,
        _ => return None,
    })
}

impl TokenKind {
    /// The canonical spelling of fixed tokens, as Prometheus' `ItemTypeStr`.
    pub fn fixed_str(self) -> Option<&'static str> {
        Some(match self {
            K::LeftParen => "(",
            K::RightParen => ")",
            K::LeftBrace => "{",
            K::RightBrace => "}",
            K::LeftBracket => "[",
            K::RightBracket => "]",
            K::Comma => ",",
            K::Eql => "=",
            K::Colon => ":",
            K::Sub => "-",
            K::Add => "+",
            K::Mul => "*",
            K::Mod => "%",
            K::Div => "/",
            K::Eqlc => "==",
            K::Neq => "!=",
            K::Lte => "<=",
            K::Lss => "<",
            K::Gte => ">=",
            K::Gtr => ">",
            K::TrimUpper => "</",
            K::TrimLower => ">/",
            K::EqlRegex => "=~",
            K::NeqRegex => "!~",
            K::Pow => "^",
            K::At => "@",
            K::Land => "and",
            K::Lor => "or",
            K::Lunless => "unless",
            K::Atan2 => "atan2",
            K::Sum => "sum",
            K::Avg => "avg",
            K::Count => "count",
            K::Min => "min",
            K::Max => "max",
            K::Group => "group",
            K::Stddev => "stddev",
            K::Stdvar => "stdvar",
            K::Topk => "topk",
            K::Bottomk => "bottomk",
            K::CountValues => "count_values",
            K::Quantile => "quantile",
            K::Limitk => "limitk",
            K::LimitRatio => "limit_ratio",
            K::Offset => "offset",
            K::Smoothed => "smoothed",
            K::Anchored => "anchored",
            K::By => "by",
            K::Without => "without",
            K::On => "on",
            K::Ignoring => "ignoring",
            K::GroupLeft => "group_left",
            K::GroupRight => "group_right",
            K::Fill => "fill",
            K::FillLeft => "fill_left",
            K::FillRight => "fill_right",
            K::Bool => "bool",
            K::Start => "start",
            K::End => "end",
            K::Step => "step",
            K::Range => "range",
            K::MaxOf => "max_of",
            K::MinOf => "min_of",
            _ => return None,
        })
    }

    /// True for operators (`+`, `==`, `and`, `@`, ...).
    pub fn is_operator(self) -> bool {
        matches!(
            self,
            K::Add
                | K::Sub
                | K::Mul
                | K::Div
                | K::Mod
                | K::Pow
                | K::Eqlc
                | K::Neq
                | K::Lss
                | K::Lte
                | K::Gtr
                | K::Gte
                | K::TrimUpper
                | K::TrimLower
                | K::EqlRegex
                | K::NeqRegex
                | K::Land
                | K::Lor
                | K::Lunless
                | K::Atan2
                | K::At
        )
    }

    /// True for aggregation operators.
    pub fn is_aggregator(self) -> bool {
        matches!(
            self,
            K::Sum
                | K::Avg
                | K::Count
                | K::Min
                | K::Max
                | K::Group
                | K::Stddev
                | K::Stdvar
                | K::Topk
                | K::Bottomk
                | K::CountValues
                | K::Quantile
                | K::Limitk
                | K::LimitRatio
        )
    }

    /// True for keywords (`by`, `offset`, `bool`, ...).
    pub fn is_keyword(self) -> bool {
        matches!(
            self,
            K::Bool
                | K::By
                | K::GroupLeft
                | K::GroupRight
                | K::Fill
                | K::FillLeft
                | K::FillRight
                | K::Ignoring
                | K::Offset
                | K::Smoothed
                | K::Anchored
                | K::On
                | K::Without
        )
    }

    /// Tokens that may serve as a label name in grouping clauses (Prometheus'
    /// `maybe_label`).
    pub fn is_maybe_label(self) -> bool {
        matches!(self, K::Identifier | K::MetricIdentifier | K::Atan2)
            || self.is_aggregator()
            || self.is_keyword()
            || matches!(self, K::Land | K::Lor | K::Lunless)
            || matches!(
                self,
                K::Start | K::End | K::Step | K::Range | K::MaxOf | K::MinOf
            )
    }

    /// Tokens that may serve as a metric name (Prometheus' `metric_identifier`).
    pub fn is_metric_identifier(self) -> bool {
        matches!(self, K::Identifier | K::MetricIdentifier)
            || self.is_aggregator()
            || matches!(
                self,
                K::By
                    | K::Fill
                    | K::FillLeft
                    | K::FillRight
                    | K::Land
                    | K::Lor
                    | K::Lunless
                    | K::Offset
                    | K::Without
                    | K::Start
                    | K::End
                    | K::Step
                    | K::Range
                    | K::Anchored
                    | K::Smoothed
                    | K::MaxOf
                    | K::MinOf
            )
    }
}

/// A lexed token: kind and byte span in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    /// The kind.
    pub kind: TokenKind,
    /// Byte offset of the first character.
    pub pos: usize,
    /// Byte length.
    pub len: usize,
}

impl Token {
    /// The token text within `input`.
    pub fn text<'a>(&self, input: &'a str) -> &'a str {
        &input[self.pos..self.pos + self.len]
    }

    /// Prometheus' description of an item in "unexpected ..." messages.
    pub fn describe(&self, input: &str) -> String {
        let text = self.text(input);
        if self.kind == K::Eof {
            return "end of input".to_string();
        }
        if self.kind.fixed_str().is_some() {
            return item_string(self.kind, text);
        }
        let prefix = match self.kind {
            K::Identifier => "identifier",
            K::MetricIdentifier => "metric identifier",
            K::String => "string",
            K::Number => "number",
            K::Duration => "duration",
            _ => "",
        };
        format!("{prefix} {}", item_string(self.kind, text))
    }
}

/// Prometheus' `Item.String()`.
fn item_string(kind: TokenKind, text: &str) -> String {
    if matches!(kind, K::Identifier | K::MetricIdentifier) {
        return super::literal::go_quote(text);
    }
    if kind.is_keyword() {
        return format!("<{text}>");
    }
    if kind.is_operator() {
        return format!("<op:{text}>");
    }
    if kind.is_aggregator() {
        return format!("<aggr:{text}>");
    }
    if text.chars().count() > 10 {
        let short: String = text.chars().take(10).collect();
        return format!("{}...", super::literal::go_quote(&short));
    }
    super::literal::go_quote(text)
}

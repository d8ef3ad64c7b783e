//! The PromQL parser: query text to [`Expr`], with Prometheus 3.x syntax (including the
//! experimental duration expressions, `anchored`/`smoothed` range selectors and binary
//! `fill` modifiers) and Prometheus' error positions and messages.
//!
//! Parsing happens in three steps: the lexer ([`lexer`]) produces tokens, the
//! recursive-descent parser (`expr.rs`, `duration.rs`) builds the tree, and the type
//! checker (`check.rs`) rejects ill-typed trees. [`parse_expr`] runs all three.

pub mod ast;
mod brackets;
mod call;
mod check;
mod duration;
mod expr;
pub mod functions;
pub mod lexer;
pub mod literal;
pub mod pretty;
mod printer;
mod scan;
mod selector;
pub mod token;

use std::fmt;

pub use ast::*;
pub use functions::{Function, get_function};

/// A parse failure: where and what, printed as Prometheus prints it
/// (`1:5: parse error: unexpected identifier "bar"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The offending byte range in the query.
    pub pos: PosRange,
    /// The message, without position.
    pub msg: String,
    /// The query text (used to compute line and column).
    pub query: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: parse error: {}",
            self.pos.start_pos_input(&self.query, 0),
            self.msg
        )
    }
}

impl std::error::Error for ParseError {}

/// Parses and type-checks a PromQL expression.
pub fn parse_expr(input: &str) -> Result<Expr, ParseError> {
    let mut expr = expr::Parser::new(input).parse()?;
    check::check_mut(&mut expr, input)?;
    Ok(expr)
}

#[cfg(test)]
mod tests;

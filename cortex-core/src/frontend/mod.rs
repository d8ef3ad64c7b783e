//! The query-frontend's work on range queries, as Cortex's `query_range` middlewares
//! do it: align a query to its step, split it at interval boundaries (a day by
//! default), answer what it can from the results cache, evaluate the rest (several
//! stretches at once) and merge the pieces into the result the whole query gives.
//!
//! - [`split`]: step alignment and interval splitting of the evaluation grid.
//! - [`shape`]: what a query's expression allows (splitting, caching, how far past a
//!   timestamp it reads).
//! - [`extent`]: the cached values — extents of results — and their byte format.
//! - [`merge`]: matrices cut to a stretch of time and merged back together.
//! - [`range`]: [`RangeFrontend`], which does the above around an evaluation function.
//!
//! The frontend is independent of how a stretch is evaluated: the server hands it a
//! function that runs the PromQL engine over the querier.

pub mod extent;
pub mod merge;
pub mod range;
pub mod shape;
pub mod split;

#[cfg(test)]
mod tests;

pub use extent::{Extent, ExtentError};
pub use range::{FrontendStats, RangeFrontend, RangeQuery, RangeResult};
pub use shape::QueryShape;

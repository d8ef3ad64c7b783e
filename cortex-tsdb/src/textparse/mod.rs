//! Text formats that carry samples: OpenMetrics (what `promtool tsdb create-blocks-from
//! openmetrics` reads) and the float syntax shared by Prometheus' text parsers.

mod float;
mod openmetrics;

pub use float::parse_go_float;
pub use openmetrics::{Entry, Exemplar, MetricType, OpenMetricsParser, ParseError, SeriesEntry};

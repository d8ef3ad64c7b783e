//! The range query frontend's metrics: queries, stretches evaluated, results cache
//! hits, misses and unreadable values, and the results cache's own counters.

use std::sync::Arc;

use cortex_core::frontend::RangeFrontend;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::registry::Registry;

/// Reads the frontend's counters when scraped.
#[derive(Debug)]
struct FrontendCollector(Arc<RangeFrontend>);

impl Collector for FrontendCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = self.0.stats();
        let mut counters = vec![
            (
                "cortex_frontend_query_range",
                "Range queries run through the query frontend.",
                s.queries,
            ),
            (
                "cortex_frontend_split_queries",
                "Stretches of range queries the engine evaluated (split parts and cache gaps).",
                s.evaluated,
            ),
            (
                "cortex_frontend_results_cache_hits",
                "Split parts answered wholly from the results cache.",
                s.cache_hits,
            ),
            (
                "cortex_frontend_results_cache_misses",
                "Cacheable split parts that needed evaluating.",
                s.cache_misses,
            ),
            (
                "cortex_frontend_results_cache_corrupt",
                "Results cache values that could not be read and were ignored.",
                s.cache_corrupt,
            ),
        ];
        if let Some(cache) = self.0.cache() {
            let c = cache.stats();
            counters.extend([
                (
                    "cortex_frontend_results_cache_fetched_keys",
                    "Keys looked up in the results cache.",
                    c.requests,
                ),
                (
                    "cortex_frontend_results_cache_found_keys",
                    "Keys found in the results cache.",
                    c.hits,
                ),
                (
                    "cortex_frontend_results_cache_stored_items",
                    "Values accepted for storing in the results cache.",
                    c.stored,
                ),
            ]);
        }
        for (name, help, v) in counters {
            let c = ConstCounter::new(v);
            c.encode(encoder.encode_descriptor(name, help, None, c.metric_type())?)?;
        }
        Ok(())
    }
}

/// Registers the frontend's metrics.
pub(crate) fn register(frontend: Arc<RangeFrontend>, registry: &mut Registry) {
    registry.register_collector(Box::new(FrontendCollector(frontend)));
}

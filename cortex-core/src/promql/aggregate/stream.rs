//! Streaming aggregation (placeholder).

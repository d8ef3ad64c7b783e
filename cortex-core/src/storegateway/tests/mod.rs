//! Tests of the store-gateway blocks against cortex-tsdb's own block reader.

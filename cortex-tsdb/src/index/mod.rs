//! The block index, format v2: symbols, series with their chunk metas, postings and the
//! tables that find them.

//! The [`Querier`] over a local TSDB ([`cortex_tsdb::db::Db`]): blocks and head, merged,
//! as of the moment of each select.
//!
//! Start timestamps are not stored by the TSDB and read as 0; histograms come back with
//! the counter-reset hints the chunks carry.

use std::sync::Arc;

use cortex_tsdb::chunkenc::ValueType;
use cortex_tsdb::db::Db;
use cortex_tsdb::labels::{Labels, Matcher};
use cortex_tsdb::querier::{SampleIterator as TsdbIterator, SeriesIter};

use super::{Querier, QuerierError, Sample, SampleIterator, SampleValue, SelectHints, Series};

/// Reads a [`Db`].
#[derive(Clone)]
pub struct TsdbQuerier {
    db: Arc<Db>,
}

impl TsdbQuerier {
    /// A querier over `db`.
    pub fn new(db: Arc<Db>) -> TsdbQuerier {
        TsdbQuerier { db }
    }
}

pub(crate) fn storage(e: cortex_tsdb::Error) -> QuerierError {
    QuerierError::Storage(e.to_string())
}

impl Querier for TsdbQuerier {
    fn select(
        &self,
        hints: &SelectHints,
        matchers: &[Matcher],
    ) -> Result<Vec<Arc<dyn Series>>, QuerierError> {
        let q = self.db.querier(hints.start, hints.end);
        let series = q.select(matchers).map_err(storage)?;
        Ok(series.into_iter().map(wrap).collect())
    }

    fn label_names(
        &self,
        start: i64,
        end: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, QuerierError> {
        self.db
            .querier(start, end)
            .label_names(matchers)
            .map_err(storage)
    }

    fn label_values(
        &self,
        name: &str,
        start: i64,
        end: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, QuerierError> {
        self.db
            .querier(start, end)
            .label_values(name, matchers)
            .map_err(storage)
    }
}

/// A TSDB series as a [`Series`].
pub(crate) fn wrap(s: cortex_tsdb::querier::Series) -> Arc<dyn Series> {
    Arc::new(TsdbSeries(s))
}

struct TsdbSeries(cortex_tsdb::querier::Series);

impl Series for TsdbSeries {
    fn labels(&self) -> &Labels {
        &self.0.labels
    }

    fn samples(&self) -> Box<dyn SampleIterator + '_> {
        Box::new(TsdbSamples(self.0.iter()))
    }
}

struct TsdbSamples<'a>(SeriesIter<'a>);

impl TsdbSamples<'_> {
    fn current(&self, vt: ValueType) -> Sample {
        match vt {
            ValueType::Float => {
                let (t, v) = self.0.at();
                Sample {
                    t,
                    st: 0,
                    value: SampleValue::Float(v),
                }
            }
            ValueType::Histogram | ValueType::FloatHistogram => {
                let (t, h) = self.0.at_float_histogram();
                Sample {
                    t,
                    st: 0,
                    value: SampleValue::Histogram(Arc::new(h)),
                }
            }
        }
    }
}

impl SampleIterator for TsdbSamples<'_> {
    fn next(&mut self) -> Result<Option<Sample>, QuerierError> {
        Ok(self.0.next().map_err(storage)?.map(|vt| self.current(vt)))
    }

    fn seek(&mut self, t: i64) -> Result<Option<Sample>, QuerierError> {
        Ok(self.0.seek(t).map_err(storage)?.map(|vt| self.current(vt)))
    }
}

/// Label names of the series of `b` matching `matchers` (all when empty).
pub(crate) fn block_label_names(
    b: &cortex_tsdb::block::Block,
    matchers: &[Matcher],
) -> cortex_tsdb::Result<Vec<String>> {
    let found = if matchers.is_empty() {
        b.index().label_names()
    } else {
        b.index().label_names_matching(matchers)?
    };
    Ok(found
        .into_iter()
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect())
}

/// Values of `name` among the series of `b` matching `matchers` (all when empty).
pub(crate) fn block_label_values(
    b: &cortex_tsdb::block::Block,
    name: &str,
    matchers: &[Matcher],
) -> cortex_tsdb::Result<Vec<String>> {
    let found = if matchers.is_empty() {
        b.index().label_values(name)?
    } else {
        b.index().label_values_matching(name, matchers)?
    };
    Ok(found.into_iter().map(str::to_string).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::querier::testing::{Capabilities, run_conformance_with};
    use cortex_tsdb::db::DbOptions;

    #[test]
    fn tsdb_querier_passes_the_querier_conformance_suite() {
        let dir = tempfile::tempdir().unwrap();
        let caps = Capabilities {
            start_timestamps: false,
            counter_reset_hints: false,
        };
        run_conformance_with(caps, |data| {
            let db = Db::open(
                dir.path(),
                DbOptions {
                    retention: None,
                    ..Default::default()
                },
            )
            .unwrap();
            let mut app = db.appender();
            for (labels, samples) in data {
                for s in samples {
                    match &s.value {
                        SampleValue::Float(v) => {
                            app.append(labels, s.t, *v).unwrap();
                        }
                        SampleValue::Histogram(h) => {
                            app.append_float_histogram(labels, s.t, h).unwrap();
                        }
                    }
                }
            }
            app.commit().unwrap();
            TsdbQuerier::new(db)
        });
    }
}

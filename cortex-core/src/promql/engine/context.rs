//! The per-query context shared by all evaluators of a query: storage access
//! (each selector's series fetched once, with its hints), the deadline and
//! cancellation checks, the sample limit, and the annotations collected so far.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use super::CancelToken;
use super::evaluator::EvalError;
use super::preprocess::selector_key;
use crate::promql::annotations::{Annotation, Annotations};
use crate::promql::parser::VectorSelector;
use crate::querier::{Querier, SelectHints, Series as StorageSeries};

/// The selected series of one selector.
pub(crate) type SeriesList = Rc<Vec<Arc<dyn StorageSeries>>>;

/// State shared by all evaluators of one query.
pub(crate) struct QueryCtx<'a> {
    querier: &'a dyn Querier,
    hints: &'a HashMap<usize, SelectHints>,
    stats_only: &'a HashSet<usize>,
    series: RefCell<HashMap<usize, SeriesList>>,
    annotations: RefCell<Annotations>,
    pub(crate) max_samples: usize,
    deadline: Instant,
    cancel: Option<&'a CancelToken>,
    checks: Cell<u32>,
}

impl<'a> QueryCtx<'a> {
    pub(crate) fn new(
        querier: &'a dyn Querier,
        hints: &'a HashMap<usize, SelectHints>,
        stats_only: &'a HashSet<usize>,
        max_samples: usize,
        deadline: Instant,
        cancel: Option<&'a CancelToken>,
    ) -> QueryCtx<'a> {
        QueryCtx {
            querier,
            hints,
            stats_only,
            series: RefCell::new(HashMap::new()),
            annotations: RefCell::new(Annotations::new()),
            max_samples,
            deadline,
            cancel,
            checks: Cell::new(0),
        }
    }

    /// Fails when the query was canceled or ran out of time. Cheap: the clock is read
    /// on every 64th call.
    /// Fails when the query was canceled or ran out of time. Cheap: the clock is read
    /// on the first call and then on every 64th.
    pub(crate) fn check_done(&self) -> Result<(), EvalError> {
        if self.cancel.is_some_and(CancelToken::is_canceled) {
            return Err(EvalError::Canceled);
        }
        let n = self.checks.get().wrapping_add(1);
        self.checks.set(n);
        if n % 64 == 1 && Instant::now() >= self.deadline {
            return Err(EvalError::Timeout);
        }
        Ok(())
    }

    /// Records an annotation.
    pub(crate) fn annotate(&self, a: Annotation) {
        self.annotations.borrow_mut().add(a);
    }

    /// Records annotations.
    pub(crate) fn annotate_all(&self, a: Annotations) {
        if !a.is_empty() {
            self.annotations.borrow_mut().merge(a);
        }
    }

    pub(crate) fn take_annotations(&self) -> Annotations {
        std::mem::take(&mut *self.annotations.borrow_mut())
    }

    /// Selects series directly (for lookups the query text does not contain).
    pub(crate) fn select(
        &self,
        hints: &SelectHints,
        matchers: &[cortex_tsdb::labels::Matcher],
    ) -> Result<Vec<Arc<dyn StorageSeries>>, EvalError> {
        self.querier
            .select(hints, matchers)
            .map_err(EvalError::Storage)
    }

    /// The series a selector selects (fetched once per query).
    pub(crate) fn series_for(&self, vs: &VectorSelector) -> Result<SeriesList, EvalError> {
        let key = selector_key(vs);
        if let Some(s) = self.series.borrow().get(&key) {
            return Ok(s.clone());
        }
        let hints = self
            .hints
            .get(&key)
            .cloned()
            .unwrap_or_else(|| SelectHints {
                start: i64::MIN,
                end: i64::MAX,
                ..Default::default()
            });
        let mut selected = self
            .querier
            .select(&hints, &vs.matchers)
            .map_err(EvalError::Storage)?;
        // Results are ordered by labels whatever order storage returns.
        if !selected.is_sorted_by(|a, b| a.labels() <= b.labels()) {
            selected.sort_by(|a, b| a.labels().cmp(b.labels()));
        }
        if self.stats_only.contains(&key) {
            selected = selected
                .into_iter()
                .map(|s| Arc::new(super::stats::StatsSeries(s)) as Arc<dyn StorageSeries>)
                .collect();
        }
        let series = Rc::new(selected);
        self.series.borrow_mut().insert(key, series.clone());
        Ok(series)
    }
}

//! Quorum accounting for one item (a series or a metadata entry) of a batch written to
//! its replicas: Cortex's `itemTracker` from `ring.DoBatch`.
//!
//! An item sent to `n` replicas of which `max_errors` may fail succeeds once
//! `n - max_errors` replicas stored it. Client errors (4xx) and server errors (5xx) are
//! counted apart: the item fails as soon as one family alone has more than `max_errors`
//! failures, or when every replica answered without a quorum. The error reported is the
//! last one recorded for the item, whatever its family — so with RF 3, a 4xx and a 5xx
//! and a success end with whichever error came last, as in Cortex.
//!
//! What the answers are and how they are waited for is the caller's business
//! (`replicate.rs`); this only counts.

/// What an answer decided for an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Not decided yet, or decided by an earlier answer.
    Pending,
    /// A quorum of replicas stored the item.
    Succeeded,
    /// The item cannot reach a quorum; the error to report is the one tagged `E` that
    /// the caller recorded last.
    Failed,
}

/// The replica answers for one item.
#[derive(Debug, Clone)]
pub(crate) struct ItemQuorum<E> {
    min_success: usize,
    max_failures: usize,
    succeeded: usize,
    failed_client: usize,
    failed_server: usize,
    remaining: usize,
    last_error: Option<E>,
    decided: bool,
}

impl<E: Copy> ItemQuorum<E> {
    /// An item sent to `replicas` instances of which `max_errors` may fail.
    pub(crate) fn new(replicas: usize, max_errors: usize) -> ItemQuorum<E> {
        ItemQuorum {
            min_success: replicas.saturating_sub(max_errors),
            max_failures: max_errors,
            succeeded: 0,
            failed_client: 0,
            failed_server: 0,
            remaining: replicas,
            last_error: None,
            decided: false,
        }
    }

    /// The error to report once [`Decision::Failed`] was returned.
    pub(crate) fn last_error(&self) -> Option<E> {
        self.last_error
    }

    /// Records a replica that stored the item.
    pub(crate) fn record_success(&mut self) -> Decision {
        if self.decided {
            return Decision::Pending;
        }
        self.succeeded += 1;
        if self.succeeded >= self.min_success {
            self.decided = true;
            return Decision::Succeeded;
        }
        self.remaining = self.remaining.saturating_sub(1);
        if self.remaining == 0 {
            self.decided = true;
            return Decision::Failed;
        }
        Decision::Pending
    }

    /// Records a replica that failed with `err`, a client error (4xx) when `client`.
    pub(crate) fn record_error(&mut self, err: E, client: bool) -> Decision {
        if self.decided {
            return Decision::Pending;
        }
        self.last_error = Some(err);
        let count = if client {
            self.failed_client += 1;
            self.failed_client
        } else {
            self.failed_server += 1;
            self.failed_server
        };
        self.remaining = self.remaining.saturating_sub(1);
        if count > self.max_failures || self.remaining == 0 {
            self.decided = true;
            return Decision::Failed;
        }
        Decision::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quorum_of_three_tolerates_one_failure_of_either_family() {
        let mut q = ItemQuorum::new(3, 1);
        assert_eq!(q.record_error("down", false), Decision::Pending);
        assert_eq!(q.record_success(), Decision::Pending);
        assert_eq!(q.record_success(), Decision::Succeeded);

        let mut q = ItemQuorum::new(3, 1);
        assert_eq!(q.record_success(), Decision::Pending);
        assert_eq!(q.record_error("bad", true), Decision::Pending);
        assert_eq!(q.record_success(), Decision::Succeeded);
        // Later answers change nothing.
        assert_eq!(q.record_error("late", false), Decision::Pending);
        assert_eq!(q.last_error(), Some("bad"));
    }

    #[test]
    fn a_family_over_max_errors_fails_at_once() {
        let mut q = ItemQuorum::new(3, 1);
        assert_eq!(q.record_error("bad1", true), Decision::Pending);
        assert_eq!(q.record_error("bad2", true), Decision::Failed);
        assert_eq!(q.last_error(), Some("bad2"));
        assert_eq!(q.record_success(), Decision::Pending);

        let mut q = ItemQuorum::new(3, 1);
        assert_eq!(q.record_error("d1", false), Decision::Pending);
        assert_eq!(q.record_error("d2", false), Decision::Failed);
        assert_eq!(q.last_error(), Some("d2"));
    }

    #[test]
    fn mixed_families_fail_with_the_last_error_once_replicas_run_out() {
        // Cortex's examples: 2xx, 4xx, 5xx -> 5xx; 4xx, 5xx, 2xx -> the last error (5xx).
        let mut q = ItemQuorum::new(3, 1);
        assert_eq!(q.record_success(), Decision::Pending);
        assert_eq!(q.record_error("bad", true), Decision::Pending);
        assert_eq!(q.record_error("down", false), Decision::Failed);
        assert_eq!(q.last_error(), Some("down"));

        let mut q = ItemQuorum::new(3, 1);
        assert_eq!(q.record_error("bad", true), Decision::Pending);
        assert_eq!(q.record_error("down", false), Decision::Pending);
        assert_eq!(q.record_success(), Decision::Failed);
        assert_eq!(q.last_error(), Some("down"));

        let mut q = ItemQuorum::new(3, 1);
        assert_eq!(q.record_error("down", false), Decision::Pending);
        assert_eq!(q.record_error("bad", true), Decision::Pending);
        assert_eq!(q.record_success(), Decision::Failed);
        assert_eq!(q.last_error(), Some("bad"));
    }

    #[test]
    fn single_replica_needs_its_answer() {
        let mut q = ItemQuorum::<&str>::new(1, 0);
        assert_eq!(q.record_success(), Decision::Succeeded);
        let mut q = ItemQuorum::new(1, 0);
        assert_eq!(q.record_error("x", false), Decision::Failed);
    }
}

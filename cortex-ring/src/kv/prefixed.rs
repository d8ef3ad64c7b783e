//! [`PrefixedKv`]: puts every key of a [`Kv`] under a fixed prefix (Cortex's
//! `kvstore.prefix`, `collectors/` by default), so several rings or clusters can share
//! one store. Listing strips the prefix again, so callers never see it.

use std::sync::Arc;

use bytes::Bytes;

use super::{CasFn, Kv, KvError, StopSignal};

/// A view of `inner` whose keys are stored as `prefix + key`.
pub struct PrefixedKv {
    inner: Arc<dyn Kv>,
    prefix: String,
}

impl PrefixedKv {
    /// Wraps `inner`; `prefix` is used as given (include the trailing `/`).
    pub fn new(inner: Arc<dyn Kv>, prefix: impl Into<String>) -> PrefixedKv {
        PrefixedKv {
            inner,
            prefix: prefix.into(),
        }
    }

    fn full(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}

impl Kv for PrefixedKv {
    fn get(&self, key: &str) -> Result<Option<Bytes>, KvError> {
        self.inner.get(&self.full(key))
    }

    fn cas(&self, key: &str, f: &mut CasFn<'_>) -> Result<(), KvError> {
        self.inner.cas(&self.full(key), f).map_err(|e| match e {
            KvError::CasFailed { .. } => KvError::CasFailed {
                key: key.to_string(),
            },
            other => other,
        })
    }

    fn delete(&self, key: &str) -> Result<(), KvError> {
        self.inner.delete(&self.full(key))
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, KvError> {
        Ok(self
            .inner
            .list(&self.full(prefix))?
            .into_iter()
            .filter_map(|k| k.strip_prefix(&self.prefix).map(String::from))
            .collect())
    }

    fn watch_key(&self, key: &str, stop: &StopSignal, f: &mut dyn FnMut(Option<Bytes>) -> bool) {
        self.inner.watch_key(&self.full(key), stop, f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::memory::InMemoryKv;

    #[test]
    fn prefixed_kv_passes_the_conformance_suite() {
        crate::kv::testing::kv_conformance(&PrefixedKv::new(Arc::new(InMemoryKv::new()), "p/"));
    }

    #[test]
    fn keys_live_under_the_prefix_and_list_without_it() {
        let inner = Arc::new(InMemoryKv::new());
        let kv = PrefixedKv::new(inner.clone(), "collectors/");
        kv.cas("ring", &mut |_| Ok(Some(Bytes::from_static(b"x"))))
            .unwrap();
        assert_eq!(
            inner.get("collectors/ring").unwrap(),
            Some(Bytes::from_static(b"x"))
        );
        assert_eq!(inner.get("ring").unwrap(), None);
        assert_eq!(kv.list("r").unwrap(), vec!["ring"]);
        kv.delete("ring").unwrap();
        assert_eq!(inner.get("collectors/ring").unwrap(), None);
    }
}

//! Metric metadata (type, help, unit) per tenant, kept in memory as Cortex keeps it: a
//! map from metric name to the set of distinct metadata sent for it, each remembered
//! with when it was last seen and forgotten after the retain period
//! (`ingester.metadata_retain_period`). Limits: metric names per tenant
//! (`max_metadata_per_user`) and distinct metadata per name (`max_metadata_per_metric`).
//! Metadata is best effort: a rejected entry is counted and logged by the caller, never
//! fails a push. [`TenantMetadata::query`] serves `/api/v1/metadata`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use crate::remote_write::{MetricMetadata, MetricType};

use super::limits::LimitValue;

/// One metadata entry, owned.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MetadataEntry {
    /// The metric family name.
    pub metric_family_name: String,
    /// Its type.
    pub metric_type: MetricTypeKey,
    /// Help text.
    pub help: String,
    /// Unit.
    pub unit: String,
}

/// [`MetricType`] as a hashable, ordered key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MetricTypeKey(pub &'static str);

impl MetadataEntry {
    /// Owns the strings of a decoded entry.
    pub fn from_request(m: &MetricMetadata<'_>) -> MetadataEntry {
        MetadataEntry {
            metric_family_name: m.metric_family_name.to_string(),
            metric_type: MetricTypeKey(m.metric_type.as_str()),
            help: m.help.to_string(),
            unit: m.unit.to_string(),
        }
    }

    /// The type's lower-case name (`counter`, `gauge`, ...).
    pub fn type_name(&self) -> &'static str {
        self.metric_type.0
    }
}

impl From<MetricType> for MetricTypeKey {
    fn from(t: MetricType) -> Self {
        MetricTypeKey(t.as_str())
    }
}

/// Why a metadata entry was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    /// The tenant has metadata for as many metric names as it may.
    #[error(
        "per-user metric metadata limit of {configured} exceeded, {advice} (local limit: {} global limit: {} actual local limit: {})",
        limit.local, limit.global, limit.effective
    )]
    PerUserLimit {
        /// The limit.
        limit: LimitValue,
        /// `limit.configured()`.
        configured: usize,
        /// The administrator advice.
        advice: String,
    },
    /// The metric has as many distinct metadata as it may.
    #[error(
        "per-metric metadata limit of {configured} exceeded for metric {metric}, {advice} (local limit: {} global limit: {} actual local limit: {}) for series {{__name__=\"{metric}\"}}",
        limit.local, limit.global, limit.effective
    )]
    PerMetricLimit {
        /// The metric name.
        metric: String,
        /// The limit.
        limit: LimitValue,
        /// `limit.configured()`.
        configured: usize,
        /// The administrator advice.
        advice: String,
    },
}

impl MetadataError {
    /// Cortex's `reason` label value for `cortex_discarded_metadata_total`.
    pub fn reason(&self) -> &'static str {
        match self {
            MetadataError::PerUserLimit { .. } => "per_user_metadata_limit",
            MetadataError::PerMetricLimit { .. } => "per_metric_metadata_limit",
        }
    }
}

/// What a metadata query asks for (`/api/v1/metadata`'s `metric`, `limit` and
/// `limit_per_metric`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetadataQuery {
    /// Only this metric name, when set.
    pub metric: Option<String>,
    /// At most this many metric names; `None` for all, `Some(0)` for none.
    pub limit: Option<usize>,
    /// At most this many entries per metric name; `None` for all.
    pub limit_per_metric: Option<usize>,
}

/// One tenant's metadata.
#[derive(Debug, Default)]
pub struct TenantMetadata {
    by_metric: Mutex<HashMap<String, HashMap<MetadataEntry, Instant>>>,
}

impl TenantMetadata {
    /// Remembers `entry` as seen at `now`. Returns true when the entry is new.
    pub fn add(
        &self,
        entry: MetadataEntry,
        now: Instant,
        per_user: LimitValue,
        per_metric: LimitValue,
        advice: &str,
    ) -> Result<bool, MetadataError> {
        let mut map = self.by_metric.lock().unwrap_or_else(|e| e.into_inner());
        if !map.contains_key(&entry.metric_family_name) && per_user.reached(map.len()) {
            return Err(MetadataError::PerUserLimit {
                limit: per_user,
                configured: per_user.configured(),
                advice: advice.to_string(),
            });
        }
        let set = map.entry(entry.metric_family_name.clone()).or_default();
        if per_metric.reached(set.len()) {
            let metric = entry.metric_family_name.clone();
            if set.is_empty() {
                map.remove(&metric);
            }
            return Err(MetadataError::PerMetricLimit {
                metric,
                limit: per_metric,
                configured: per_metric.configured(),
                advice: advice.to_string(),
            });
        }
        Ok(set.insert(entry, now).is_none())
    }

    /// Forgets entries last seen before `deadline`; returns how many.
    pub fn purge(&self, deadline: Instant) -> usize {
        let mut map = self.by_metric.lock().unwrap_or_else(|e| e.into_inner());
        let mut removed = 0;
        map.retain(|_, set| {
            let before = set.len();
            set.retain(|_, seen| *seen >= deadline);
            removed += before - set.len();
            !set.is_empty()
        });
        removed
    }

    /// Number of entries held.
    pub fn len(&self) -> usize {
        let map = self.by_metric.lock().unwrap_or_else(|e| e.into_inner());
        map.values().map(HashMap::len).sum()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The entries `q` asks for, by metric name then entry (a stable order).
    pub fn query(&self, q: &MetadataQuery) -> Vec<MetadataEntry> {
        let map = self.by_metric.lock().unwrap_or_else(|e| e.into_inner());
        let mut names: Vec<&String> = match &q.metric {
            Some(m) => map.get_key_value(m).map(|(k, _)| k).into_iter().collect(),
            None => map.keys().collect(),
        };
        names.sort();
        if let Some(limit) = q.limit {
            names.truncate(limit);
        }
        let mut out = Vec::new();
        for name in names {
            let Some(set) = map.get(name) else { continue };
            let mut entries: Vec<&MetadataEntry> = set.keys().collect();
            entries.sort();
            if let Some(per) = q.limit_per_metric {
                entries.truncate(per);
            }
            out.extend(entries.into_iter().cloned());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn entry(name: &str, help: &str) -> MetadataEntry {
        MetadataEntry {
            metric_family_name: name.into(),
            metric_type: MetricType::Counter.into(),
            help: help.into(),
            unit: String::new(),
        }
    }

    #[test]
    fn limits_per_user_and_per_metric() {
        let md = TenantMetadata::default();
        let now = Instant::now();
        let (user, metric) = (LimitValue::local(2), LimitValue::local(2));
        let advice = "please contact administrator to raise it";
        assert!(md.add(entry("a", "1"), now, user, metric, advice).unwrap());
        assert!(!md.add(entry("a", "1"), now, user, metric, advice).unwrap());
        assert!(md.add(entry("a", "2"), now, user, metric, advice).unwrap());
        let e = md
            .add(entry("a", "3"), now, user, metric, advice)
            .unwrap_err();
        assert_eq!(e.reason(), "per_metric_metadata_limit");
        assert_eq!(
            e.to_string(),
            "per-metric metadata limit of 2 exceeded for metric a, please contact administrator to raise it (local limit: 2 global limit: 0 actual local limit: 2) for series {__name__=\"a\"}"
        );
        assert!(md.add(entry("b", "1"), now, user, metric, advice).unwrap());
        let e = md
            .add(entry("c", "1"), now, user, metric, advice)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "per-user metric metadata limit of 2 exceeded, please contact administrator to raise it (local limit: 2 global limit: 0 actual local limit: 2)"
        );
        assert_eq!(md.len(), 3);
        // Unlimited.
        let zero = LimitValue::local(0);
        assert!(md.add(entry("c", "1"), now, zero, zero, advice).unwrap());
    }

    #[test]
    fn entries_not_seen_within_the_retain_period_are_purged() {
        let md = TenantMetadata::default();
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_secs(300);
        let l = LimitValue::local(0);
        md.add(entry("old", "x"), t0, l, l, "").unwrap();
        md.add(entry("new", "x"), t1, l, l, "").unwrap();
        // Seen again: refreshed.
        md.add(entry("both", "x"), t0, l, l, "").unwrap();
        md.add(entry("both", "x"), t1, l, l, "").unwrap();
        assert_eq!(md.purge(t0 + Duration::from_secs(1)), 1);
        let names: Vec<_> = md
            .query(&MetadataQuery::default())
            .into_iter()
            .map(|e| e.metric_family_name)
            .collect();
        assert_eq!(names, ["both", "new"]);
        assert_eq!(md.purge(t1 + Duration::from_secs(1)), 2);
        assert!(md.is_empty());
    }

    #[test]
    fn query_honours_metric_and_limits() {
        let md = TenantMetadata::default();
        let now = Instant::now();
        let l = LimitValue::local(0);
        for (n, h) in [("a", "1"), ("a", "2"), ("b", "1"), ("c", "1")] {
            md.add(entry(n, h), now, l, l, "").unwrap();
        }
        let q = |metric: Option<&str>, limit, per| {
            md.query(&MetadataQuery {
                metric: metric.map(str::to_string),
                limit,
                limit_per_metric: per,
            })
            .len()
        };
        assert_eq!(q(None, None, None), 4);
        assert_eq!(q(None, Some(2), None), 3);
        assert_eq!(q(None, None, Some(1)), 3);
        assert_eq!(q(Some("a"), None, None), 2);
        assert_eq!(q(Some("zz"), None, None), 0);
        assert_eq!(q(None, Some(0), None), 0);
    }
}

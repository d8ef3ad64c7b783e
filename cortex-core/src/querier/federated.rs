//! [`FederatedQuerier`]: one query over several tenants, as Cortex's tenant federation
//! (`X-Scope-OrgID: a|b`) answers it.
//!
//! - Every series gets the label `__tenant_id__="<tenant>"`. A series that already has
//!   `__tenant_id__` keeps its value under `original___tenant_id__`.
//! - Matchers on `__tenant_id__` choose which tenants are asked and are not passed on;
//!   matchers on `original___tenant_id__` are passed on as matchers on `__tenant_id__`.
//! - Label names are the tenants' names plus `__tenant_id__` (or, when a tenant's data
//!   has `__tenant_id__` itself, plus `original___tenant_id__`); the values of
//!   `__tenant_id__` are the chosen tenants' IDs.
//! - With a single tenant the tenant's querier answers alone, without the label, as
//!   Cortex does so that enabling federation changes nothing for single-tenant queries.
//!
//! Errors say which tenant failed; limit errors stay limit errors. Each tenant's querier
//! enforces that tenant's limits.

use std::collections::BTreeSet;
use std::sync::Arc;

use cortex_tsdb::labels::{Labels, Matcher};

use super::{Querier, QuerierError, SampleIterator, SelectHints, Series};

/// The label naming the tenant a series came from.
pub const TENANT_LABEL: &str = "__tenant_id__";
/// The label keeping a series' own `__tenant_id__` value.
pub const ORIGINAL_TENANT_LABEL: &str = "original___tenant_id__";

/// A tenant ID and that tenant's querier.
type Tenant = (String, Box<dyn Querier>);

/// Several tenants' queriers as one (see the module documentation).
pub struct FederatedQuerier {
    /// By tenant ID, each once.
    tenants: Vec<Tenant>,
}

impl FederatedQuerier {
    /// A querier over `tenants` (tenant ID and that tenant's querier); a repeated ID is
    /// asked once.
    pub fn new(mut tenants: Vec<(String, Box<dyn Querier>)>) -> FederatedQuerier {
        tenants.sort_by(|a, b| a.0.cmp(&b.0));
        tenants.dedup_by(|a, b| a.0 == b.0);
        FederatedQuerier { tenants }
    }

    /// The only tenant's querier, when there is exactly one.
    fn single(&self) -> Option<&dyn Querier> {
        match self.tenants.as_slice() {
            [(_, q)] => Some(q.as_ref()),
            _ => None,
        }
    }

    /// The tenants chosen by the matchers on `__tenant_id__`, and the other matchers to
    /// pass on (those on `original___tenant_id__` renamed to `__tenant_id__`).
    fn split(&self, matchers: &[Matcher]) -> Result<(Vec<&Tenant>, Vec<Matcher>), QuerierError> {
        let mut pass = Vec::with_capacity(matchers.len());
        let mut on_tenant = Vec::new();
        for m in matchers {
            match m.name() {
                TENANT_LABEL => on_tenant.push(m),
                ORIGINAL_TENANT_LABEL => pass.push(
                    Matcher::new(m.kind(), TENANT_LABEL, m.value())
                        .map_err(|e| QuerierError::Storage(e.to_string()))?,
                ),
                _ => pass.push(m.clone()),
            }
        }
        let chosen = self
            .tenants
            .iter()
            .filter(|(id, _)| on_tenant.iter().all(|m| m.matches(id)))
            .collect();
        Ok((chosen, pass))
    }

    /// The distinct, sorted union of `f` over the chosen tenants.
    fn union(
        chosen: &[&Tenant],
        f: impl Fn(&dyn Querier) -> Result<Vec<String>, QuerierError>,
    ) -> Result<BTreeSet<String>, QuerierError> {
        let mut out = BTreeSet::new();
        for (id, q) in chosen {
            out.extend(f(q.as_ref()).map_err(|e| in_tenant(e, id))?);
        }
        Ok(out)
    }
}

/// Says which tenant an error came from, keeping its kind.
fn in_tenant(e: QuerierError, tenant: &str) -> QuerierError {
    match e {
        QuerierError::Storage(m) => {
            QuerierError::Storage(format!("error querying tenant_id {tenant}: {m}"))
        }
        QuerierError::Limit(m) => {
            QuerierError::Limit(format!("error querying tenant_id {tenant}: {m}"))
        }
        QuerierError::Ring(m) => {
            QuerierError::Ring(format!("error querying tenant_id {tenant}: {m}"))
        }
        e @ (QuerierError::Block { .. } | QuerierError::Ingesters { .. }) => e,
    }
}

/// `labels` with `__tenant_id__` set to `tenant`, an existing value moved to
/// `original___tenant_id__`.
fn with_tenant(labels: &Labels, tenant: &str) -> Result<Labels, QuerierError> {
    let mut b = labels.to_builder();
    if let Some(old) = labels.get(TENANT_LABEL) {
        b.set(ORIGINAL_TENANT_LABEL, old);
    }
    b.set(TENANT_LABEL, tenant);
    b.build()
        .map_err(|e| QuerierError::Storage(format!("labels of tenant {tenant}: {e}")))
}

/// A tenant's series under its new labels.
struct TenantSeries {
    labels: Labels,
    inner: Arc<dyn Series>,
}

impl Series for TenantSeries {
    fn labels(&self) -> &Labels {
        &self.labels
    }

    fn samples(&self) -> Box<dyn SampleIterator + '_> {
        self.inner.samples()
    }
}

impl Querier for FederatedQuerier {
    fn select(
        &self,
        hints: &SelectHints,
        matchers: &[Matcher],
    ) -> Result<Vec<Arc<dyn Series>>, QuerierError> {
        if let Some(q) = self.single() {
            return q.select(hints, matchers);
        }
        let (chosen, pass) = self.split(matchers)?;
        let mut out: Vec<Arc<dyn Series>> = Vec::new();
        for (id, q) in chosen {
            for s in q.select(hints, &pass).map_err(|e| in_tenant(e, id))? {
                let labels = with_tenant(s.labels(), id)?;
                out.push(Arc::new(TenantSeries { labels, inner: s }));
            }
        }
        // Label sets differ across tenants (their `__tenant_id__` does), so ordering is
        // all the merge there is.
        out.sort_by(|a, b| a.labels().cmp(b.labels()));
        Ok(out)
    }

    fn label_names(
        &self,
        start: i64,
        end: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, QuerierError> {
        if let Some(q) = self.single() {
            return q.label_names(start, end, matchers);
        }
        let (chosen, pass) = self.split(matchers)?;
        let mut names = Self::union(&chosen, |q| q.label_names(start, end, &pass))?;
        let add = if names.contains(TENANT_LABEL) {
            ORIGINAL_TENANT_LABEL
        } else {
            TENANT_LABEL
        };
        names.insert(add.to_string());
        Ok(names.into_iter().collect())
    }

    fn label_values(
        &self,
        name: &str,
        start: i64,
        end: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, QuerierError> {
        if let Some(q) = self.single() {
            return q.label_values(name, start, end, matchers);
        }
        let (chosen, pass) = self.split(matchers)?;
        if name == TENANT_LABEL {
            return Ok(chosen.iter().map(|(id, _)| id.clone()).collect());
        }
        let name = if name == ORIGINAL_TENANT_LABEL {
            TENANT_LABEL
        } else {
            name
        };
        let values = Self::union(&chosen, |q| q.label_values(name, start, end, &pass))?;
        Ok(values.into_iter().collect())
    }
}

//! The open tenant TSDBs: a map from tenant to [`TenantDb`] behind a read-write lock
//! that is only held to look up, insert or remove an entry. Opening a TSDB (replaying
//! its WAL) happens outside that lock under a per-tenant open lock, so one tenant's
//! open never blocks pushes to the others, and two pushes of a new tenant open it once.
//! At startup every tenant directory found is opened, a few at a time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use super::config::TsdbConfig;
use super::error::IngesterError;
use super::limits::TenantLimits;
use super::tenant::TenantDb;

/// The tenant TSDBs of an ingester.
pub struct TenantDbs {
    cfg: TsdbConfig,
    limits: Arc<dyn TenantLimits>,
    map: RwLock<HashMap<String, Arc<TenantDb>>>,
    opening: Mutex<HashMap<String, Arc<Mutex<()>>>>,
}

/// Checks that `tenant` can name a directory of its own.
pub fn validate_tenant(tenant: &str) -> Result<(), IngesterError> {
    let bad = tenant.is_empty()
        || tenant == "."
        || tenant == ".."
        || tenant.len() > 150
        || tenant
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control());
    if bad {
        return Err(IngesterError::InvalidTenant(tenant.to_string()));
    }
    Ok(())
}

impl TenantDbs {
    /// An empty set; nothing is opened yet.
    pub fn new(cfg: TsdbConfig, limits: Arc<dyn TenantLimits>) -> TenantDbs {
        TenantDbs {
            cfg,
            limits,
            map: RwLock::new(HashMap::new()),
            opening: Mutex::new(HashMap::new()),
        }
    }

    /// The TSDB configuration.
    pub fn config(&self) -> &TsdbConfig {
        &self.cfg
    }

    /// Opens the TSDB of every tenant directory under the TSDB directory, at most
    /// `max_tsdb_opening_concurrency_on_startup` at a time. Returns how many.
    pub fn open_existing(&self) -> Result<usize, IngesterError> {
        let dir = &self.cfg.dir;
        std::fs::create_dir_all(dir).map_err(|e| IngesterError::io("create dir", dir, e))?;
        let rd = std::fs::read_dir(dir).map_err(|e| IngesterError::io("read dir", dir, e))?;
        let mut tenants = Vec::new();
        for e in rd {
            let e = e.map_err(|e| IngesterError::io("read dir", dir, e))?;
            if !e.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            if let Some(name) = e.file_name().to_str()
                && validate_tenant(name).is_ok()
            {
                tenants.push(name.to_string());
            }
        }
        tenants.sort();
        let first_err: Mutex<Option<IngesterError>> = Mutex::new(None);
        run_concurrently(
            &tenants,
            self.cfg.max_tsdb_opening_concurrency_on_startup,
            |t| {
                if let Err(e) = self.get_or_open(t) {
                    first_err
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .get_or_insert(e);
                }
            },
        );
        match first_err.into_inner().unwrap_or_else(|e| e.into_inner()) {
            Some(e) => Err(e),
            None => Ok(tenants.len()),
        }
    }

    /// The open TSDB of `tenant`, if any.
    pub fn get(&self, tenant: &str) -> Option<Arc<TenantDb>> {
        self.map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(tenant)
            .cloned()
    }

    /// The TSDB of `tenant`, opened (or created) if it is not open.
    pub fn get_or_open(&self, tenant: &str) -> Result<Arc<TenantDb>, IngesterError> {
        if let Some(t) = self.get(tenant) {
            return Ok(t);
        }
        validate_tenant(tenant)?;
        let lock = self
            .opening
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(tenant.to_string())
            .or_default()
            .clone();
        let _open = lock.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = self.get(tenant) {
            return Ok(t);
        }
        let window = i64::try_from(self.limits.out_of_order_time_window(tenant).as_millis())
            .unwrap_or(i64::MAX);
        let t = Arc::new(TenantDb::open(&self.cfg, tenant, window)?);
        self.map
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(tenant.to_string(), t.clone());
        Ok(t)
    }

    /// Every open TSDB, by tenant.
    pub fn all(&self) -> Vec<Arc<TenantDb>> {
        let mut v: Vec<_> = self
            .map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        v.sort_by(|a, b| a.tenant().cmp(b.tenant()));
        v
    }

    /// Number of open TSDBs.
    pub fn len(&self) -> usize {
        self.map.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// True when no TSDB is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets `tenant`'s entry if it is still `t` (after `t` was closed).
    pub(crate) fn remove(&self, t: &Arc<TenantDb>) {
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        if map.get(t.tenant()).is_some_and(|cur| Arc::ptr_eq(cur, t)) {
            map.remove(t.tenant());
        }
    }
}

/// Runs `f` on every item, on at most `workers` threads at once.
pub(crate) fn run_concurrently<T: Sync>(items: &[T], workers: usize, f: impl Fn(&T) + Sync) {
    let next = Mutex::new(items.iter());
    std::thread::scope(|s| {
        for _ in 0..workers.max(1).min(items.len()) {
            s.spawn(|| {
                loop {
                    let item = next.lock().unwrap_or_else(|e| e.into_inner()).next();
                    let Some(item) = item else { break };
                    f(item);
                }
            });
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids_that_cannot_name_a_directory_are_refused() {
        for bad in ["", ".", "..", "a/b", "a\\b", "a\0"] {
            assert!(validate_tenant(bad).is_err(), "{bad:?}");
        }
        for good in ["team-a", "a.b", "x_1", "(t)!*'"] {
            validate_tenant(good).unwrap();
        }
    }
}

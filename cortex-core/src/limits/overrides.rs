//! Per-tenant overrides from the runtime configuration file, reloaded while running.
//!
//! The file (Cortex's `runtime_config.file`) holds
//! `overrides: { <tenant>: { <limits> } }`; a tenant's keys replace the configured
//! defaults (the `limits:` block), keys it does not name keep them. [`Overrides`] answers
//! "what are this tenant's limits" with a lock-free read of an `Arc<Limits>`; a
//! background thread ([`spawn_reloader`]) re-reads the file every `runtime_config.period`
//! and swaps the new table in. A file that fails to read, parse or validate leaves the
//! previous table in place and is counted and remembered for operators to see.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use arc_swap::{ArcSwap, ArcSwapOption};
use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::config::overlay_map;
use super::{Duration, Limits, LimitsError};

/// Where the runtime configuration lives and how often it is re-read (Cortex's
/// `runtime_config:` block).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuntimeConfig {
    /// The file; empty for none (every tenant gets the defaults).
    pub file: String,
    /// How often the file is re-read.
    pub period: Duration,
}

impl RuntimeConfig {
    /// The flag for [`RuntimeConfig::file`].
    pub const FILE_FLAG: &'static str = "runtime-config.file";
    /// The flag for [`RuntimeConfig::period`].
    pub const PERIOD_FLAG: &'static str = "runtime-config.reload-period";
}

impl Default for RuntimeConfig {
    fn default() -> RuntimeConfig {
        RuntimeConfig {
            file: String::new(),
            period: Duration::from_secs(10),
        }
    }
}

type TenantTable = HashMap<String, Arc<Limits>>;

/// The limits of every tenant: the defaults, and the overrides of the runtime file.
pub struct Overrides {
    defaults: Arc<Limits>,
    tenants: ArcSwap<TenantTable>,
    file: Option<PathBuf>,
    reloads: AtomicU64,
    reload_failures: AtomicU64,
    last_reload_ok: AtomicBool,
    last_error: ArcSwapOption<String>,
}

impl fmt::Debug for Overrides {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Overrides")
            .field("file", &self.file)
            .field("tenants", &self.tenants.load().len())
            .finish()
    }
}

impl Overrides {
    /// Every tenant gets `defaults`; there is no file to reload.
    pub fn new(defaults: Limits) -> Overrides {
        Overrides::with_table(defaults, TenantTable::new(), None)
    }

    /// Fixed per-tenant limits (for embedding and tests); no file to reload.
    pub fn from_tenants(defaults: Limits, tenants: HashMap<String, Limits>) -> Overrides {
        let table = tenants.into_iter().map(|(t, l)| (t, Arc::new(l))).collect();
        Overrides::with_table(defaults, table, None)
    }

    /// Reads the runtime configuration file once; fails when it cannot be read, parsed
    /// or validated. [`Overrides::reload`] (or [`spawn_reloader`]) reads it again.
    pub fn load(defaults: Limits, file: impl Into<PathBuf>) -> Result<Overrides, LimitsError> {
        let file = file.into();
        let table = read_file(&defaults, &file)?;
        Ok(Overrides::with_table(defaults, table, Some(file)))
    }

    /// [`Overrides::load`] for a configured file, [`Overrides::new`] when none is set.
    pub fn from_config(defaults: Limits, config: &RuntimeConfig) -> Result<Overrides, LimitsError> {
        if config.file.is_empty() {
            Ok(Overrides::new(defaults))
        } else {
            Overrides::load(defaults, &config.file)
        }
    }

    fn with_table(defaults: Limits, table: TenantTable, file: Option<PathBuf>) -> Overrides {
        Overrides {
            defaults: Arc::new(defaults),
            tenants: ArcSwap::from_pointee(table),
            file,
            reloads: AtomicU64::new(0),
            reload_failures: AtomicU64::new(0),
            last_reload_ok: AtomicBool::new(true),
            last_error: ArcSwapOption::empty(),
        }
    }

    /// The tenant's limits: its override if it has one, else the defaults. Lock-free.
    pub fn tenant(&self, tenant: &str) -> Arc<Limits> {
        match self.tenants.load().get(tenant) {
            Some(l) => Arc::clone(l),
            None => Arc::clone(&self.defaults),
        }
    }

    /// The defaults (the `limits:` block).
    pub fn defaults(&self) -> Arc<Limits> {
        Arc::clone(&self.defaults)
    }

    /// The tenants that have overrides, sorted.
    pub fn overridden_tenants(&self) -> Vec<String> {
        let mut t: Vec<String> = self.tenants.load().keys().cloned().collect();
        t.sort_unstable();
        t
    }

    /// The runtime configuration file, if any.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// Re-reads the file and swaps the new overrides in. On failure the previous ones
    /// stay, the failure is counted and its message kept. Without a file, does nothing.
    pub fn reload(&self) -> Result<(), LimitsError> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        self.reloads.fetch_add(1, Ordering::Relaxed);
        match read_file(&self.defaults, file) {
            Ok(table) => {
                self.tenants.store(Arc::new(table));
                self.last_reload_ok.store(true, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                self.reload_failures.fetch_add(1, Ordering::Relaxed);
                self.last_reload_ok.store(false, Ordering::Relaxed);
                self.last_error.store(Some(Arc::new(e.to_string())));
                Err(e)
            }
        }
    }

    /// How many reloads were attempted (the initial load not included).
    pub fn reloads(&self) -> u64 {
        self.reloads.load(Ordering::Relaxed)
    }

    /// How many reloads failed.
    pub fn reload_failures(&self) -> u64 {
        self.reload_failures.load(Ordering::Relaxed)
    }

    /// Whether the most recent reload succeeded (true before any reload).
    pub fn last_reload_successful(&self) -> bool {
        self.last_reload_ok.load(Ordering::Relaxed)
    }

    /// The message of the most recent failed reload.
    pub fn last_reload_error(&self) -> Option<String> {
        self.last_error.load_full().map(|s| (*s).clone())
    }
}

fn read_file(defaults: &Limits, file: &Path) -> Result<TenantTable, LimitsError> {
    let text = std::fs::read_to_string(file).map_err(|source| LimitsError::Read {
        path: file.to_path_buf(),
        source,
    })?;
    parse_runtime_config(defaults, &text).map_err(|e| match e {
        LimitsError::Parse { source, .. } => LimitsError::Parse {
            path: file.to_path_buf(),
            source,
        },
        other => other,
    })
}

/// Parses runtime configuration text into per-tenant limits over `defaults`, and
/// validates each tenant's limits. Unknown keys, wrong types and bad durations are
/// errors that name the key path and the line.
pub fn parse_runtime_config(
    defaults: &Limits,
    text: &str,
) -> Result<HashMap<String, Arc<Limits>>, LimitsError> {
    let parse_err = |source| LimitsError::Parse {
        path: PathBuf::new(),
        source,
    };
    let table = if text.trim().is_empty() {
        TenantTable::new()
    } else {
        let de = serde_yaml::Deserializer::from_str(text);
        FileSeed { defaults }.deserialize(de).map_err(parse_err)?
    };
    for (tenant, limits) in &table {
        limits.validate().map_err(|e| match e {
            LimitsError::Invalid { key, reason } => LimitsError::InvalidOverride {
                tenant: tenant.clone(),
                key,
                reason,
            },
            other => other,
        })?;
    }
    Ok(table)
}

/// The whole file: `overrides:` and nothing else.
struct FileSeed<'a> {
    defaults: &'a Limits,
}

impl<'de> DeserializeSeed<'de> for FileSeed<'_> {
    type Value = TenantTable;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<TenantTable, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for FileSeed<'_> {
    type Value = TenantTable;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a runtime configuration mapping with `overrides`")
    }

    fn visit_unit<E: de::Error>(self) -> Result<TenantTable, E> {
        Ok(TenantTable::new())
    }

    fn visit_none<E: de::Error>(self) -> Result<TenantTable, E> {
        Ok(TenantTable::new())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TenantTable, A::Error> {
        let mut table = TenantTable::new();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "overrides" => {
                    table = map.next_value_seed(TenantsSeed {
                        defaults: self.defaults,
                    })?
                }
                other => return Err(de::Error::unknown_field(other, &["overrides"])),
            }
        }
        Ok(table)
    }
}

/// `overrides:`: tenant → limits.
struct TenantsSeed<'a> {
    defaults: &'a Limits,
}

impl<'de> DeserializeSeed<'de> for TenantsSeed<'_> {
    type Value = TenantTable;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<TenantTable, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TenantsSeed<'_> {
    type Value = TenantTable;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping from tenant ID to limits")
    }

    fn visit_unit<E: de::Error>(self) -> Result<TenantTable, E> {
        Ok(TenantTable::new())
    }

    fn visit_none<E: de::Error>(self) -> Result<TenantTable, E> {
        Ok(TenantTable::new())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TenantTable, A::Error> {
        let mut table = TenantTable::new();
        while let Some(tenant) = map.next_key::<String>()? {
            let limits = map.next_value_seed(LimitsSeed {
                defaults: self.defaults,
            })?;
            if table.insert(tenant.clone(), Arc::new(limits)).is_some() {
                return Err(de::Error::custom(format!("duplicate tenant {tenant:?}")));
            }
        }
        Ok(table)
    }
}

/// One tenant's partial limits over the defaults.
struct LimitsSeed<'a> {
    defaults: &'a Limits,
}

impl<'de> DeserializeSeed<'de> for LimitsSeed<'_> {
    type Value = Limits;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Limits, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for LimitsSeed<'_> {
    type Value = Limits;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping of limits")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Limits, E> {
        Ok(self.defaults.clone())
    }

    fn visit_none<E: de::Error>(self) -> Result<Limits, E> {
        Ok(self.defaults.clone())
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Limits, A::Error> {
        overlay_map(self.defaults.clone(), map)
    }
}

/// Stops the reloading thread when stopped or dropped.
#[derive(Debug)]
pub struct ReloadHandle {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl ReloadHandle {
    /// Stops the thread and waits for it to finish.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let (flag, cv) = &*self.stop;
        *flag.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cv.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for ReloadHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Starts a thread that calls [`Overrides::reload`] every `period` until the handle is
/// stopped or dropped. Failures are recorded in `overrides`, not returned.
pub fn spawn_reloader(
    overrides: Arc<Overrides>,
    period: std::time::Duration,
) -> std::io::Result<ReloadHandle> {
    let stop = Arc::new((Mutex::new(false), Condvar::new()));
    let thread_stop = Arc::clone(&stop);
    let thread = std::thread::Builder::new()
        .name("runtime-config".to_string())
        .spawn(move || {
            let (flag, cv) = &*thread_stop;
            let mut stopped = flag.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                let (guard, timeout) = cv
                    .wait_timeout_while(stopped, period, |s| !*s)
                    .unwrap_or_else(|e| e.into_inner());
                stopped = guard;
                if *stopped {
                    return;
                }
                if timeout.timed_out() {
                    drop(stopped);
                    let _ = overrides.reload();
                    stopped = flag.lock().unwrap_or_else(|e| e.into_inner());
                }
            }
        })?;
    Ok(ReloadHandle {
        stop,
        thread: Some(thread),
    })
}

//! The lifecycler: registers this instance in the ring stored in a [`Kv`] and keeps the
//! entry alive — PENDING without tokens at start, then (after `join_after`) ACTIVE with
//! freshly generated tokens (through JOINING and a token check when `observe_period` is
//! set), a heartbeat every `heartbeat_period`, and on [`Lifecycler::leave`] LEAVING,
//! `final_sleep` of further heartbeats and removal from the ring.
//!
//! An instance found in the ring at start (a restart without unregistering) keeps its
//! tokens and state. Heartbeats also remove other instances whose heartbeat is older
//! than `auto_forget_delay`, when set.
//!
//! The lifecycler runs on its own std thread; every KV update goes through
//! compare-and-swap, so any number of lifecyclers can share one ring.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crate::config::{ConfigError, LifecyclerConfig};
use crate::desc::{Desc, InstanceState, Operation, unix_seconds};
use crate::forget::auto_forget;
use crate::kv::{CasError, Kv, KvError, cas_desc};
use crate::tokens::TokenGenerator;

/// Why the lifecycler could not start, change state or leave.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LifecyclerError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The KV store failed.
    #[error("ring {ring}: {source}")]
    Kv {
        /// The ring key.
        ring: String,
        /// The KV error.
        source: KvError,
    },
    /// The requested state change is not one Cortex allows (Cortex's message).
    #[error("changing instance state from {from} -> {to} is disallowed")]
    DisallowedTransition {
        /// The current state.
        from: InstanceState,
        /// The requested state.
        to: InstanceState,
    },
    /// The lifecycler thread died.
    #[error("lifecycler thread for {0} panicked")]
    Panicked(String),
}

#[derive(Debug)]
struct Local {
    state: InstanceState,
    tokens: Vec<u32>,
    registered_at: i64,
}

#[derive(Debug, Default)]
struct Counters {
    healthy_instances: usize,
    zones: Vec<String>,
    last_heartbeat_error: Option<KvError>,
}

struct Inner {
    cfg: LifecyclerConfig,
    kv: Arc<dyn Kv>,
    key: String,
    addr: String,
    local: Mutex<Local>,
    counters: Mutex<Counters>,
    rng: Mutex<TokenGenerator>,
}

enum Control {
    Leave,
    Abandon,
}

/// A running registration of one instance in the ring. Dropping it stops the
/// heartbeats without unregistering (as a crash would); [`Lifecycler::leave`] shuts
/// down cleanly.
pub struct Lifecycler {
    inner: Arc<Inner>,
    control: mpsc::Sender<Control>,
    thread: Option<JoinHandle<Result<(), LifecyclerError>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn now_secs() -> i64 {
    unix_seconds(SystemTime::now())
}

impl Lifecycler {
    /// Validates `cfg`, registers the instance under `ring_key` in `kv` (or takes over
    /// its existing entry) and starts the lifecycle thread.
    pub fn start(
        cfg: LifecyclerConfig,
        kv: Arc<dyn Kv>,
        ring_key: &str,
    ) -> Result<Lifecycler, LifecyclerError> {
        Lifecycler::start_with_generator(cfg, kv, ring_key, TokenGenerator::new())
    }

    /// Like [`Lifecycler::start`] with a given token generator (a seeded one in tests).
    pub fn start_with_generator(
        cfg: LifecyclerConfig,
        kv: Arc<dyn Kv>,
        ring_key: &str,
        generator: TokenGenerator,
    ) -> Result<Lifecycler, LifecyclerError> {
        cfg.validate()?;
        let inner = Arc::new(Inner {
            addr: cfg.advertised_addr(),
            cfg,
            kv,
            key: ring_key.to_string(),
            local: Mutex::new(Local {
                state: InstanceState::PENDING,
                tokens: Vec::new(),
                registered_at: 0,
            }),
            counters: Mutex::new(Counters::default()),
            rng: Mutex::new(generator),
        });
        inner.init_ring()?;
        let (control, rx) = mpsc::channel();
        let worker = Arc::clone(&inner);
        let thread = std::thread::Builder::new()
            .name(format!("lifecycler-{}", inner.cfg.id))
            .spawn(move || worker.run(&rx))
            .map_err(|e| LifecyclerError::Kv {
                ring: ring_key.to_string(),
                source: KvError::Backend {
                    backend: "lifecycler",
                    reason: format!("spawning the thread: {e}"),
                },
            })?;
        Ok(Lifecycler {
            inner,
            control,
            thread: Some(thread),
        })
    }

    /// The instance ID.
    pub fn id(&self) -> &str {
        &self.inner.cfg.id
    }

    /// The advertised `host:port`.
    pub fn addr(&self) -> &str {
        &self.inner.addr
    }

    /// The instance's current state.
    pub fn state(&self) -> InstanceState {
        lock(&self.inner.local).state
    }

    /// The instance's tokens, sorted.
    pub fn tokens(&self) -> Vec<u32> {
        lock(&self.inner.local).tokens.clone()
    }

    /// Instances healthy for writes at the last ring update this lifecycler made.
    pub fn healthy_instances_count(&self) -> usize {
        lock(&self.inner.counters).healthy_instances
    }

    /// Distinct zones in the ring at the last update this lifecycler made.
    pub fn zones(&self) -> Vec<String> {
        lock(&self.inner.counters).zones.clone()
    }

    /// The error of the last heartbeat, if it failed (cleared by a successful one).
    pub fn last_heartbeat_error(&self) -> Option<KvError> {
        lock(&self.inner.counters).last_heartbeat_error.clone()
    }

    /// Moves the instance to `state` and writes it to the ring; only Cortex's allowed
    /// transitions are accepted (e.g. ACTIVE ↔ READONLY).
    pub fn change_state(&self, state: InstanceState) -> Result<(), LifecyclerError> {
        self.inner.change_state(state)
    }

    /// Shuts down cleanly: LEAVING (unless READONLY), heartbeats for `final_sleep`, then
    /// removal from the ring when `unregister_on_shutdown` is set.
    pub fn leave(mut self) -> Result<(), LifecyclerError> {
        let _ = self.control.send(Control::Leave);
        self.join()
    }

    fn join(&mut self) -> Result<(), LifecyclerError> {
        match self.thread.take() {
            Some(t) => t
                .join()
                .unwrap_or_else(|_| Err(LifecyclerError::Panicked(self.inner.cfg.id.clone()))),
            None => Ok(()),
        }
    }
}

impl Drop for Lifecycler {
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.control.send(Control::Abandon);
            let _ = self.join();
        }
    }
}

impl Inner {
    fn kv_err(&self, source: KvError) -> LifecyclerError {
        LifecyclerError::Kv {
            ring: self.key.clone(),
            source,
        }
    }

    fn update(
        &self,
        f: impl FnMut(Option<Desc>) -> Result<Option<Desc>, CasError>,
    ) -> Result<(), LifecyclerError> {
        let mut last = None;
        let mut f = f;
        cas_desc(&*self.kv, &self.key, |cur| {
            let out = f(cur)?;
            last.clone_from(&out);
            Ok(out)
        })
        .map_err(|e| self.kv_err(e))?;
        if let Some(desc) = last {
            self.update_counters(&desc);
        }
        Ok(())
    }

    fn update_counters(&self, desc: &Desc) {
        let timeout = self.cfg.ring.heartbeat_timeout.to_std();
        let now = SystemTime::now();
        let healthy = desc
            .ingesters
            .values()
            .filter(|i| i.is_healthy(Operation::WRITE, timeout, now))
            .count();
        let mut zones: Vec<String> = desc.ingesters.values().map(|i| i.zone.clone()).collect();
        zones.sort_unstable();
        zones.dedup();
        let mut c = lock(&self.counters);
        c.healthy_instances = healthy;
        c.zones = zones;
    }

    /// Adds the instance to the ring without tokens, or adopts its existing entry.
    fn init_ring(&self) -> Result<(), LifecyclerError> {
        let id = &self.cfg.id;
        self.update(|cur| {
            let mut desc = cur.unwrap_or_default();
            let mut local = lock(&self.local);
            match desc.ingesters.get_mut(id) {
                None => {
                    local.registered_at = now_secs();
                    local.state = InstanceState::PENDING;
                    local.tokens.clear();
                    desc.add_ingester(
                        id,
                        &self.addr,
                        &self.cfg.availability_zone,
                        Vec::new(),
                        local.state,
                        local.registered_at,
                    );
                }
                Some(inst) => {
                    local.registered_at = inst.registered_timestamp;
                    local.state = match inst.state {
                        // Crashed while joining: start the lifecycle again.
                        InstanceState::JOINING => InstanceState::PENDING,
                        // Did not clean up on shutdown: rejoin in the previous state.
                        InstanceState::LEAVING if !inst.tokens.is_empty() => InstanceState::ACTIVE,
                        s => s,
                    };
                    local.tokens.clone_from(&inst.tokens);
                    inst.state = local.state;
                    inst.addr.clone_from(&self.addr);
                    inst.timestamp = now_secs();
                }
            }
            Ok(Some(desc))
        })
    }

    /// `n` new tokens for this instance, none already in `desc`, chosen with the
    /// configured strategy.
    fn new_tokens(&self, desc: &Desc, n: usize) -> Vec<u32> {
        let mut rng = lock(&self.rng);
        if self.cfg.minimize_spread_tokens() {
            rng.generate_spread_minimizing(desc, &self.cfg.id, &self.cfg.availability_zone, n)
        } else {
            rng.generate(n, &desc.tokens())
        }
    }

    /// Claims the missing tokens and moves to `target`.
    fn auto_join(&self, target: InstanceState) -> Result<(), LifecyclerError> {
        let id = &self.cfg.id;
        self.update(|cur| {
            let mut desc = cur.unwrap_or_default();
            let mut tokens = desc
                .ingesters
                .get(id)
                .map(|i| i.tokens.clone())
                .unwrap_or_default();
            let need = self.cfg.num_tokens.saturating_sub(tokens.len());
            if need > 0 {
                tokens.extend(self.new_tokens(&desc, need));
                tokens.sort_unstable();
            }
            let mut local = lock(&self.local);
            local.state = target;
            local.tokens.clone_from(&tokens);
            desc.add_ingester(
                id,
                &self.addr,
                &self.cfg.availability_zone,
                tokens,
                target,
                local.registered_at,
            );
            Ok(Some(desc))
        })
    }

    /// True when the ring still holds exactly our tokens; otherwise claims new ones for
    /// those lost and returns false.
    fn verify_tokens(&self) -> Result<bool, LifecyclerError> {
        let id = &self.cfg.id;
        let mut verified = false;
        self.update(|cur| {
            let mut desc = cur.unwrap_or_default();
            let mut ring_tokens = desc
                .ingesters
                .get(id)
                .map(|i| i.tokens.clone())
                .unwrap_or_default();
            let mut local = lock(&self.local);
            if ring_tokens == local.tokens {
                verified = true;
                return Ok(None);
            }
            verified = false;
            let need = self.cfg.num_tokens.saturating_sub(ring_tokens.len());
            ring_tokens.extend(self.new_tokens(&desc, need));
            ring_tokens.sort_unstable();
            local.tokens.clone_from(&ring_tokens);
            desc.add_ingester(
                id,
                &self.addr,
                &self.cfg.availability_zone,
                ring_tokens,
                local.state,
                local.registered_at,
            );
            Ok(Some(desc))
        })?;
        Ok(verified)
    }

    /// Writes our entry with a fresh heartbeat (re-adding it if the ring lost it) and
    /// forgets instances silent for longer than `auto_forget_delay`.
    fn heartbeat(&self) -> Result<(), LifecyclerError> {
        let id = &self.cfg.id;
        let forget = self.cfg.auto_forget_delay.to_std();
        let result = self.update(|cur| {
            let mut desc = cur.unwrap_or_default();
            let local = lock(&self.local);
            desc.add_ingester(
                id,
                &self.addr,
                &self.cfg.availability_zone,
                local.tokens.clone(),
                local.state,
                local.registered_at,
            );
            // Our own entry was just refreshed, so only others can be forgotten.
            auto_forget(&mut desc, forget, SystemTime::now());
            Ok(Some(desc))
        });
        lock(&self.counters).last_heartbeat_error = result.as_ref().err().and_then(|e| match e {
            LifecyclerError::Kv { source, .. } => Some(source.clone()),
            _ => None,
        });
        result
    }

    fn change_state(&self, to: InstanceState) -> Result<(), LifecyclerError> {
        use InstanceState::*;
        {
            let mut local = lock(&self.local);
            let from = local.state;
            let allowed = matches!(
                (from, to),
                (PENDING, JOINING)
                    | (JOINING, PENDING)
                    | (JOINING, ACTIVE)
                    | (JOINING, READONLY)
                    | (PENDING, ACTIVE)
                    | (PENDING, READONLY)
                    | (ACTIVE, LEAVING)
                    | (ACTIVE, READONLY)
                    | (READONLY, ACTIVE)
                    | (READONLY, LEAVING)
            );
            if !allowed {
                return Err(LifecyclerError::DisallowedTransition { from, to });
            }
            local.state = to;
            // Rejoining from READONLY counts as a new registration.
            if from == READONLY && to == ACTIVE {
                local.registered_at = now_secs();
            }
        }
        self.heartbeat()
    }

    /// The lifecycle loop: join after `join_after`, observe, heartbeat, until told to
    /// leave or abandon.
    fn run(&self, rx: &mpsc::Receiver<Control>) -> Result<(), LifecyclerError> {
        let period = self.cfg.heartbeat_period.to_std();
        let start = Instant::now();
        let mut join_at = (lock(&self.local).state == InstanceState::PENDING)
            .then(|| start + self.cfg.join_after.to_std());
        let mut observe_at: Option<Instant> = None;
        // The first heartbeat comes after a random half to whole period, spreading
        // instances started together.
        let half = (period / 2).as_nanos().max(1) as u64;
        let jitter = Duration::from_nanos(half + lock(&self.rng).next_u64() % half);
        let mut next_beat = start + jitter;
        loop {
            let next = [join_at, observe_at, Some(next_beat)]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(next_beat);
            match rx.recv_timeout(next.saturating_duration_since(Instant::now())) {
                Ok(Control::Leave) => return self.shutdown(next_beat),
                Ok(Control::Abandon) | Err(RecvTimeoutError::Disconnected) => return Ok(()),
                Err(RecvTimeoutError::Timeout) => {}
            }
            let now = Instant::now();
            if join_at.is_some_and(|t| t <= now) {
                join_at = None;
                if lock(&self.local).state == InstanceState::PENDING {
                    if self.cfg.observe_period.is_zero() {
                        self.auto_join(InstanceState::ACTIVE)?;
                    } else {
                        self.auto_join(InstanceState::JOINING)?;
                        observe_at = Some(now + self.cfg.observe_period.to_std());
                    }
                }
            }
            if observe_at.is_some_and(|t| t <= now) {
                observe_at = None;
                // A failed check or write keeps observing.
                let done = self.verify_tokens().unwrap_or(false)
                    && self.change_state(InstanceState::ACTIVE).is_ok();
                if !done {
                    observe_at = Some(now + self.cfg.observe_period.to_std());
                }
            }
            if next_beat <= now {
                // A failed heartbeat is retried next period (and reported by
                // `last_heartbeat_error`).
                let _ = self.heartbeat();
                next_beat = now + period;
            }
        }
    }

    fn shutdown(&self, mut next_beat: Instant) -> Result<(), LifecyclerError> {
        if lock(&self.local).state != InstanceState::READONLY {
            // Already LEAVING/PENDING/JOINING instances stay as they are.
            let _ = self.change_state(InstanceState::LEAVING);
        }
        let end = Instant::now() + self.cfg.final_sleep.to_std();
        loop {
            let now = Instant::now();
            if now >= end {
                break;
            }
            if next_beat <= now {
                let _ = self.heartbeat();
                next_beat = now + self.cfg.heartbeat_period.to_std();
            }
            std::thread::sleep(next_beat.min(end).saturating_duration_since(Instant::now()));
        }
        if self.cfg.unregister_on_shutdown {
            let id = &self.cfg.id;
            self.update(|cur| {
                let mut desc = cur
                    .ok_or_else(|| CasError::abort("found empty ring when trying to unregister"))?;
                desc.remove_ingester(id);
                Ok(Some(desc))
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::get_desc;
    use crate::kv::memory::InMemoryKv;
    use cortex_core::limits::Duration as CfgDuration;

    const KEY: &str = "collectors/ring";

    fn cfg(id: &str) -> LifecyclerConfig {
        LifecyclerConfig {
            id: id.to_string(),
            address: format!("{id}.local"),
            port: 9095,
            num_tokens: 32,
            heartbeat_period: CfgDuration::from_millis(20),
            final_sleep: CfgDuration::ZERO,
            ..Default::default()
        }
    }

    fn seeded(cfg: LifecyclerConfig, kv: &Arc<InMemoryKv>, seed: u64) -> Lifecycler {
        Lifecycler::start_with_generator(cfg, kv.clone(), KEY, TokenGenerator::with_seed(seed))
            .unwrap()
    }

    fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !cond() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn ring_desc(kv: &InMemoryKv) -> Desc {
        get_desc(kv, KEY).unwrap().unwrap_or_default()
    }

    fn state_in_ring(kv: &InMemoryKv, id: &str) -> Option<InstanceState> {
        ring_desc(kv).ingesters.get(id).map(|i| i.state)
    }

    #[test]
    fn joins_active_heartbeats_and_leaves() {
        let kv = Arc::new(InMemoryKv::new());
        let l = seeded(
            LifecyclerConfig {
                join_after: CfgDuration::from_millis(30),
                ..cfg("ing-1")
            },
            &kv,
            1,
        );
        // Registered at once, PENDING and without tokens until join_after.
        let first = ring_desc(&kv).ingesters["ing-1"].clone();
        assert_eq!(first.addr, "ing-1.local:9095");
        assert!(first.registered_timestamp > 0);
        wait_for("ACTIVE", || {
            state_in_ring(&kv, "ing-1") == Some(InstanceState::ACTIVE)
        });
        let inst = ring_desc(&kv).ingesters["ing-1"].clone();
        assert_eq!(inst.tokens.len(), 32);
        assert_eq!(inst.tokens, l.tokens());
        assert_eq!(l.state(), InstanceState::ACTIVE);
        // Heartbeats refresh the timestamp: make it ancient and watch it come back.
        cas_desc(&*kv, KEY, |d| {
            let mut d = d.unwrap();
            d.ingesters.get_mut("ing-1").unwrap().timestamp = 1;
            Ok(Some(d))
        })
        .unwrap();
        wait_for("a heartbeat", || {
            ring_desc(&kv).ingesters["ing-1"].timestamp > 1
        });
        assert_eq!(l.healthy_instances_count(), 1);
        assert_eq!(l.last_heartbeat_error(), None);
        l.leave().unwrap();
        assert!(ring_desc(&kv).ingesters.is_empty());
    }

    #[test]
    fn observe_period_passes_through_joining() {
        let kv = Arc::new(InMemoryKv::new());
        let l = seeded(
            LifecyclerConfig {
                observe_period: CfgDuration::from_millis(200),
                ..cfg("ing-1")
            },
            &kv,
            2,
        );
        wait_for("JOINING", || {
            state_in_ring(&kv, "ing-1") == Some(InstanceState::JOINING)
        });
        assert_eq!(
            ring_desc(&kv).ingesters["ing-1"].tokens.len(),
            32,
            "JOINING holds its tokens"
        );
        wait_for("ACTIVE", || {
            state_in_ring(&kv, "ing-1") == Some(InstanceState::ACTIVE)
        });
        drop(l);
    }

    #[test]
    fn leaving_is_visible_during_final_sleep() {
        let kv = Arc::new(InMemoryKv::new());
        let l = seeded(
            LifecyclerConfig {
                final_sleep: CfgDuration::from_millis(300),
                ..cfg("ing-1")
            },
            &kv,
            3,
        );
        wait_for("ACTIVE", || {
            state_in_ring(&kv, "ing-1") == Some(InstanceState::ACTIVE)
        });
        let leaving = std::thread::spawn(move || l.leave());
        wait_for("LEAVING", || {
            state_in_ring(&kv, "ing-1") == Some(InstanceState::LEAVING)
        });
        leaving.join().unwrap().unwrap();
        assert_eq!(state_in_ring(&kv, "ing-1"), None);
    }

    #[test]
    fn restart_keeps_tokens() {
        let kv = Arc::new(InMemoryKv::new());
        let l = seeded(
            LifecyclerConfig {
                unregister_on_shutdown: false,
                ..cfg("ing-1")
            },
            &kv,
            4,
        );
        wait_for("ACTIVE", || {
            state_in_ring(&kv, "ing-1") == Some(InstanceState::ACTIVE)
        });
        let tokens = l.tokens();
        l.leave().unwrap();
        assert_eq!(
            state_in_ring(&kv, "ing-1"),
            Some(InstanceState::LEAVING),
            "still registered"
        );
        // A different seed would give different tokens: the ring's are reused.
        let l = seeded(cfg("ing-1"), &kv, 99);
        assert_eq!(l.state(), InstanceState::ACTIVE);
        assert_eq!(l.tokens(), tokens);
        assert_eq!(ring_desc(&kv).ingesters["ing-1"].tokens, tokens);
        // A crash (drop) also keeps the entry for the next start.
        drop(l);
        let l = seeded(cfg("ing-1"), &kv, 100);
        assert_eq!(l.tokens(), tokens);
        l.leave().unwrap();
        assert_eq!(state_in_ring(&kv, "ing-1"), None);
    }

    #[test]
    fn auto_forget_removes_long_dead_instances() {
        let kv = Arc::new(InMemoryKv::new());
        let now = now_secs();
        cas_desc(&*kv, KEY, |_| {
            let mut d = Desc::new();
            d.add_ingester("ghost", "ghost:1", "", vec![7], InstanceState::ACTIVE, 0)
                .timestamp = now - 3600;
            d.add_ingester("alive", "alive:1", "", vec![8], InstanceState::ACTIVE, 0);
            Ok(Some(d))
        })
        .unwrap();
        let l = seeded(
            LifecyclerConfig {
                auto_forget_delay: CfgDuration::from_secs(600),
                ..cfg("ing-1")
            },
            &kv,
            5,
        );
        wait_for("ghost forgotten", || {
            !ring_desc(&kv).ingesters.contains_key("ghost")
        });
        let desc = ring_desc(&kv);
        assert!(desc.ingesters.contains_key("alive"));
        assert!(desc.ingesters.contains_key("ing-1"));
        drop(l);
        // Without auto-forget nothing is removed.
        cas_desc(&*kv, KEY, |d| {
            let mut d = d.unwrap();
            d.add_ingester("ghost", "ghost:1", "", vec![7], InstanceState::ACTIVE, 0)
                .timestamp = now - 3600;
            Ok(Some(d))
        })
        .unwrap();
        let _lifecycler = seeded(cfg("ing-1"), &kv, 6);
        cas_desc(&*kv, KEY, |d| {
            let mut d = d.unwrap();
            d.ingesters.get_mut("ing-1").unwrap().timestamp = 1;
            Ok(Some(d))
        })
        .unwrap();
        wait_for("a heartbeat", || {
            ring_desc(&kv).ingesters["ing-1"].timestamp > 1
        });
        assert!(ring_desc(&kv).ingesters.contains_key("ghost"));
    }

    #[test]
    fn minimize_spread_strategy_evens_out_ownership() {
        let kv = Arc::new(InMemoryKv::new());
        let mut running = Vec::new();
        for i in 0..4u64 {
            let id = format!("ing-{i}");
            running.push(seeded(
                LifecyclerConfig {
                    tokens_generator_strategy: "minimize-spread".into(),
                    ..cfg(&id)
                },
                &kv,
                i,
            ));
            wait_for("ACTIVE", || {
                state_in_ring(&kv, &id) == Some(InstanceState::ACTIVE)
            });
        }
        let own = ring_desc(&kv).ownership();
        assert!(
            own.values().all(|o| (o * 4.0 - 1.0).abs() < 0.15),
            "{own:?}"
        );
    }

    #[test]
    fn state_changes_follow_cortex_rules() {
        let kv = Arc::new(InMemoryKv::new());
        let l = seeded(cfg("ing-1"), &kv, 7);
        wait_for("ACTIVE", || l.state() == InstanceState::ACTIVE);
        let err = l.change_state(InstanceState::JOINING).unwrap_err();
        assert_eq!(
            err.to_string(),
            "changing instance state from ACTIVE -> JOINING is disallowed"
        );
        l.change_state(InstanceState::READONLY).unwrap();
        assert_eq!(state_in_ring(&kv, "ing-1"), Some(InstanceState::READONLY));
        // READONLY instances leave without passing through LEAVING.
        l.leave().unwrap();
        assert_eq!(state_in_ring(&kv, "ing-1"), None);
    }

    #[test]
    fn instances_get_distinct_tokens_and_see_each_other() {
        let kv = Arc::new(InMemoryKv::new());
        let ls: Vec<_> = (0..3)
            .map(|i| seeded(cfg(&format!("ing-{i}")), &kv, 10 + i))
            .collect();
        wait_for("all ACTIVE", || {
            let d = ring_desc(&kv);
            d.ingesters.len() == 3
                && d.ingesters
                    .values()
                    .all(|i| i.state == InstanceState::ACTIVE)
        });
        let mut all = ring_desc(&kv).tokens();
        all.dedup();
        assert_eq!(all.len(), 3 * 32);
        wait_for("counters", || {
            ls.iter().all(|l| l.healthy_instances_count() == 3)
        });
        assert_eq!(ls[0].zones(), vec![String::new()]);
    }

    #[test]
    fn invalid_config_is_refused() {
        let kv: Arc<dyn Kv> = Arc::new(InMemoryKv::new());
        let err = Lifecycler::start(
            LifecyclerConfig {
                address: String::new(),
                ..cfg("x")
            },
            kv,
            KEY,
        )
        .err()
        .unwrap();
        assert_eq!(err, LifecyclerError::Config(ConfigError::EmptyAddress));
    }
}

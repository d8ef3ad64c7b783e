//! Watching one etcd key for [`EtcdKv`](super::EtcdKv): a task on the client runtime
//! keeps a watch stream open, reconnecting with backoff, and forwards every value to
//! the blocking caller, which runs the callback on its own thread.
//!
//! Each (re)connection first reads the key and delivers it when it differs from the
//! last value delivered, then watches from the revision after that read: so a watch
//! that lost its stream (etcd restarted, a compaction, a network cut) still ends up
//! with the latest value, and nothing committed meanwhile is reported twice.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use bytes::Bytes;
use tokio::runtime::Handle;

use super::proto::{EVENT_DELETE, RangeRequest, Rpc, WatchCreateRequest};
use crate::kv::StopSignal;

/// First pause after a failed connection (Cortex's watch backoff).
const MIN_BACKOFF: Duration = Duration::from_secs(1);

/// Longest pause between reconnections.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// How often the waiting caller checks its stop signal.
const STOP_POLL: Duration = Duration::from_millis(50);

/// Aborts the watch task when the caller returns.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Blocks the caller, calling `f` with the current value of `key` and then with each
/// change, until `f` returns false or `stop` is given.
pub(super) fn watch_key(
    handle: &Handle,
    rpc: &Rpc,
    key: &str,
    stop: &StopSignal,
    f: &mut dyn FnMut(Option<Bytes>) -> bool,
) {
    let (tx, rx) = mpsc::channel();
    let _task = AbortOnDrop(handle.spawn(follow(rpc.clone(), key.as_bytes().to_vec(), tx)));
    while !stop.is_stopped() {
        match rx.recv_timeout(STOP_POLL) {
            Ok(mut value) => {
                // A slow callback catches up with the latest value.
                while let Ok(newer) = rx.try_recv() {
                    value = newer;
                }
                if !f(value) {
                    return;
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            // The runtime shut down: the store is being dropped.
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// Doubling pauses between `MIN_BACKOFF` and `MAX_BACKOFF`.
struct Backoff(Duration);

impl Backoff {
    fn reset(&mut self) {
        self.0 = MIN_BACKOFF;
    }

    async fn wait(&mut self) {
        tokio::time::sleep(self.0).await;
        self.0 = (self.0 * 2).min(MAX_BACKOFF);
    }
}

/// The watch task: sends every new value of `key` until the receiver is gone.
async fn follow(rpc: Rpc, key: Vec<u8>, tx: mpsc::Sender<Option<Bytes>>) {
    // The mod revision of the value last sent (0: absent), `None` before the first.
    let mut sent: Option<i64> = None;
    let mut backoff = Backoff(MIN_BACKOFF);
    loop {
        let read = rpc
            .range(RangeRequest {
                key: key.clone(),
                ..Default::default()
            })
            .await;
        let Ok(read) = read else {
            backoff.wait().await;
            continue;
        };
        let (value, revision) = match read.kvs.into_iter().next() {
            Some(kv) => (Some(kv.value), kv.mod_revision),
            None => (None, 0),
        };
        if sent != Some(revision) {
            if tx.send(value).is_err() {
                return;
            }
            sent = Some(revision);
        }
        let start_revision = read.header.map_or(0, |h| h.revision + 1);
        let stream = rpc
            .watch(WatchCreateRequest {
                key: key.clone(),
                start_revision,
            })
            .await;
        let Ok(mut stream) = stream else {
            backoff.wait().await;
            continue;
        };
        // Until the stream fails or the server cancels the watch.
        while let Ok(Some(resp)) = stream.message().await {
            backoff.reset();
            if resp.canceled || resp.compact_revision != 0 {
                break;
            }
            for event in resp.events {
                let Some(kv) = event.kv else { continue };
                let (value, revision) = if event.r#type == EVENT_DELETE {
                    (None, 0)
                } else {
                    (Some(kv.value), kv.mod_revision)
                };
                if tx.send(value).is_err() {
                    return;
                }
                sent = Some(revision);
            }
        }
        backoff.wait().await;
    }
}

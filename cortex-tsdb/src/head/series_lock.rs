//! The lock around one head series' mutable state.
//!
//! Every sample appended takes a series lock twice (when it is added, to check it, and
//! at commit, to store it), so the lock's cost is paid twice per sample. A standard
//! mutex releases with an atomic exchange, to learn whether a thread sleeps on it and
//! must be woken; on x86 that is a full barrier, which waits for every earlier store to
//! drain. This lock releases with a plain store instead: nobody sleeps on it to be
//! woken. A thread that finds it taken spins briefly, then yields, then sleeps in
//! growing steps (up to a millisecond) and looks again.
//!
//! That suits what series locks guard: short critical sections (a check, an append, a
//! copy of chunk references), rarely contended, as each series is normally written by
//! one appender at a time. It would not suit a lock held across I/O by many waiters.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// A mutual-exclusion lock released without an atomic read-modify-write (see the
/// module documentation). Not poisoned by a panic: the guard's drop releases it.
pub(crate) struct SeriesLock<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the lock hands out access to the value to one thread at a time, as a mutex
// does, so it may be shared between threads when the value may be sent between them.
unsafe impl<T: Send> Sync for SeriesLock<T> {}
// SAFETY: owning the lock is owning the value.
unsafe impl<T: Send> Send for SeriesLock<T> {}

impl<T> SeriesLock<T> {
    /// An unlocked lock around `value`.
    pub(crate) const fn new(value: T) -> SeriesLock<T> {
        SeriesLock {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// Waits for the lock and takes it.
    #[inline]
    pub(crate) fn lock(&self) -> SeriesGuard<'_, T> {
        if self
            .locked
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_contended();
        }
        SeriesGuard { lock: self }
    }

    #[cold]
    #[inline(never)]
    fn lock_contended(&self) {
        let mut waited = 0u32;
        loop {
            while self.locked.load(Ordering::Relaxed) {
                back_off(waited);
                waited = waited.saturating_add(1);
            }
            if self
                .locked
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return;
            }
        }
    }
}

/// One step of waiting for a taken lock, the `waited`-th: spin, then yield the core,
/// then sleep 10 µs doubling up to 1 ms.
fn back_off(waited: u32) {
    const SPINS: u32 = 100;
    const YIELDS: u32 = 20;
    if waited < SPINS {
        std::hint::spin_loop();
    } else if waited < SPINS + YIELDS {
        std::thread::yield_now();
    } else {
        let step = (waited - SPINS - YIELDS).min(7);
        std::thread::sleep(Duration::from_micros(10 << step));
    }
}

/// Access to a [`SeriesLock`]'s value while the lock is held; dropping it releases the
/// lock.
pub(crate) struct SeriesGuard<'a, T> {
    lock: &'a SeriesLock<T>,
}

impl<T> std::ops::Deref for SeriesGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while its thread holds the lock.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> std::ops::DerefMut for SeriesGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard exists only while its thread holds the lock, and `&mut self`
        // makes this the only access through it.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for SeriesGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.locked.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn excludes_other_threads() {
        // Four threads each add 1 to a pair of counters 20,000 times, reading both and
        // writing both back non-atomically: any overlap shows as a lost update or as a
        // pair that differs.
        let lock = Arc::new(SeriesLock::new((0u64, 0u64)));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let lock = Arc::clone(&lock);
                std::thread::spawn(move || {
                    for i in 0..20_000u32 {
                        let mut g = lock.lock();
                        let (a, b) = *g;
                        assert_eq!(a, b);
                        if i % 1000 == 0 {
                            std::thread::yield_now();
                        }
                        *g = (a + 1, b + 1);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*lock.lock(), (80_000, 80_000));
    }

    #[test]
    fn a_panic_releases_the_lock() {
        let lock = Arc::new(SeriesLock::new(5));
        let l = Arc::clone(&lock);
        let r = std::thread::spawn(move || {
            let _g = l.lock();
            panic!("while holding the lock");
        })
        .join();
        assert!(r.is_err());
        assert_eq!(*lock.lock(), 5);
    }

    #[test]
    fn a_waiter_gets_the_lock_after_a_long_hold() {
        let lock = Arc::new(SeriesLock::new(0));
        let g = lock.lock();
        let l = Arc::clone(&lock);
        let waiter = std::thread::spawn(move || {
            *l.lock() += 1;
        });
        std::thread::sleep(Duration::from_millis(50));
        drop(g);
        waiter.join().unwrap();
        assert_eq!(*lock.lock(), 1);
    }
}

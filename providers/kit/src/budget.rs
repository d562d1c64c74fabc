//! Per-service concurrency that adapts to throttling.
//!
//! Clouds throttle each service (and often each account and region) separately, so one
//! global cap is either too tight for describes or too loose for mutations. A provider gives
//! every service client its own [`Budget`]: each attempt takes a slot, and the limit follows
//! AIMD, as TCP does: halve it when the service throttles, grow it by one slot per limit's
//! worth of clean answers. Retry backoff happens outside the slot, so a call sleeping before
//! its retry holds none. Which answers are throttling is the provider's to say.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where a fresh budget starts, and the bounds it moves within.
const START: f64 = 16.0;
const MAX: f64 = 64.0;
const MIN: f64 = 1.0;
/// Throttles closer together than this come from one burst: one cut, not several.
const CUT_SPACING: Duration = Duration::from_millis(500);

/// One service's adaptive concurrency limit.
#[derive(Debug)]
pub struct Budget {
    service: &'static str,
    state: Mutex<State>,
    freed: tokio::sync::Notify,
}

#[derive(Debug)]
struct State {
    limit: f64,
    in_use: usize,
    peak_in_use: usize,
    lowest_limit: f64,
    throttled: u64,
    attempts: u64,
    last_cut: Option<Instant>,
}

/// A budget's figures at one moment.
#[derive(Clone, Debug, PartialEq)]
pub struct BudgetSnapshot {
    /// The service the budget is for (`ec2`, `rds`, ...).
    pub service: &'static str,
    /// Attempts allowed in flight now.
    pub limit: usize,
    /// Attempts in flight now.
    pub in_use: usize,
    /// The most attempts seen in flight at once.
    pub peak_in_use: usize,
    /// The lowest the limit has been.
    pub lowest_limit: usize,
    /// Throttling answers seen.
    pub throttled: u64,
    /// Attempts started (each took a slot), retries included.
    pub attempts: u64,
}

impl Budget {
    /// A budget for `service`, starting at 16 slots (it moves between 1 and 64).
    pub fn new(service: &'static str) -> Arc<Budget> {
        Arc::new(Budget {
            service,
            state: Mutex::new(State {
                limit: START,
                in_use: 0,
                peak_in_use: 0,
                lowest_limit: START,
                throttled: 0,
                attempts: 0,
                last_cut: None,
            }),
            freed: tokio::sync::Notify::new(),
        })
    }

    /// The service this budget is for.
    pub fn service(&self) -> &'static str {
        self.service
    }

    /// The budget's figures now, for reports and tests.
    pub fn snapshot(&self) -> BudgetSnapshot {
        let s = self.lock();
        BudgetSnapshot {
            service: self.service,
            limit: s.limit as usize,
            in_use: s.in_use,
            peak_in_use: s.peak_in_use,
            lowest_limit: s.lowest_limit as usize,
            throttled: s.throttled,
            attempts: s.attempts,
        }
    }

    /// Wait for a slot.
    pub async fn acquire(self: &Arc<Self>) -> Slot {
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            // Register before checking, so a release between the check and the wait is seen.
            freed.as_mut().enable();
            {
                let mut s = self.lock();
                if (s.in_use as f64) < s.limit.floor() {
                    s.in_use += 1;
                    s.attempts += 1;
                    s.peak_in_use = s.peak_in_use.max(s.in_use);
                    return Slot(self.clone());
                }
            }
            freed.await;
        }
    }

    /// The service answered without throttling: additive increase.
    pub fn succeeded(&self) {
        let mut s = self.lock();
        s.limit = (s.limit + 1.0 / s.limit).min(MAX);
    }

    /// The service throttled: multiplicative decrease, once per burst.
    pub fn throttled(&self) {
        let mut s = self.lock();
        s.throttled += 1;
        let now = Instant::now();
        if s.last_cut
            .is_none_or(|t| now.duration_since(t) >= CUT_SPACING)
        {
            s.limit = (s.limit / 2.0).max(MIN);
            s.lowest_limit = s.lowest_limit.min(s.limit);
            s.last_cut = Some(now);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is plain numbers, valid after any panic: recover from poisoning.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One attempt's slot; released on drop.
#[derive(Debug)]
pub struct Slot(Arc<Budget>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.lock().in_use -= 1;
        self.0.freed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn the_limit_halves_on_throttling_and_grows_back() {
        let b = Budget::new("test");
        b.throttled();
        assert_eq!(b.snapshot().limit, 8);
        // A second throttle from the same burst does not cut again.
        b.throttled();
        assert_eq!(b.snapshot().limit, 8);
        assert_eq!(b.snapshot().throttled, 2);
        for _ in 0..200 {
            b.succeeded();
        }
        assert!(b.snapshot().limit > 16, "{:?}", b.snapshot());
        assert_eq!(b.snapshot().lowest_limit, 8);
        // Slots beyond the limit wait until one is released.
        b.lock().limit = 1.0;
        let first = b.acquire().await;
        let waiting = tokio::spawn({
            let b = b.clone();
            async move { b.acquire().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        drop(first);
        let second = waiting.await.unwrap();
        assert_eq!(b.snapshot().in_use, 1);
        drop(second);
        assert_eq!(b.snapshot().peak_in_use, 1);
    }
}

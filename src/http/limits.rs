//! Limits on guessing and on load, kept in this server's memory (with several servers behind
//! a load balancer each counts for itself: a guesser gets at most the limit times the number
//! of servers):
//!
//! * **failed authentications per client address**: after `failures` wrong keys (API key
//!   header or dashboard login) within `window`, that address gets 429 with `Retry-After`
//!   until the window ends, also with a correct key;
//! * **requests per tenant** (off unless configured): more than `per_minute` requests of a
//!   tenant in a minute get 429 with `Retry-After`.
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Addresses (or tenants) remembered at most; the oldest windows go first beyond it.
const REMEMBERED: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    count: u32,
}

/// Counts per key in fixed windows.
#[derive(Debug, Default)]
struct Counter {
    windows: Mutex<HashMap<String, Window>>,
}

impl Counter {
    /// Adds one to `key`'s window (a new window if the last one ended); the count now.
    fn hit(&self, key: &str, window: Duration, now: Instant) -> (u32, Instant) {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() >= REMEMBERED {
            windows.retain(|_, w| now.duration_since(w.started) < window);
        }
        let w = windows.entry(key.to_string()).or_insert(Window {
            started: now,
            count: 0,
        });
        if now.duration_since(w.started) >= window {
            *w = Window {
                started: now,
                count: 0,
            };
        }
        w.count += 1;
        (w.count, w.started)
    }

    fn get(&self, key: &str, window: Duration, now: Instant) -> Option<(u32, Instant)> {
        let windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        windows
            .get(key)
            .filter(|w| now.duration_since(w.started) < window)
            .map(|w| (w.count, w.started))
    }
}

/// The limits of a server.
#[derive(Debug)]
pub struct Limits {
    /// Failed authentications allowed per address and window.
    pub failures: u32,
    pub window: Duration,
    /// Requests allowed per tenant and minute; `None`: no limit.
    pub per_minute: Option<u32>,
    failed: Counter,
    requests: Counter,
}

impl Default for Limits {
    fn default() -> Self {
        Limits::new(10, Duration::from_secs(60), None)
    }
}

/// How long a client must wait before trying again.
pub fn retry_after(started: Instant, window: Duration, now: Instant) -> Duration {
    window
        .saturating_sub(now.duration_since(started))
        .max(Duration::from_secs(1))
}

impl Limits {
    pub fn new(failures: u32, window: Duration, per_minute: Option<u32>) -> Self {
        Limits {
            failures,
            window,
            per_minute,
            failed: Counter::default(),
            requests: Counter::default(),
        }
    }

    /// When `addr` is blocked for guessing: how long it must wait.
    pub fn blocked(&self, addr: Option<IpAddr>) -> Option<Duration> {
        let addr = addr?;
        let now = Instant::now();
        let (count, started) = self.failed.get(&addr.to_string(), self.window, now)?;
        (count >= self.failures).then(|| retry_after(started, self.window, now))
    }

    /// A wrong key came from `addr`.
    pub fn failed(&self, addr: Option<IpAddr>) {
        if let Some(addr) = addr {
            self.failed
                .hit(&addr.to_string(), self.window, Instant::now());
        }
    }

    /// A request of `tenant`: how long it must wait if it is over its rate.
    pub fn over_rate(&self, tenant: i64) -> Option<Duration> {
        let limit = self.per_minute?;
        let minute = Duration::from_secs(60);
        let now = Instant::now();
        let (count, started) = self.requests.hit(&tenant.to_string(), minute, now);
        (count > limit).then(|| retry_after(started, minute, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_block_an_address_for_the_rest_of_the_window() {
        let limits = Limits::new(3, Duration::from_secs(60), None);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        for _ in 0..2 {
            limits.failed(Some(a));
        }
        assert!(limits.blocked(Some(a)).is_none());
        limits.failed(Some(a));
        let wait = limits.blocked(Some(a)).unwrap();
        assert!(wait > Duration::from_secs(50) && wait <= Duration::from_secs(60));
        assert!(limits.blocked(Some(b)).is_none(), "per address");
        assert!(limits.blocked(None).is_none());
    }

    #[test]
    fn windows_end() {
        let c = Counter::default();
        let t0 = Instant::now();
        let w = Duration::from_secs(10);
        assert_eq!(c.hit("k", w, t0).0, 1);
        assert_eq!(c.hit("k", w, t0 + Duration::from_secs(5)).0, 2);
        assert_eq!(
            c.hit("k", w, t0 + Duration::from_secs(11)).0,
            1,
            "a new window"
        );
        assert!(c.get("k", w, t0 + Duration::from_secs(30)).is_none());
    }

    #[test]
    fn tenant_rates() {
        let off = Limits::new(3, Duration::from_secs(60), None);
        assert!(
            (0..100).all(|_| off.over_rate(1).is_none()),
            "off by default"
        );
        let on = Limits::new(3, Duration::from_secs(60), Some(5));
        assert!((0..5).all(|_| on.over_rate(1).is_none()));
        assert!(on.over_rate(1).is_some());
        assert!(on.over_rate(2).is_none(), "per tenant");
    }
}

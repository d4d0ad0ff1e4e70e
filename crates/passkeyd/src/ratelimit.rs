//! Rate limits for the public (unauthenticated) endpoints, which anyone can call: a token bucket
//! per client IP and one per app. The buckets live in this process, so with several instances each
//! enforces its own share; that bounds abuse per instance, which is what they are for.

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::Deserialize;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

/// Limits as configured; 0 turns a limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Public requests one client IP may make per minute (bursts up to this many).
    #[serde(default = "default_per_ip")]
    pub per_ip_per_minute: u32,
    /// Public requests one app may receive per minute, from all clients together.
    #[serde(default = "default_per_app")]
    pub per_app_per_minute: u32,
}

fn default_per_ip() -> u32 {
    120
}

fn default_per_app() -> u32 {
    6000
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            per_ip_per_minute: default_per_ip(),
            per_app_per_minute: default_per_app(),
        }
    }
}

/// The buckets.
pub struct RateLimits {
    per_ip: Option<DefaultKeyedRateLimiter<IpAddr>>,
    per_app: Option<DefaultKeyedRateLimiter<String>>,
    clock: DefaultClock,
}

impl RateLimits {
    /// Buckets for a configuration.
    pub fn new(config: RateLimitConfig) -> Self {
        RateLimits {
            per_ip: NonZeroU32::new(config.per_ip_per_minute)
                .map(|n| RateLimiter::keyed(Quota::per_minute(n))),
            per_app: NonZeroU32::new(config.per_app_per_minute)
                .map(|n| RateLimiter::keyed(Quota::per_minute(n))),
            clock: DefaultClock::default(),
        }
    }

    /// Takes one token for the client and one for the app; when either is empty, how long to wait.
    pub fn check(&self, ip: IpAddr, app_id: &str) -> Result<(), Duration> {
        let now = self.clock.now();
        if let Some(limiter) = &self.per_ip {
            limiter.check_key(&ip).map_err(|n| n.wait_time_from(now))?;
        }
        if let Some(limiter) = &self.per_app {
            limiter
                .check_key(&app_id.to_owned())
                .map_err(|n| n.wait_time_from(now))?;
        }
        Ok(())
    }

    /// Forgets buckets that are full again, so memory does not grow with every client ever seen.
    pub fn forget_idle(&self) {
        if let Some(l) = &self.per_ip {
            l.retain_recent();
        }
        if let Some(l) = &self.per_app {
            l.retain_recent();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_ip_and_per_app() {
        let limits = RateLimits::new(RateLimitConfig {
            per_ip_per_minute: 3,
            per_app_per_minute: 5,
        });
        let a: IpAddr = [127, 0, 0, 1].into();
        let b: IpAddr = [127, 0, 0, 2].into();
        for _ in 0..3 {
            assert!(limits.check(a, "app").is_ok());
        }
        let wait = limits.check(a, "app").unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(20));
        // Another client still gets in, until the app's own budget runs out.
        assert!(limits.check(b, "app").is_ok());
        assert!(limits.check(b, "app").is_ok());
        assert!(limits.check(b, "app").is_err());
        // Each refused check still spent the client's token, so a third client tries another app.
        let c: IpAddr = [127, 0, 0, 3].into();
        assert!(limits.check(c, "other").is_ok());
        let off = RateLimits::new(RateLimitConfig {
            per_ip_per_minute: 0,
            per_app_per_minute: 0,
        });
        for _ in 0..1000 {
            assert!(off.check(a, "app").is_ok());
        }
    }
}

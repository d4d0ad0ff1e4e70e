//! The measurements around the load: CPU samples of the server, its PostgreSQL backends and the
//! load generator at the window's edges, and the cost of one raw ES256 verification, the floor
//! a sign-in cannot go below.

use crate::procfs::{self, Ticks};
use aws_lc_rs::signature::{
    EcdsaKeyPair, KeyPair as _, UnparsedPublicKey, ECDSA_P256_SHA256_ASN1,
    ECDSA_P256_SHA256_ASN1_SIGNING,
};
use std::collections::HashMap;
use std::hint::black_box;
use std::time::Instant;

/// CPU used so far by everything measured, at one instant.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    /// The passkeyd process.
    pub server: Option<Ticks>,
    /// The PostgreSQL backends serving passkeyd, by process id.
    pub database: Option<HashMap<u32, Ticks>>,
    /// The load generator (this process).
    pub generator: Option<Ticks>,
}

/// Takes [`Sample`]s; the load calls it at the start and the end of the measured window.
pub struct Sampler {
    server_pid: Option<u32>,
    database: Option<(tokio_postgres::Client, String)>,
    /// The samples taken, in order.
    pub samples: Vec<Sample>,
}

impl Sampler {
    /// A sampler of the server `server_pid` (if known) and of the PostgreSQL backends connected
    /// to database `name`, listed through `admin` (if PostgreSQL is used).
    pub fn new(
        server_pid: Option<u32>,
        database: Option<(tokio_postgres::Client, String)>,
    ) -> Self {
        Sampler {
            server_pid,
            database,
            samples: Vec::new(),
        }
    }

    /// Takes a sample now.
    pub async fn sample(&mut self) {
        let server = self.server_pid.and_then(procfs::process_cpu);
        let generator = procfs::process_cpu(std::process::id());
        let database = match &self.database {
            Some((client, name)) => {
                crate::server::backend_pids(client, name)
                    .await
                    .ok()
                    .map(|pids| {
                        pids.into_iter()
                            .filter_map(|pid| Some((pid, procfs::process_cpu(pid)?)))
                            .collect()
                    })
            }
            None => None,
        };
        self.samples.push(Sample {
            server,
            database,
            generator,
        });
    }

    /// CPU seconds between the first two samples: server, database, generator.
    pub fn window(&self, ticks_per_second: u64) -> (Option<f64>, Option<f64>, Option<f64>) {
        let (Some(a), Some(b)) = (self.samples.first(), self.samples.get(1)) else {
            return (None, None, None);
        };
        let seconds = |t: u64| t as f64 / ticks_per_second.max(1) as f64;
        let delta = |x: Option<Ticks>, y: Option<Ticks>| Some(seconds(y?.checked_sub(x?)?));
        let database = match (&a.database, &b.database) {
            (Some(before), Some(after)) => Some(seconds(database_delta(before, after))),
            _ => None,
        };
        (
            delta(a.server, b.server),
            database,
            delta(a.generator, b.generator),
        )
    }
}

/// The CPU the backends used between two samples. A backend that appeared meanwhile counts from
/// zero (it was started inside the window); one that went away is lost with what it used since
/// the first sample, which only happens when the pool replaces a connection.
pub fn database_delta(before: &HashMap<u32, Ticks>, after: &HashMap<u32, Ticks>) -> Ticks {
    after
        .iter()
        .map(|(pid, t)| t.saturating_sub(before.get(pid).copied().unwrap_or(0)))
        .sum()
}

/// The cost of one raw ES256 verification with aws-lc-rs, made exactly as passkeyd's core makes
/// it (the key parsed from its uncompressed point for each call, the message hashed inside).
#[derive(Debug, Clone, Copy)]
pub struct VerifyCost {
    /// CPU microseconds per verification (`None` when the thread's CPU clock did not move).
    pub cpu_us: Option<f64>,
    /// Wall-clock microseconds per verification.
    pub wall_us: f64,
    /// How many verifications were timed.
    pub iterations: u32,
}

/// Times `iterations` verifications on a thread of their own, by its CPU clock (which other
/// processes on a busy machine do not move) and by the wall clock.
pub fn raw_verify(iterations: u32, ticks_per_second: u64) -> Result<VerifyCost, String> {
    std::thread::spawn(move || {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING)
            .map_err(|_| "cannot generate a P-256 key")?;
        let point = pair.public_key().as_ref().to_vec();
        // What an assertion signs: 37 bytes of authenticator data and a 32-byte hash.
        let message = [0x5au8; 69];
        let signature = pair
            .sign(&aws_lc_rs::rand::SystemRandom::new(), &message)
            .map_err(|_| "cannot sign")?;
        let verify = || {
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, black_box(&point))
                .verify(black_box(&message), black_box(signature.as_ref()))
                .map_err(|_| "the raw verification failed".to_owned())
        };
        // One untimed call, so that first-use set-up is not counted.
        verify()?;
        let cpu_before = procfs::thread_cpu();
        let wall = Instant::now();
        for _ in 0..iterations {
            verify()?;
        }
        let wall_us = wall.elapsed().as_secs_f64() * 1e6 / f64::from(iterations.max(1));
        let cpu_us = match (cpu_before, procfs::thread_cpu()) {
            (Some(a), Some(b)) if b > a => Some(
                (b - a) as f64 / ticks_per_second.max(1) as f64 * 1e6
                    / f64::from(iterations.max(1)),
            ),
            _ => None,
        };
        Ok(VerifyCost {
            cpu_us,
            wall_us,
            iterations,
        })
    })
    .join()
    .map_err(|_| "the verification thread panicked".to_owned())?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_delta_counts_new_backends_from_zero() {
        let before = HashMap::from([(1, 100), (2, 50)]);
        let after = HashMap::from([(1, 130), (3, 7)]);
        assert_eq!(database_delta(&before, &after), 37);
    }

    #[test]
    fn raw_verify_runs() {
        let cost = raw_verify(50, procfs::clock_ticks());
        assert!(cost.is_ok_and(|c| c.wall_us > 0.0 && c.iterations == 50));
    }
}

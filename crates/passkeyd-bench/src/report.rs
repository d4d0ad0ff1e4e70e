//! The result of a run: the figures issue 6 asks for, computed from the ceremonies' records and
//! the `/proc` samples, and written as a text table for people and one JSON object for programs.

use serde_json::{json, Value};

/// Latency summary in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Latency {
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// The slowest.
    pub max: u64,
}

/// The nearest-rank percentile `p` (0 < p <= 100) of ascending `sorted` values: the smallest
/// value with at least p% of the values at or below it. `None` for no values.
pub fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len() as f64;
    let rank = (p / 100.0 * n).ceil().clamp(1.0, n) as usize;
    sorted.get(rank - 1).copied()
}

impl Latency {
    /// The summary of `values` (any order).
    pub fn of(mut values: Vec<u64>) -> Latency {
        values.sort_unstable();
        let at = |p| percentile(&values, p).unwrap_or(0);
        Latency {
            p50: at(50.0),
            p90: at(90.0),
            p99: at(99.0),
            max: values.last().copied().unwrap_or(0),
        }
    }
}

/// Everything a run measured. Optional figures are those a run could not take (a server
/// given by `--url` without `--pid`, a verification measured too briefly).
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The scenario name.
    pub scenario: String,
    /// What one measured operation is: `ceremony`, or `refresh` for the session scenario (a
    /// session refresh, counted where the other scenarios count ceremonies).
    pub unit: &'static str,
    /// What the server's configuration file changed, when the run needs it said.
    pub server_config: Option<String>,
    /// `sqlite` or `postgres` (or `unknown` for `--url`).
    pub store: String,
    /// Passkeys stored before the load started.
    pub passkeys_stored: u64,
    /// How the seeded users got their keys.
    pub key_note: String,
    /// Seconds the seeding took (none when the data was reused or seeded before).
    pub seed_seconds: Option<f64>,
    /// `closed` or `open`.
    pub mode: &'static str,
    /// Closed loop: workers.
    pub concurrency: Option<usize>,
    /// Open loop: ceremonies scheduled per second.
    pub rate: Option<f64>,
    /// Warm-up excluded from the figures, seconds.
    pub warmup_seconds: f64,
    /// The measured window, seconds.
    pub window_seconds: f64,
    /// Ceremonies completed inside the window.
    pub ceremonies: u64,
    /// `ceremonies / window_seconds`.
    pub per_second: f64,
    /// Latency of the ceremonies started (or, open loop, scheduled) inside the window.
    pub latency: Latency,
    /// Where latency is measured from.
    pub latency_from: &'static str,
    /// Open loop: how late the generator started ceremonies, p99, microseconds.
    pub generator_lag_p99: Option<u64>,
    /// Ceremonies that failed, warm-up included.
    pub errors: u64,
    /// The first few error codes, in order.
    pub first_errors: Vec<String>,
    /// Server CPU per ceremony, microseconds.
    pub server_cpu_us: Option<f64>,
    /// PostgreSQL backends' CPU per ceremony, microseconds.
    pub database_cpu_us: Option<f64>,
    /// The load generator's own CPU per ceremony, microseconds.
    pub generator_cpu_us: Option<f64>,
    /// Load generator runtime threads.
    pub generator_threads: usize,
    /// Raw ES256 verification, CPU microseconds.
    pub verify_us: Option<f64>,
    /// Raw ES256 verification, wall-clock microseconds.
    pub verify_wall_us: f64,
    /// Verifications timed.
    pub verify_iterations: u32,
    /// Server resident memory before the load, bytes.
    pub idle_rss: Option<u64>,
    /// Server peak resident memory, bytes.
    pub peak_rss: Option<u64>,
    /// Spawn to the first `/ready` 200, milliseconds.
    pub ready_ms: Option<f64>,
    /// The server's log filter.
    pub server_log: Option<String>,
    /// Warnings and errors the server logged, the first few.
    pub server_warnings: Vec<String>,
    /// Clock ticks per second used for the CPU figures.
    pub clock_ticks: u64,
    /// `nproc`.
    pub cpus: usize,
    /// The CPU model.
    pub cpu_model: String,
}

/// Microseconds as milliseconds (exact to the microsecond: three decimals).
fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// A float rounded to `digits` decimals, for JSON that people also read.
fn round(x: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (x * scale).round() / scale
}

impl Report {
    /// Server CPU per ceremony divided by the raw verification's CPU.
    pub fn overhead_ratio(&self) -> Option<f64> {
        Some(self.server_cpu_us? / self.verify_us.filter(|v| *v > 0.0)?)
    }

    /// The same, counting the PostgreSQL backends' CPU as the server's.
    pub fn overhead_ratio_with_database(&self) -> Option<f64> {
        Some((self.server_cpu_us? + self.database_cpu_us?) / self.verify_us.filter(|v| *v > 0.0)?)
    }

    /// Whether the measured operations are session refreshes rather than ceremonies.
    pub fn refreshes(&self) -> bool {
        self.unit == "refresh"
    }

    /// The measured operation, plural.
    pub fn units(&self) -> &'static str {
        if self.refreshes() {
            "refreshes"
        } else {
            "ceremonies"
        }
    }

    /// The one JSON object.
    pub fn json(&self) -> Value {
        let mb = |b: Option<u64>| b.map(|b| round(b as f64 / 1048576.0, 1));
        let mut object = json!({
            "scenario": self.scenario,
            "unit": if self.unit.is_empty() { "ceremony" } else { self.unit },
            "server_config": self.server_config,
            "store": self.store,
            "passkeys_stored": self.passkeys_stored,
            "keys": self.key_note,
            "seed_seconds": self.seed_seconds.map(|s| round(s, 1)),
            "mode": self.mode,
            "concurrency": self.concurrency,
            "rate": self.rate,
            "warmup_s": self.warmup_seconds,
            "window_s": round(self.window_seconds, 3),
            "ceremonies": self.ceremonies,
            "ceremonies_per_second": round(self.per_second, 1),
            "latency_ms": {
                "p50": ms(self.latency.p50),
                "p90": ms(self.latency.p90),
                "p99": ms(self.latency.p99),
                "max": ms(self.latency.max),
                "from": self.latency_from,
            },
            "generator_lag_p99_ms": self.generator_lag_p99.map(ms),
            "errors": {"count": self.errors, "first": self.first_errors},
            "server_cpu_us_per_ceremony": self.server_cpu_us.map(|v| round(v, 1)),
            "database_cpu_us_per_ceremony": self.database_cpu_us.map(|v| round(v, 1)),
            "raw_verify_us": self.verify_us.map(|v| round(v, 2)),
            "raw_verify_wall_us": round(self.verify_wall_us, 2),
            "raw_verify_iterations": self.verify_iterations,
            "overhead_ratio": self.overhead_ratio().map(|v| round(v, 2)),
            "overhead_ratio_with_database": self.overhead_ratio_with_database().map(|v| round(v, 2)),
            "idle_rss_mb": mb(self.idle_rss),
            "peak_rss_mb": mb(self.peak_rss),
            "time_to_ready_ms": self.ready_ms.map(|v| round(v, 1)),
            "server_log": self.server_log,
            "server_warnings": self.server_warnings,
            "generator_cpu_us_per_ceremony": self.generator_cpu_us.map(|v| round(v, 1)),
            "generator_threads": self.generator_threads,
            "clock_ticks_per_second": self.clock_ticks,
            "machine": {"cpus": self.cpus, "cpu_model": self.cpu_model},
        });
        if self.refreshes() {
            // The ceremony keys stay (the format is one for every scenario); these say what
            // they count.
            object["refreshes"] = json!(self.ceremonies);
            object["refreshes_per_second"] = json!(round(self.per_second, 1));
            object["overhead_ratio_note"] = json!(
                "server CPU per session refresh / raw ES256 verify; a refresh is not a ceremony"
            );
        }
        object
    }

    /// The text table.
    pub fn text(&self) -> String {
        let mut rows: Vec<(&str, String)> = Vec::new();
        let or_none = |v: Option<String>| v.unwrap_or_else(|| "not measured".to_owned());
        rows.push(("scenario", format!("{} on {}", self.scenario, self.store)));
        rows.push(("passkeys stored", self.passkeys_stored.to_string()));
        if let Some(config) = &self.server_config {
            rows.push(("server config", config.clone()));
        }
        rows.push(("keys", self.key_note.clone()));
        if let Some(s) = self.seed_seconds {
            rows.push(("seeding", format!("{s:.1} s")));
        }
        let load = match (self.concurrency, self.rate) {
            (Some(c), _) => format!("closed loop, concurrency {c}"),
            (None, Some(r)) => format!("open loop, {r} {}/s scheduled", self.units()),
            (None, None) => "none".to_owned(),
        };
        rows.push((
            "load",
            format!(
                "{load}; {:.1} s measured after {:.1} s warm-up",
                self.window_seconds, self.warmup_seconds
            ),
        ));
        rows.push((
            self.units(),
            format!("{} ({:.1} per second)", self.ceremonies, self.per_second),
        ));
        let per = if self.refreshes() {
            "per refresh"
        } else {
            "per ceremony"
        };
        rows.push((
            "latency (ms)",
            format!(
                "p50 {:.3}  p90 {:.3}  p99 {:.3}  max {:.3}  (from {})",
                ms(self.latency.p50),
                ms(self.latency.p90),
                ms(self.latency.p99),
                ms(self.latency.max),
                self.latency_from
            ),
        ));
        if let Some(lag) = self.generator_lag_p99 {
            rows.push(("generator lag", format!("p99 {:.3} ms", ms(lag))));
        }
        let errors = if self.errors == 0 {
            "0".to_owned()
        } else {
            format!("{} (first: {})", self.errors, self.first_errors.join(", "))
        };
        rows.push(("errors", errors));
        rows.push((
            "server CPU",
            or_none(self.server_cpu_us.map(|v| {
                format!(
                    "{v:.1} µs {per} (utime+stime, {} ticks/s)",
                    self.clock_ticks
                )
            })),
        ));
        if let Some(db) = self.database_cpu_us {
            rows.push((
                "database CPU",
                format!("{db:.1} µs {per} (the PostgreSQL backends serving passkeyd)"),
            ));
        }
        rows.push((
            "raw ES256 verify",
            format!(
                "{} CPU, {:.1} µs wall (aws-lc-rs, {} iterations)",
                self.verify_us
                    .map_or_else(|| "not measured".to_owned(), |v| format!("{v:.1} µs")),
                self.verify_wall_us,
                self.verify_iterations
            ),
        ));
        rows.push((
            "overhead ratio",
            or_none(self.overhead_ratio().map(|r| {
                let with_db = self
                    .overhead_ratio_with_database()
                    .map(|d| format!("; {d:.2} with the database's CPU"))
                    .unwrap_or_default();
                if self.refreshes() {
                    format!(
                        "{r:.2} (server CPU per refresh / raw verify; a refresh is not a ceremony: it verifies no WebAuthn signature, it signs a JWT){with_db}"
                    )
                } else {
                    format!("{r:.2} (server CPU per ceremony / raw verify){with_db}")
                }
            })),
        ));
        let mb = |b: Option<u64>| {
            b.map_or_else(
                || "?".to_owned(),
                |b| format!("{:.1} MB", b as f64 / 1048576.0),
            )
        };
        rows.push((
            "server memory",
            format!(
                "idle {} (VmRSS before load), peak {} (VmHWM)",
                mb(self.idle_rss),
                mb(self.peak_rss)
            ),
        ));
        rows.push((
            "time to ready",
            or_none(
                self.ready_ms
                    .map(|t| format!("{t:.1} ms (spawn to /ready 200, existing data dir)")),
            ),
        ));
        rows.push((
            "load generator",
            format!(
                "{} {per}, {} runtime thread(s), same machine",
                self.generator_cpu_us
                    .map_or_else(|| "?".to_owned(), |v| format!("{v:.1} µs CPU")),
                self.generator_threads
            ),
        ));
        if let Some(filter) = &self.server_log {
            rows.push((
                "server log",
                format!("RUST_LOG={filter} (access log off: a deployment choice)"),
            ));
        }
        if !self.server_warnings.is_empty() {
            rows.push(("server warnings", self.server_warnings.join(" | ")));
        }
        rows.push(("machine", format!("{} CPUs, {}", self.cpus, self.cpu_model)));
        let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        rows.iter()
            .map(|(k, v)| format!("{k:<width$}  {v}\n"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let values: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&values, 50.0), Some(50));
        assert_eq!(percentile(&values, 90.0), Some(90));
        assert_eq!(percentile(&values, 99.0), Some(99));
        assert_eq!(percentile(&values, 100.0), Some(100));
        assert_eq!(percentile(&values, 0.1), Some(1));
        assert_eq!(percentile(&[7], 99.0), Some(7));
        assert_eq!(percentile(&[], 50.0), None);
        // Ten values: p99 is the largest, p50 the fifth.
        let ten: Vec<u64> = (1..=10).map(|v| v * 10).collect();
        assert_eq!(percentile(&ten, 99.0), Some(100));
        assert_eq!(percentile(&ten, 50.0), Some(50));
    }

    #[test]
    fn latency_summary_sorts_first() {
        let summary = Latency::of(vec![5, 1, 4, 2, 3]);
        assert_eq!(
            summary,
            Latency {
                p50: 3,
                p90: 5,
                p99: 5,
                max: 5
            }
        );
        assert_eq!(Latency::of(vec![]), Latency::default());
    }

    #[test]
    fn ratio_needs_both_figures() {
        let mut report = Report {
            server_cpu_us: Some(100.0),
            verify_us: Some(50.0),
            ..Report::default()
        };
        assert_eq!(report.overhead_ratio(), Some(2.0));
        assert_eq!(report.overhead_ratio_with_database(), None);
        report.database_cpu_us = Some(50.0);
        assert_eq!(report.overhead_ratio_with_database(), Some(3.0));
        report.verify_us = None;
        assert_eq!(report.overhead_ratio(), None);
        let json = report.json();
        assert_eq!(json["overhead_ratio"], Value::Null);
        assert!(report.text().contains("not measured"));
    }

    #[test]
    fn refreshes_are_not_called_ceremonies() {
        let report = Report {
            unit: "refresh",
            ceremonies: 30,
            per_second: 10.0,
            server_cpu_us: Some(100.0),
            verify_us: Some(50.0),
            ..Report::default()
        };
        let text = report.text();
        assert!(text.contains("refreshes  "), "{text}");
        assert!(text.contains("µs per refresh"), "{text}");
        assert!(text.contains("a refresh is not a ceremony"), "{text}");
        let json = report.json();
        assert_eq!(json["unit"], "refresh");
        assert_eq!(json["refreshes_per_second"], 10.0);
        assert_eq!(json["overhead_ratio"], 2.0);
        assert_eq!(Report::default().json()["unit"], "ceremony");
    }
}

//! A smoke test of the whole bench that stays cheap: five users, ten ceremonies (or session
//! refreshes) of each scenario, no warm-up,
//! against the debug passkeyd that `cargo test --workspace` builds beside this crate's binary.
//! It checks that the command runs end to end and prints its JSON, not how fast anything is.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;

/// The passkeyd binary of the same build, if it was built (it is under `cargo test --workspace`;
/// `cargo test -p passkeyd-bench` alone does not build it, and then the test says so and skips,
/// or fails when `CI=true`).
fn passkeyd() -> Option<PathBuf> {
    let bench = PathBuf::from(env!("CARGO_BIN_EXE_passkeyd-bench"));
    let path = bench.parent()?.join("passkeyd");
    if path.is_file() {
        return Some(path);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{} is missing, and CI=true", path.display());
    }
    println!("SKIPPED: {} is not built", path.display());
    None
}

fn bench(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_passkeyd-bench"))
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_few_ceremonies_of_each_kind_run_without_errors() {
    let Some(passkeyd) = passkeyd() else { return };
    let passkeyd = passkeyd.display().to_string();
    for scenario in [
        "auth-username",
        "auth-discoverable",
        "register",
        "nonce",
        "session",
        "http-floor",
    ] {
        let (code, stdout, stderr) = bench(&[
            "--passkeyd",
            &passkeyd,
            "--scenario",
            scenario,
            "--passkeys",
            "5",
            "--key-pool",
            "2",
            "--concurrency",
            "2",
            "--ceremonies",
            "10",
            "--warmup",
            "0",
            "--verify-iterations",
            "100",
            "--json",
        ]);
        assert_eq!(code, 0, "{scenario}: {stdout}{stderr}");
        let report: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
        assert_eq!(report["scenario"], scenario);
        assert_eq!(report["errors"]["count"], 0);
        assert_eq!(report["passkeys_stored"], 5);
        assert!(report["ceremonies"].as_u64().unwrap() >= 10, "{report}");
        assert!(report["server_cpu_us_per_ceremony"].is_number(), "{report}");
        assert!(report["peak_rss_mb"].as_f64().unwrap() > 0.0);
        match scenario {
            // The browser flow runs with the public endpoints' rate limits off, and says so.
            "nonce" => {
                assert_eq!(report["unit"], "ceremony");
                assert!(report["server_config"]
                    .as_str()
                    .unwrap()
                    .contains("rate_limits"));
            }
            "session" => {
                assert_eq!(report["unit"], "refresh");
                assert!(report["refreshes"].as_u64().unwrap() >= 10, "{report}");
            }
            "http-floor" => {
                assert_eq!(report["unit"], "request pair");
                assert!(report["server_config"].is_null(), "{report}");
            }
            _ => assert!(report["server_config"].is_null(), "{report}"),
        }
    }
}

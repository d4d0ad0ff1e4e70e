//! What the bench reads from Linux's `/proc`: a process's CPU time (`/proc/<pid>/stat`), its
//! resident memory now and at its peak (`/proc/<pid>/status`), and the machine's description.
//! The parsers are separate from the reads so they can be tested on fixed text.

use std::process::Command;

/// CPU time in clock ticks, user and system together.
pub type Ticks = u64;

/// The user and system CPU time in a `/proc/<pid>/stat` (or `/proc/thread-self/stat`) line.
/// The command name in parentheses may itself hold spaces and parentheses, so the fields are
/// counted from the last `)`: after it come the state (field 3) and, at fields 14 and 15,
/// `utime` and `stime`.
pub fn parse_stat_cpu(stat: &str) -> Option<Ticks> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// A `kB` line such as `VmHWM:     14216 kB` of `/proc/<pid>/status`, in bytes.
pub fn parse_status_kb(status: &str, name: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?.strip_prefix(':')?;
        let kb: u64 = rest.trim().strip_suffix("kB")?.trim().parse().ok()?;
        Some(kb * 1024)
    })
}

/// The CPU time a process has used so far, threads included.
pub fn process_cpu(pid: u32) -> Option<Ticks> {
    parse_stat_cpu(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// The CPU time the calling thread has used so far.
pub fn thread_cpu() -> Option<Ticks> {
    parse_stat_cpu(&std::fs::read_to_string("/proc/thread-self/stat").ok()?)
}

/// Resident memory now (`VmRSS`) and at its peak (`VmHWM`), in bytes.
pub fn memory(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    Some((
        parse_status_kb(&status, "VmRSS")?,
        parse_status_kb(&status, "VmHWM")?,
    ))
}

/// Clock ticks per second, as `getconf CLK_TCK` says. Calling `sysconf` would need libc and
/// unsafe code; without `getconf`, 100 is what Linux uses on every common architecture.
pub fn clock_ticks() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|t| *t > 0)
        .unwrap_or(100)
}

/// The CPU model, from the first `model name` line of `/proc/cpuinfo`.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// How many CPUs this process may run on.
pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn stat_cpu_is_utime_plus_stime_even_with_odd_names() {
        let line = "4242 (tokio (rt) worker) S 1 4242 4242 0 -1 4194560 1234 0 0 0 \
                    150 37 0 0 20 0 9 0 123456 987654321 3456 18446744073709551615";
        assert_eq!(parse_stat_cpu(line), Some(187));
        assert_eq!(parse_stat_cpu("12 (short) S 1 2"), None);
        assert_eq!(parse_stat_cpu("no parenthesis"), None);
    }

    #[test]
    fn status_lines_are_read_in_bytes() {
        let status = "Name:\tpasskeyd\nVmHWM:\t   14216 kB\nVmRSS:\t    9800 kB\nThreads:\t9\n";
        assert_eq!(parse_status_kb(status, "VmHWM"), Some(14216 * 1024));
        assert_eq!(parse_status_kb(status, "VmRSS"), Some(9800 * 1024));
        assert_eq!(parse_status_kb(status, "VmSwap"), None);
    }

    #[test]
    fn this_process_can_be_measured() {
        assert!(process_cpu(std::process::id()).is_some());
        assert!(thread_cpu().is_some());
        let (rss, peak) = memory(std::process::id()).unwrap();
        assert!(rss > 0 && peak >= rss);
        assert!(clock_ticks() > 0);
    }
}

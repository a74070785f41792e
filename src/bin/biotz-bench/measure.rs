//! Figures: latency percentiles, this process's CPU time and memory.

use std::time::Duration;

/// p50, p99 and max of a set of durations, in milliseconds.
pub fn percentiles(mut samples: Vec<Duration>) -> Option<(f64, f64, f64)> {
    if samples.is_empty() {
        return None;
    }
    samples.sort();
    let at =
        |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1000.0;
    Some((at(0.50), at(0.99), at(1.0)))
}

/// User + system CPU time of this process so far.
pub fn cpu_time() -> Duration {
    stat_cpu(&std::fs::read_to_string("/proc/self/stat").unwrap_or_default())
}

/// User + system CPU time so far of every process named `postgres` on this machine (the
/// server and its backends; a backend that exits meanwhile takes its time with it).
pub fn postgres_cpu() -> Duration {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Duration::ZERO;
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter(|stat| stat.contains("(postgres)"))
        .map(|stat| stat_cpu(&stat))
        .sum()
}

/// utime + stime of one `/proc/<pid>/stat` line.
fn stat_cpu(stat: &str) -> Duration {
    // Fields after the command (which may hold spaces) start after the last ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of stat, 12 and 13 here; Linux counts 100 ticks/s.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// (current, peak) resident memory of this process, in MiB.
pub fn memory_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (kib("VmRSS:") / 1024.0, kib("VmHWM:") / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_hundred() {
        let samples = (1..=100).map(Duration::from_millis).collect();
        let (p50, p99, max) = percentiles(samples).unwrap();
        assert_eq!((p50.round(), p99.round(), max), (51.0, 99.0, 100.0));
    }
}

//! Memory and CPU of a process, and of the whole machine, from `/proc` (Linux only;
//! elsewhere every reading is `None` and the report says "n/a").

/// Resident memory of a process, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Memory {
    /// `VmRSS`: resident now.
    pub rss: u64,
    /// `VmHWM`: the peak since start (or since the last [`reset_peak`]).
    pub peak: u64,
}

/// `VmRSS` and `VmHWM` of a `/proc/<pid>/status` text.
pub fn parse_status(text: &str) -> Option<Memory> {
    let kib = |key: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with(key))?;
        let value = line[key.len()..].trim().strip_suffix("kB")?.trim();
        value.parse::<u64>().ok().map(|k| k * 1024)
    };
    Some(Memory {
        rss: kib("VmRSS:")?,
        peak: kib("VmHWM:")?,
    })
}

/// Clock ticks per second of `/proc` CPU times (USER_HZ, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// User plus system CPU seconds of a `/proc/<pid>/stat` line.
pub fn parse_stat_cpu_seconds(text: &str) -> Option<f64> {
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, utime 14 and stime 15 (1-based).
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / TICKS_PER_SECOND)
}

/// Busy CPU seconds of the whole machine (all cores) from the `cpu` line of `/proc/stat`.
pub fn parse_machine_busy_seconds(text: &str) -> Option<f64> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let values: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|v| v.parse().ok())
        .collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal ...: idle and iowait are not busy.
    let busy: u64 = values
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, v)| v)
        .sum();
    Some(busy as f64 / TICKS_PER_SECOND)
}

pub fn memory(pid: u32) -> Option<Memory> {
    parse_status(&std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?)
}

pub fn cpu_seconds(pid: u32) -> Option<f64> {
    parse_stat_cpu_seconds(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

pub fn machine_busy_seconds() -> Option<f64> {
    parse_machine_busy_seconds(&std::fs::read_to_string("/proc/stat").ok()?)
}

/// Resets `VmHWM` to the current RSS (Linux `clear_refs` value 5), so that the next
/// reading is the peak of what follows. False when the kernel does not allow it.
pub fn reset_peak(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

/// The 1-minute load average: other work on the machine skews every figure.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The machine: logical cores, memory and CPU model, for the report.
pub fn machine() -> serde_json::Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, m)| m.trim().to_owned());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kib = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l["MemTotal:".len()..].trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse::<u64>().ok());
    serde_json::json!({
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "cpu_model": model,
        "memory_bytes": mem_kib.map(|k| k * 1024),
        "os": std::env::consts::OS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rss_and_peak_from_status() {
        let text =
            "Name:\tsedgate\nVmPeak:\t  900000 kB\nVmHWM:\t   40960 kB\nVmRSS:\t   20480 kB\n";
        assert_eq!(
            parse_status(text),
            Some(Memory {
                rss: 20480 * 1024,
                peak: 40960 * 1024
            })
        );
        assert_eq!(parse_status("Name:\tx\nVmRSS:\t12 kB\n"), None);
    }

    #[test]
    fn reads_cpu_times_after_a_command_name_with_spaces() {
        let text =
            "4242 (sed gate) S 1 4242 4242 0 -1 4194560 700 0 0 0 250 50 0 0 20 0 9 0 100 1000 500";
        assert_eq!(parse_stat_cpu_seconds(text), Some(3.0));
        assert_eq!(parse_stat_cpu_seconds("4242 (x) S 1"), None);
    }

    #[test]
    fn machine_busy_time_leaves_out_idle_and_iowait() {
        let text = "cpu  100 20 30 5000 400 1 2 3 0 0\ncpu0 50 10 15 2500 200 0 1 1 0 0\n";
        assert_eq!(parse_machine_busy_seconds(text), Some(1.56));
    }
}

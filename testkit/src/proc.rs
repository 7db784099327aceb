//! What tests and benchmarks read from `/proc` (Linux only): CPU time per thread, per thread
//! name, per process and for the whole machine, and this process's memory.
//!
//! Thread CPU comes from `schedstat` (nanoseconds of run time), so other processes on a shared
//! machine do not inflate it. Process CPU comes from `stat` (utime + stime in 100 Hz clock
//! ticks), the only per-process figure `/proc` offers for another process. Every reader returns
//! zero (or `None`) when the file is missing or unreadable: these are measurements, and a
//! measurement of zero shows up in the report rather than aborting the run.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Clock ticks per second of `/proc/…/stat` and `/proc/stat` (`USER_HZ`, 100 on Linux).
pub const TICKS_PER_S: f64 = 100.0;

/// Nanoseconds a task has run, from a `/proc/…/schedstat` file (its first field).
pub fn schedstat_ns(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path)
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// CPU time of the calling thread.
pub fn thread_cpu() -> Duration {
    Duration::from_nanos(schedstat_ns(Path::new("/proc/thread-self/schedstat")).unwrap_or(0))
}

/// One thread of a process (`/proc/PID/task/TID`), whose CPU time any thread may read: take
/// [`ThreadTask::current`] on the thread to be measured, read [`cpu`](ThreadTask::cpu) from
/// wherever.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadTask(PathBuf);

impl ThreadTask {
    /// The calling thread.
    pub fn current() -> ThreadTask {
        // `/proc/thread-self` is a link to `PID/task/TID`, relative to /proc.
        let link = std::fs::read_link("/proc/thread-self").unwrap_or_default();
        ThreadTask(Path::new("/proc").join(link))
    }

    /// The thread's CPU time so far (zero once it has exited).
    pub fn cpu(&self) -> Duration {
        Duration::from_nanos(schedstat_ns(&self.0.join("schedstat")).unwrap_or(0))
    }

    /// Its `/proc/PID/task/TID` directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

/// One live thread of this process: its name (`comm`, at most 15 bytes) and CPU time so far.
#[derive(Debug, Clone)]
pub struct ThreadCpu {
    pub name: String,
    pub cpu: Duration,
}

/// Every live thread of this process (threads that have exited are not counted, so take
/// differences over windows in which the threads of interest live throughout).
pub fn threads() -> Vec<ThreadCpu> {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    dir.flatten()
        .map(|task| {
            let name = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
            ThreadCpu {
                name: name.trim_end().to_owned(),
                cpu: Duration::from_nanos(
                    schedstat_ns(&task.path().join("schedstat")).unwrap_or(0),
                ),
            }
        })
        .collect()
}

/// Summed CPU time of this process's live threads whose name starts with `prefix` (`""`: all
/// of them, nanosecond resolution).
pub fn threads_cpu(prefix: &str) -> Duration {
    threads()
        .into_iter()
        .filter(|t| t.name.starts_with(prefix))
        .map(|t| t.cpu)
        .sum()
}

/// CPU time of every live thread of this process together (nanosecond resolution, unlike
/// [`process_cpu_s`]; threads that have exited are not counted).
pub fn live_threads_cpu() -> Duration {
    threads_cpu("")
}

/// CPU seconds (user + system) of process `pid`, from `/proc/PID/stat`; 0 when it is gone.
pub fn process_cpu_s(pid: u32) -> f64 {
    stat_cpu_s(&std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default())
        .unwrap_or(0.0)
}

/// utime + stime in seconds from the text of a `/proc/…/stat` file.
pub fn stat_cpu_s(stat: &str) -> Option<f64> {
    // The fields after the command name, which is in parentheses and may hold spaces and
    // parentheses itself; utime and stime are fields 14 and 15 of the whole line.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let (u, k): (f64, f64) = (f.get(11)?.parse().ok()?, f.get(12)?.parse().ok()?);
    Some((u + k) / TICKS_PER_S)
}

/// The machine's (busy, total) CPU seconds from `/proc/stat`, all cores together.
pub fn machine_cpu_s() -> (f64, f64) {
    machine_cpu_s_from(&std::fs::read_to_string("/proc/stat").unwrap_or_default())
}

fn machine_cpu_s_from(text: &str) -> (f64, f64) {
    let Some(line) = text.lines().find(|l| l.starts_with("cpu ")) else {
        return (0.0, 0.0);
    };
    let v: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is inside user).
    let total: f64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0.0) + v.get(4).copied().unwrap_or(0.0);
    ((total - idle) / TICKS_PER_S, total / TICKS_PER_S)
}

/// A memory figure of this process from `/proc/self/status`, in MiB: `"VmRSS:"` (resident
/// now), `"VmHWM:"` (peak resident), …; 0 when absent.
pub fn status_mb(field: &str) -> f64 {
    status_mb_from(
        &std::fs::read_to_string("/proc/self/status").unwrap_or_default(),
        field,
    )
}

fn status_mb_from(text: &str, field: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Resident memory of this process now, in MiB.
pub fn rss_mb() -> f64 {
    status_mb("VmRSS:")
}

/// Peak resident memory of this process so far, in MiB.
pub fn peak_rss_mb() -> f64 {
    status_mb("VmHWM:")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spin(d: Duration) {
        let t = std::time::Instant::now();
        let mut x = 0u64;
        while t.elapsed() < d {
            x = std::hint::black_box(x.wrapping_add(1));
        }
    }

    #[test]
    fn stat_lines_parse_with_awkward_command_names() {
        // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
        // utime stime …
        let line = "42 (a b) c)) S 1 42 42 0 -1 4194560 10 0 0 0 250 50 0 0 20 0 1 0";
        assert_eq!(stat_cpu_s(line), Some(3.0));
        assert_eq!(stat_cpu_s("garbage"), None);
        assert_eq!(process_cpu_s(u32::MAX), 0.0);
    }

    #[test]
    fn machine_and_memory_figures_parse() {
        let stat = "cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 1 2 3 4\n";
        assert_eq!(machine_cpu_s_from(stat), (2.0, 10.0));
        assert_eq!(machine_cpu_s_from(""), (0.0, 0.0));
        let status = "Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n";
        assert_eq!(status_mb_from(status, "VmRSS:"), 1.0);
        assert_eq!(status_mb_from(status, "VmHWM:"), 2.0);
        assert_eq!(status_mb_from(status, "VmSwap:"), 0.0);
    }

    #[test]
    fn this_process_is_measured() {
        assert!(rss_mb() > 0.0 && peak_rss_mb() >= rss_mb());
        let (busy, total) = machine_cpu_s();
        assert!(total > 0.0 && busy <= total);
        // A named thread's CPU is seen by name, by handle from another thread, and in the
        // process's total.
        let (tx, rx) = std::sync::mpsc::channel();
        let (go, wait) = std::sync::mpsc::channel::<()>();
        let worker = std::thread::Builder::new()
            .name("tk-proc-spin".into())
            .spawn(move || {
                let t0 = thread_cpu();
                spin(Duration::from_millis(60));
                tx.send((ThreadTask::current(), thread_cpu() - t0)).unwrap();
                wait.recv().unwrap();
            })
            .unwrap();
        let (task, own) = rx.recv().unwrap();
        assert!(own >= Duration::from_millis(30), "{own:?}");
        assert!(task.cpu() >= own, "{:?} < {own:?}", task.cpu());
        assert!(threads_cpu("tk-proc-spin") >= own);
        assert!(live_threads_cpu() >= own);
        assert!(threads().iter().any(|t| t.name == "tk-proc-spin"));
        assert!(process_cpu_s(std::process::id()) > 0.0);
        go.send(()).unwrap();
        worker.join().unwrap();
    }
}

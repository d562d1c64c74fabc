//! Is a lock's holder alive? Only ever answered "certainly not" for a process on this host
//! (the PID is gone, belongs to a process started at another time, or the machine rebooted
//! since); anything else may be a live run, and its lock stands.

use super::LockInfo;

/// This machine's host name.
pub(crate) fn host_name() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| {
            std::fs::read_to_string(p)
                .ok()
                .map(|h| h.trim().to_string())
                .filter(|h| !h.is_empty())
        })
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

/// Changes at every boot: PIDs and start times mean nothing across one.
pub(crate) fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// A process's start time in clock ticks since boot (`/proc/PID/stat`, field 22), which
/// tells a reused PID from the original process.
pub(crate) fn start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(19)?.parse().ok()
}

fn process_exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

pub(crate) fn gone(holder: &LockInfo) -> Option<String> {
    if holder.host.is_empty() || holder.host != host_name() || !process_exists(std::process::id()) {
        // Another machine (or no /proc to ask): nothing here can prove it dead.
        return None;
    }
    if let (false, Some(now)) = (holder.boot_id.is_empty(), boot_id()) {
        if now != holder.boot_id {
            return Some("this host has rebooted since it took the lock".into());
        }
    }
    if holder.pid == 0 || !process_exists(holder.pid) {
        return Some(format!("process {} no longer exists", holder.pid));
    }
    match start_ticks(holder.pid) {
        Some(t) if holder.process_start != 0 && t != holder.process_start => Some(format!(
            "process {} is now another program (started at another time)",
            holder.pid
        )),
        _ => None,
    }
}

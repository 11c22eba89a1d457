//! Which process runs a run (`runs.owner`), and whether it is still alive: how the next
//! process to start tells an interrupted run from one that is still working.
use std::sync::LazyLock;

/// This process, as recorded in `runs.owner`: `pid:start@boot`, its pid, its start time (in
/// clock ticks since boot, from `/proc/self/stat`, so that a later process given the same pid
/// is not taken for it) and the machine's boot id.
pub fn this_process() -> &'static str {
    static OWNER: LazyLock<String> = LazyLock::new(|| {
        let pid = std::process::id();
        format!(
            "{pid}:{}@{}",
            process_start(pid).unwrap_or_default(),
            boot_id()
        )
    });
    &OWNER
}

fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Field 22 of `/proc/PID/stat` (after the command name, which may hold spaces and parens).
fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Whether the process `owner` names is alive; `None` when this machine cannot tell (it ran
/// on another one).
pub(crate) fn owner_alive(owner: &str) -> Option<bool> {
    let (process, boot) = owner.split_once('@')?;
    if boot != boot_id() {
        // Another machine, or this one before a reboot.
        return None;
    }
    let (pid, start) = process.split_once(':')?;
    let pid: u32 = pid.parse().ok()?;
    let start: u64 = start.parse().ok()?;
    Some(process_start(pid) == Some(start))
}

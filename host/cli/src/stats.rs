//! What a call used ([`CallStats`]), written for people.

use std::time::Duration;

use polyplug::{CallStats, Limits};

/// `312µs`, `4.2ms`, `1.25s`.
pub fn elapsed(time: Duration) -> String {
    let micros = time.as_micros();
    match micros {
        0..1_000 => format!("{micros}µs"),
        1_000..1_000_000 => format!("{:.1}ms", micros as f64 / 1e3),
        _ => format!("{:.2}s", micros as f64 / 1e6),
    }
}

/// `900B`, `64.0KiB`, `1.5MiB`.
pub fn memory(bytes: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    UNITS
        .iter()
        .find(|(unit, _)| bytes >= *unit)
        .map(|(unit, name)| format!("{:.1}{name}", bytes as f64 / *unit as f64))
        .unwrap_or_else(|| format!("{bytes}B"))
}

/// One line with each figure against its limit, for `polyplug call
/// --stats`: `time 1.2ms of 2s, fuel 18970 of 1000000000, peak memory
/// 1.1MiB of 64MiB`.
pub fn against(stats: &CallStats, limits: Option<&Limits>) -> String {
    let of = |limit: Option<String>| limit.map(|l| format!(" of {l}")).unwrap_or_default();
    format!(
        "time {}{}, fuel {}{}, peak memory {}{}",
        elapsed(stats.elapsed),
        of(limits.map(|l| humantime::format_duration(l.timeout).to_string())),
        stats.fuel,
        of(limits.map(|l| l.fuel.to_string())),
        memory(stats.peak_memory),
        of(limits.map(|l| polyplug::format_size(l.memory))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_read_at_a_glance() {
        assert_eq!(elapsed(Duration::from_micros(312)), "312µs");
        assert_eq!(elapsed(Duration::from_micros(4_250)), "4.2ms");
        assert_eq!(elapsed(Duration::from_millis(1_250)), "1.25s");
        assert_eq!(memory(900), "900B");
        assert_eq!(memory(3 << 19), "1.5MiB");
    }
}

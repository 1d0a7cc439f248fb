//! What `polyplug test` prints: a line per case and plugin, the reasons
//! under a failure, a summary; or all of it as one JSON document.

use std::time::Duration;

use serde_json::{Value, json};

use super::{Outcome, Verdict};
use crate::stats::{elapsed, memory};

/// Differences shown under a failing line; the JSON report has them all.
const SHOWN_DIFFERENCES: usize = 20;

/// Column widths, from every plugin and case name of the run.
pub struct Columns {
    pub plugin: usize,
    pub case: usize,
}

/// The line of one outcome, and under it why it failed or what it wrote.
pub fn lines(outcome: &Outcome, columns: &Columns) -> String {
    let status = match &outcome.verdict {
        Verdict::Pass => "pass",
        Verdict::Updated(_) => "updated",
        Verdict::Fail(_) => "FAIL",
    };
    let figures = match &outcome.stats {
        Some(stats) => format!(
            "{:>8}  fuel {:>11}  mem {:>8}",
            elapsed(stats.elapsed),
            stats.fuel,
            memory(stats.peak_memory)
        ),
        None => String::new(),
    };
    let mut text = format!(
        "{status:<7}  {:<pw$}  {:<cw$}  {figures}",
        outcome.plugin.as_deref().unwrap_or("-"),
        outcome.name(),
        pw = columns.plugin,
        cw = columns.case,
    )
    .trim_end()
    .to_string();
    match &outcome.verdict {
        Verdict::Pass => {}
        Verdict::Updated(changes) => {
            for change in changes {
                text.push_str(&format!("\n         {change}"));
            }
        }
        Verdict::Fail(mismatch) => {
            text.push_str(&format!("\n         {}", mismatch.problem));
            for difference in mismatch.differences.iter().take(SHOWN_DIFFERENCES) {
                text.push_str(&format!("\n           {difference}"));
            }
            let more = mismatch.differences.len().saturating_sub(SHOWN_DIFFERENCES);
            if more > 0 {
                text.push_str(&format!("\n           … and {more} more"));
            }
        }
    }
    text
}

/// Counts of a run.
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    pub updated: usize,
    pub cases: usize,
    pub plugins: usize,
    pub elapsed: Duration,
    /// The column widths the lines of this run use.
    pub columns: Columns,
}

impl Summary {
    pub fn of(outcomes: &[Outcome], cases: usize, elapsed: Duration, columns: Columns) -> Self {
        let count = |f: fn(&Verdict) -> bool| outcomes.iter().filter(|o| f(&o.verdict)).count();
        let mut plugins: Vec<_> = outcomes.iter().filter_map(|o| o.plugin.as_ref()).collect();
        plugins.sort();
        plugins.dedup();
        Self {
            passed: count(|v| !matches!(v, Verdict::Fail(_))),
            failed: count(|v| matches!(v, Verdict::Fail(_))),
            updated: count(|v| matches!(v, Verdict::Updated(_))),
            cases,
            plugins: plugins.len(),
            elapsed,
            columns,
        }
    }

    /// Two lines: what ran, then `N passed, N failed` alone.
    pub fn text(&self) -> String {
        let updated = match self.updated {
            0 => String::new(),
            n => format!("; {n} expected result{} updated", plural(n)),
        };
        format!(
            "{} case{} against {} plugin{} in {}{updated}\n{} passed, {} failed",
            self.cases,
            plural(self.cases),
            self.plugins,
            plural(self.plugins),
            elapsed(self.elapsed),
            self.passed,
            self.failed
        )
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Milliseconds to the microsecond.
fn millis(time: Duration) -> f64 {
    time.as_micros() as f64 / 1e3
}

/// The whole run as one JSON document, for `--json`.
pub fn json(outcomes: &[Outcome], summary: &Summary) -> Value {
    let cases: Vec<Value> = outcomes
        .iter()
        .map(|outcome| {
            let mut case = json!({
                "plugin": outcome.plugin,
                "function": outcome.function,
                "case": outcome.case,
                "status": match outcome.verdict {
                    Verdict::Pass => "pass",
                    Verdict::Updated(_) => "updated",
                    Verdict::Fail(_) => "fail",
                },
            });
            if let Some(stats) = &outcome.stats {
                case["elapsed_ms"] = json!(millis(stats.elapsed));
                case["fuel"] = json!(stats.fuel);
                case["peak_memory"] = json!(stats.peak_memory);
            }
            match &outcome.verdict {
                Verdict::Pass => {}
                Verdict::Updated(changes) => case["updated"] = json!(changes),
                Verdict::Fail(mismatch) => {
                    case["problem"] = json!(mismatch.problem);
                    let differences: Vec<Value> = mismatch
                        .differences
                        .iter()
                        .map(|d| {
                            let mut entry = json!({"path": d.path});
                            if let Some(expected) = &d.expected {
                                entry["expected"] = expected.clone();
                            }
                            if let Some(actual) = &d.actual {
                                entry["actual"] = actual.clone();
                            }
                            entry
                        })
                        .collect();
                    if !differences.is_empty() {
                        case["differences"] = Value::Array(differences);
                    }
                }
            }
            case
        })
        .collect();
    json!({
        "passed": summary.passed,
        "failed": summary.failed,
        "updated": summary.updated,
        "cases": summary.cases,
        "plugins": summary.plugins,
        "elapsed_ms": millis(summary.elapsed),
        "results": cases,
    })
}

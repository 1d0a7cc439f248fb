//! CPU: code that never stops, in the plugin or in a loop over host
//! functions, ends at the timeout or when its fuel runs out. (A loop in
//! start-up code is a load case: see `loading.rs`.)

use std::time::Duration;

use super::harness::{Case, Cost, Expect, check_once};

/// Short enough that repeating a timeout case stays cheap.
const TIMEOUT: Duration = Duration::from_millis(50);
/// About a millisecond of work.
const FUEL: u64 = 1_000_000;

/// The loop body of each spinning export.
const SPIN: &str = "(loop $again (br $again))";
pub const VAR_GET: &str = r#"(loop $again (drop (call $var_get (call $key))) (br $again))"#;
const ALLOC_FREE: &str = "(loop $again (call $free (call $alloc (i64.const 4096))) (br $again))";
const LOG: &str = "(loop $again (call $log_info (call $key)) (br $again))";

pub fn spinning(name: &str, body: &str, expect: Expect) -> Case {
    let module = format!(
        r#"{key} (func (export "f") (result i32) {body} (i32.const 0))"#,
        key = super::wat::kernel_bytes("$key", b"key"),
    );
    let case = Case::wat(name, &module, expect.clone());
    match expect {
        Expect::Timeout => case.cost(Cost::Costly(20)).limits(|l| {
            l.timeout = TIMEOUT;
            l.fuel = u64::MAX / 2;
        }),
        // Fuel, not the (long) timeout, must stop it, and quickly.
        _ => case
            .limits(|l| {
                l.timeout = Duration::from_secs(30);
                l.fuel = FUEL;
            })
            .within(Duration::from_secs(1)),
    }
}

pub fn cases() -> Vec<Case> {
    vec![
        spinning(
            "an infinite loop, against the timeout",
            SPIN,
            Expect::Timeout,
        ),
        spinning("an infinite loop, against fuel", SPIN, Expect::OutOfFuel),
        // Against the timeout this loop is misreported as a trap about
        // one time in three: see `findings.rs`.
        spinning(
            "a loop calling `var_get`, against fuel",
            VAR_GET,
            Expect::OutOfFuel,
        ),
        spinning(
            "a loop of `alloc` and `free`, against the timeout",
            ALLOC_FREE,
            Expect::Timeout,
        ),
        spinning(
            "a loop of `alloc` and `free`, against fuel",
            ALLOC_FREE,
            Expect::OutOfFuel,
        ),
        spinning(
            "a loop calling `log_info`, against the timeout",
            LOG,
            Expect::Timeout,
        ),
        spinning(
            "a loop calling `log_info`, against fuel",
            LOG,
            Expect::OutOfFuel,
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_that_never_stops_ends_at_its_timeout_or_fuel() {
    check_once(cases()).await;
}

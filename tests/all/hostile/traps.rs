//! Stack and traps: each crash is a `Trap` naming its cause, and the plugin
//! serves the next call from a fresh instance.

use super::harness::{Case, Expect, check_once};

pub fn cases() -> Vec<Case> {
    vec![
        Case::wat(
            "unbounded recursion",
            r#"(func $deeper (export "f") (result i32) (i32.add (call $deeper) (i32.const 1)))"#,
            Expect::Trap("call stack exhausted"),
        ),
        Case::wat(
            "`unreachable`",
            r#"(func (export "f") (result i32) unreachable)"#,
            Expect::Trap("unreachable"),
        ),
        Case::wat(
            "integer division by zero",
            r#"(func (export "f") (result i32) (i32.div_u (i32.const 1) (i32.const 0)))"#,
            Expect::Trap("integer divide by zero"),
        ),
        Case::wat(
            "signed division overflow",
            r#"(func (export "f") (result i32) (i32.div_s (i32.const 0x80000000) (i32.const -1)))"#,
            Expect::Trap("integer overflow"),
        ),
        Case::wat(
            "a load past the end of memory",
            r#"(memory 1) (func (export "f") (result i32) (i32.load (i32.const 65535)))"#,
            Expect::Trap("out of bounds memory access"),
        ),
        Case::wat(
            "a NaN converted to an integer",
            r#"(func (export "f") (result i32) (i32.trunc_f32_s (f32.const nan)))"#,
            Expect::Trap("invalid conversion to integer"),
        ),
        Case::wat(
            "an indirect call through an empty table slot",
            r#"(type $t (func (result i32))) (table 1 funcref)
            (func (export "f") (result i32) (call_indirect (type $t) (i32.const 0)))"#,
            Expect::Trap("uninitialized element"),
        ),
        Case::wat(
            "a non-zero return without an error",
            r#"(func (export "f") (result i32) (i32.const 7))"#,
            Expect::Trap("non-zero exit code: 7"),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_trap_names_its_cause() {
    check_once(cases()).await;
}

//! Memory: growing linear memory (either index type) stops at the `memory`
//! ceiling; outputs over `max_output` never reach the caller. Modules that
//! could get round the ceiling (two memories, an initial memory over it,
//! tables that grow without bound) are refused at load: `loading.rs`.

use super::harness::{Case, Expect, check_once};

const CEILING: u64 = 4 << 20;

fn bomb(name: &str, body: &str, expect: Expect) -> Case {
    Case::wat(name, body, expect).limits(|l| l.memory = CEILING)
}

pub fn cases() -> Vec<Case> {
    vec![
        bomb(
            "`memory.grow` in a loop",
            r#"(memory 1)
            (func (export "f") (result i32)
              (loop (br_if 0 (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))
              (i32.const 0))"#,
            Expect::MemoryLimit,
        ),
        bomb(
            "`memory.grow` of a 64-bit memory in a loop",
            r#"(memory i64 1)
            (func (export "f") (result i32)
              (loop (br_if 0 (i64.ne (memory.grow (i64.const 16)) (i64.const -1))))
              (i32.const 0))"#,
            Expect::MemoryLimit,
        ),
        // A second memory, or an initial memory over the ceiling, no longer
        // loads: see `loading.rs`.
        bomb(
            "`alloc` of 1MiB blocks in a loop",
            r#"(func (export "f") (result i32)
              (loop (br_if 0 (i64.ne (call $alloc (i64.const 0x100000)) (i64.const 0))))
              (i32.const 0))"#,
            Expect::MemoryLimit,
        ),
        bomb(
            "`var_get` of a 512KiB variable in a loop, never freed",
            &format!(
                r#"{key}
                (func (export "f") (result i32)
                  (call $var_set (call $key) (call $alloc (i64.const 0x80000)))
                  (loop (drop (call $var_get (call $key))) (br 0))
                  (i32.const 0))"#,
                key = super::wat::kernel_bytes("$key", b"big")
            ),
            Expect::MemoryLimit,
        ),
        // A table the code grows must declare a maximum (`loading.rs`);
        // growing past it fails inside the plugin (`table.grow` gives -1).
        Case::wat(
            "`table.grow` of a 64-bit table by 2^62, past its maximum",
            r#"(table $t i64 0 100 funcref)
            (func (export "f") (result i32)
              (call $emit_number (i64.extend_i32_u (i64.eq (i64.const -1)
                (table.grow $t (ref.null func) (i64.const 0x4000000000000000)))))
              (i32.const 0))"#,
            Expect::Output(b"1".to_vec()),
        ),
        Case::wat(
            "echoing a 4MiB input",
            r#"(func (export "f") (result i32)
              (call $output_set (call $input_offset) (call $input_length))
              (i32.const 0))"#,
            Expect::OutputTooLarge(4 << 20),
        )
        .input(json_string(4 << 20))
        .limits(|l| l.max_input = 8 << 20)
        .cost(super::harness::Cost::Costly(50)),
        Case::wat(
            "a 2MiB output",
            r#"(func (export "f") (result i32)
              (call $output_set (call $alloc (i64.const 0x200000)) (i64.const 0x200000))
              (i32.const 0))"#,
            Expect::OutputTooLarge(2 << 20),
        ),
        Case::wat(
            "`output_set` of 1GiB at memory never allocated",
            r#"(func (export "f") (result i32)
              (call $output_set (i64.const 0x100000) (i64.const 0x40000000))
              (i32.const 0))"#,
            // The kernel ignores an output outside its memory: no output.
            Expect::InvalidOutput,
        ),
    ]
}

/// A JSON string of exactly `len` bytes.
pub fn json_string(len: usize) -> Vec<u8> {
    let mut text = vec![b'a'; len];
    text[0] = b'"';
    text[len - 1] = b'"';
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_bombs_stop_at_the_ceiling_and_big_outputs_at_the_cap() {
    check_once(cases()).await;
}

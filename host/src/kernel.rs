//! Keeps a plugin from making the host read outside the Extism kernel's
//! memory.
//!
//! Extism 1.41 reads every handle and the call's output with an unchecked
//! slice of the kernel's memory (`CurrentPlugin::memory_bytes`), sized by
//! lengths that the plugin can write: a block's `used` field sits in the
//! 12 bytes before its data, the output length in the kernel's memory root
//! (its `store_u64` bounds check lets offset 57 through), and `alloc` of
//! 2^64 bytes hands out a block longer than memory. Any of them sends the
//! host past the end of a mapping: SIGSEGV, and every plugin of the process
//! goes down with it.
//!
//! Every such read takes its length from one of two kernel exports, which
//! Extism looks up by name in the linker: `length` (handles passed to host
//! functions, and the error message) and `output_length` (the output).
//! `imports.rs` shadows both, and Extism's host functions, with functions
//! that answer from the kernel's own bookkeeping, checked here against the
//! region the kernel has grown its memory to:
//!
//! - `length(p)` finds the block whose data starts at `p`, as the kernel
//!   does, and gives its length only when the whole block lies inside that
//!   region; otherwise 0, the kernel's "no such block", which every caller
//!   already treats as an invalid handle.
//! - `output_length()` fails the call when the output's offset and length
//!   leave the region.
//!
//! The layout below is the kernel's in Extism 1.41 (`kernel/src/lib.rs`,
//! wasm32): the memory root at address 1, the blocks right after it. The
//! hostile suite's forged-length cases and every test vector go through
//! these functions, so a kernel with another layout fails them.

use extism::CurrentPlugin;
use extism_convert::MemoryHandle;

/// Where the root's fields are: `MemoryRoot` is `repr(C)` at address 1,
/// an `AtomicBool` then seven `u64`s, each at an 8-byte offset.
const ROOT_LENGTH: u64 = 1 + 16;
const ROOT_OUTPUT_OFFSET: u64 = 1 + 48;
const ROOT_OUTPUT_LENGTH: u64 = 1 + 56;
/// The first block's header, right after the 64-byte root.
const BLOCKS: u64 = 1 + 64;

/// A block's header: status (`u8`, padded to 4), `size` and `used` (each
/// a wasm32 `usize`). Its data follows.
const HEADER: u64 = 12;
const HEADER_SIZE: usize = 4;
const HEADER_USED: usize = 8;
const ACTIVE: u8 = 1;

/// The length of the block whose data starts at `offset`, or 0 when there
/// is no such active block or it runs past the kernel's region.
pub(crate) fn checked_length(
    plugin: &mut CurrentPlugin,
    offset: u64,
) -> Result<u64, extism::Error> {
    if offset < BLOCKS + HEADER {
        return Ok(0);
    }
    let blocks = blocks(plugin)?;
    let target = offset - BLOCKS;
    // The kernel's `find_block`: walk the chain of headers from the first.
    // Every read goes through `get`, so forged sizes end the walk instead
    // of leaving the region.
    let mut at: u64 = 0;
    while at < target {
        let Some(header) = usize::try_from(at)
            .ok()
            .and_then(|at| blocks.get(at..at.checked_add(HEADER as usize)?))
        else {
            return Ok(0);
        };
        let size = u64::from(u32_at(header, HEADER_SIZE));
        if header[0] == ACTIVE && at + HEADER == target {
            let used = u64::from(u32_at(header, HEADER_USED));
            let fits = target
                .checked_add(used)
                .is_some_and(|end| end <= blocks.len() as u64);
            return Ok(if fits { used } else { 0 });
        }
        at += HEADER + size;
    }
    Ok(0)
}

/// The output length the kernel's root holds, when the output lies inside
/// the kernel's region.
pub(crate) fn checked_output_length(plugin: &mut CurrentPlugin) -> Result<u64, extism::Error> {
    let offset = u64_at_root(plugin, ROOT_OUTPUT_OFFSET)?;
    let length = u64_at_root(plugin, ROOT_OUTPUT_LENGTH)?;
    if length == 0 {
        return Ok(0);
    }
    let end = BLOCKS + u64_at_root(plugin, ROOT_LENGTH)?;
    let inside = offset >= BLOCKS && offset.checked_add(length).is_some_and(|last| last <= end);
    if !inside {
        return Err(extism::Error::msg(format!(
            "the plugin set its output outside its memory ({length} bytes at offset {offset})"
        )));
    }
    Ok(length)
}

/// The kernel's blocks: from the first header to the end of the region the
/// kernel has accounted for (`MemoryRoot::length`, which only `alloc`
/// raises, by exactly the pages it grew the memory by, and which a plugin
/// cannot write). The memory is always at least that large.
fn blocks(plugin: &mut CurrentPlugin) -> Result<&[u8], extism::Error> {
    let length = u64_at_root(plugin, ROOT_LENGTH)?;
    plugin.memory_bytes(MemoryHandle {
        offset: BLOCKS,
        length,
    })
}

/// A `u64` field of the root. The root lies in the kernel's first page,
/// which exists from the moment the kernel is instantiated.
fn u64_at_root(plugin: &mut CurrentPlugin, offset: u64) -> Result<u64, extism::Error> {
    let bytes = plugin.memory_bytes(MemoryHandle { offset, length: 8 })?;
    Ok(u64::from_le_bytes(bytes.try_into()?))
}

fn u32_at(header: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
}

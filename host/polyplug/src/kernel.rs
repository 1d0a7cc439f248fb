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

/// The memory root: `MemoryRoot`, `repr(C)` at address 1, an `AtomicBool`
/// then seven `u64`s, each at an 8-byte offset from the root.
const ROOT: u64 = 1;
const ROOT_SIZE: u64 = 64;
const ROOT_LENGTH: usize = 16;
const ROOT_OUTPUT_OFFSET: usize = 48;
const ROOT_OUTPUT_LENGTH: usize = 56;
/// The kernel's memory declares 16 pages as its minimum, so it is never
/// smaller.
const KERNEL_MIN_MEMORY: u64 = 16 * 65536;
/// The first block's header, right after the root.
const BLOCKS: u64 = ROOT + ROOT_SIZE;

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
    with_blocks(plugin, |blocks| find_length(blocks, offset - BLOCKS))
}

/// The kernel's `find_block`: walks the chain of headers from the first
/// to the block whose data starts at `target` (relative to the first
/// header). Every read goes through `get`, so forged sizes end the walk
/// instead of leaving the region.
fn find_length(blocks: &[u8], target: u64) -> u64 {
    let mut at: u64 = 0;
    while at < target {
        let Some(header) = usize::try_from(at)
            .ok()
            .and_then(|at| blocks.get(at..at.checked_add(HEADER as usize)?))
        else {
            return 0;
        };
        let size = u64::from(u32_at(header, HEADER_SIZE));
        if header[0] == ACTIVE && at + HEADER == target {
            let used = u64::from(u32_at(header, HEADER_USED));
            let fits = target
                .checked_add(used)
                .is_some_and(|end| end <= blocks.len() as u64);
            return if fits { used } else { 0 };
        }
        at += HEADER + size;
    }
    0
}

/// The output length the kernel's root holds, when the output lies inside
/// the kernel's region.
pub(crate) fn checked_output_length(plugin: &mut CurrentPlugin) -> Result<u64, extism::Error> {
    let root = Root::read(plugin)?;
    let (offset, length) = (root.output_offset, root.output_length);
    if length == 0 {
        return Ok(0);
    }
    let end = BLOCKS + root.length;
    let inside = offset >= BLOCKS && offset.checked_add(length).is_some_and(|last| last <= end);
    if !inside {
        return Err(extism::Error::msg(format!(
            "the plugin set its output outside its memory ({length} bytes at offset {offset})"
        )));
    }
    Ok(length)
}

/// Runs `walk` on the kernel's blocks: from the first header to the end of
/// the region the kernel has accounted for (`MemoryRoot::length`, which
/// only `alloc` raises, by exactly the pages it grew the memory by, and
/// which a plugin cannot write). The memory is always at least that large.
///
/// Each `memory_bytes` looks the memory up by name, so the common case
/// takes one: the kernel's memory declares [`KERNEL_MIN_MEMORY`], which
/// holds the root and, until the kernel grows, every block.
fn with_blocks<R>(
    plugin: &mut CurrentPlugin,
    walk: impl FnOnce(&[u8]) -> R,
) -> Result<R, extism::Error> {
    let length = {
        let first = plugin.memory_bytes(MemoryHandle {
            offset: 0,
            length: KERNEL_MIN_MEMORY,
        })?;
        let length = Root::parse(&first[ROOT as usize..]).length;
        if let Some(blocks) = usize::try_from(BLOCKS + length)
            .ok()
            .and_then(|end| first.get(BLOCKS as usize..end))
        {
            return Ok(walk(blocks));
        }
        length
    };
    let blocks = plugin.memory_bytes(MemoryHandle {
        offset: BLOCKS,
        length,
    })?;
    Ok(walk(blocks))
}

/// The fields of the root the host reads. The root lies in the kernel's
/// first page, which exists from the moment the kernel is instantiated.
struct Root {
    length: u64,
    output_offset: u64,
    output_length: u64,
}

impl Root {
    fn read(plugin: &mut CurrentPlugin) -> Result<Root, extism::Error> {
        let root = plugin.memory_bytes(MemoryHandle {
            offset: ROOT,
            length: ROOT_SIZE,
        })?;
        Ok(Root::parse(root))
    }

    /// The root's fields from its first bytes.
    fn parse(root: &[u8]) -> Root {
        let field = |at: usize| {
            let mut bytes = [0; 8];
            bytes.copy_from_slice(&root[at..at + 8]);
            u64::from_le_bytes(bytes)
        };
        Root {
            length: field(ROOT_LENGTH),
            output_offset: field(ROOT_OUTPUT_OFFSET),
            output_length: field(ROOT_OUTPUT_LENGTH),
        }
    }
}

fn u32_at(header: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Blocks laid out as the kernel lays them out: (status, size, used).
    fn region(blocks: &[(u8, u32, u32)], spare: usize) -> Vec<u8> {
        let mut bytes = Vec::new();
        for &(status, size, used) in blocks {
            bytes.extend([status, 0, 0, 0]);
            bytes.extend(size.to_le_bytes());
            bytes.extend(used.to_le_bytes());
            bytes.extend(std::iter::repeat_n(0xAA, size as usize));
        }
        bytes.extend(std::iter::repeat_n(0, spare));
        bytes
    }

    #[test]
    fn finds_each_active_block_by_its_data_offset() {
        let blocks = region(&[(ACTIVE, 16, 10), (ACTIVE, 4, 4)], 32);
        assert_eq!(find_length(&blocks, 12), 10);
        assert_eq!(find_length(&blocks, 12 + 16 + 12), 4);
        // Not the start of a block's data, or past the last block.
        assert_eq!(find_length(&blocks, 13), 0);
        assert_eq!(find_length(&blocks, 200), 0);
    }

    #[test]
    fn a_freed_block_has_no_length() {
        let blocks = region(&[(2, 16, 16), (ACTIVE, 4, 4)], 0);
        assert_eq!(find_length(&blocks, 12), 0);
        assert_eq!(find_length(&blocks, 40), 4);
    }

    #[test]
    fn a_forged_used_length_past_the_region_is_no_block() {
        let blocks = region(&[(ACTIVE, 16, 0x7fff_fff0)], 0);
        assert_eq!(find_length(&blocks, 12), 0);
        // Exactly to the end of the region is fine.
        let blocks = region(&[(ACTIVE, 16, 16)], 0);
        assert_eq!(find_length(&blocks, 12), 16);
    }

    #[test]
    fn a_forged_size_ends_the_walk_inside_the_region() {
        let blocks = region(&[(ACTIVE, u32::MAX, 4)], 0);
        assert_eq!(find_length(&blocks, 1 << 40), 0);
        // Zero-sized headers only step forward, and the walk stops at the end.
        assert_eq!(find_length(&[0; 64], 1 << 20), 0);
    }
}

//! The memory behind Extism's kernel ABI, kept by the host.
//!
//! Extism plugins never share their own linear memory with the host: they
//! `alloc` blocks in a second memory, the kernel's, and move bytes in and
//! out 8 at a time (`store_u64`, `load_u64`, `input_load_u64`); the input,
//! the output and the error are blocks there. Extism implements that memory
//! as a wasm module whose bookkeeping lives inside memory the plugin can
//! write, which is how a forged block length once crashed the host. Here it
//! is a `Vec<u8>` and a table of blocks the plugin cannot touch: every
//! offset it passes is looked up, every read and write is bounds-checked.
//!
//! Offsets are arena positions plus [`BASE`], so 0 stays Extism's null
//! handle. Out of bounds, loads read 0 and stores are ignored, as in
//! Extism's kernel. Blocks are rounded up to a size class and freed blocks
//! are reused by class, so `alloc` and `free` take constant time whatever
//! a plugin does; the arena only grows while the plugin's memory budget
//! allows ([`Kernel::alloc`] takes what is left of it).

use std::collections::HashMap;

/// The offset of the arena's first byte: 0 is the null handle.
const BASE: u64 = 8;
/// Blocks up to 2^LARGEST_CLASS bytes are rounded to a power of two and
/// kept for reuse by size; larger ones are rounded to 8 bytes.
const LARGEST_CLASS: u32 = 16;
const MIN_BLOCK: u64 = 8;

#[derive(Debug, Clone, Copy)]
struct Block {
    /// Bytes asked for.
    len: u64,
    /// Bytes reserved (the size class, or `len` rounded up to 8).
    cap: u64,
}

/// A request the plugin's memory budget cannot meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OverBudget;

#[derive(Default)]
pub(crate) struct Kernel {
    arena: Vec<u8>,
    live: HashMap<u64, Block>,
    /// Freed blocks by size class (`free[c]` holds blocks of 8 << c bytes).
    free: Vec<Vec<u64>>,
    /// Freed blocks larger than the largest class: (offset, cap).
    free_large: Vec<(u64, u64)>,
    input: u64,
    output: (u64, u64),
    error: u64,
}

impl Kernel {
    /// Bytes the arena holds (what it costs the plugin's memory budget).
    pub fn size(&self) -> u64 {
        self.arena.len() as u64
    }

    /// Drops every block, the input, the output and the error: the state
    /// at the start of each call. The arena's allocation is kept.
    pub fn reset(&mut self) {
        self.arena.clear();
        self.live.clear();
        self.free.iter_mut().for_each(Vec::clear);
        self.free_large.clear();
        self.input = 0;
        self.output = (0, 0);
        self.error = 0;
    }

    /// A new block of `len` bytes; `budget` is the most the arena may grow
    /// to. `alloc(0)` is the null handle, as in Extism.
    pub fn alloc(&mut self, len: u64, budget: u64) -> Result<u64, OverBudget> {
        if len == 0 {
            return Ok(0);
        }
        let (class, cap) = size_class(len).ok_or(OverBudget)?;
        let reused = match class {
            Some(class) => self
                .free
                .get_mut(class as usize)
                .and_then(Vec::pop)
                .map(|offset| (offset, cap)),
            None => self
                .free_large
                .iter()
                .position(|&(_, free_cap)| free_cap >= cap)
                .map(|at| self.free_large.swap_remove(at)),
        };
        let (offset, cap) = match reused {
            Some(reused) => reused,
            None => {
                let start = self.arena.len() as u64;
                let end = start.checked_add(cap).ok_or(OverBudget)?;
                if end > budget {
                    return Err(OverBudget);
                }
                self.arena.resize(end as usize, 0);
                (start + BASE, cap)
            }
        };
        self.live.insert(offset, Block { len, cap });
        Ok(offset)
    }

    /// Frees a block; anything that is not a live block is ignored. Freeing
    /// the input empties it.
    pub fn free(&mut self, offset: u64) {
        let Some(block) = self.live.remove(&offset) else {
            return;
        };
        if offset == self.input {
            self.input = 0;
        }
        match size_class(block.cap).and_then(|(class, _)| class) {
            Some(class) if MIN_BLOCK << class == block.cap => {
                let class = class as usize;
                if self.free.len() <= class {
                    self.free.resize_with(class + 1, Vec::new);
                }
                self.free[class].push(offset);
            }
            _ => self.free_large.push((offset, block.cap)),
        }
    }

    /// The length of the live block at `offset`, or 0.
    pub fn length(&self, offset: u64) -> u64 {
        self.live.get(&offset).map_or(0, |block| block.len)
    }

    /// The bytes of the live block at `offset` (null: empty), or `None`.
    pub fn block(&self, offset: u64) -> Option<&[u8]> {
        if offset == 0 {
            return Some(&[]);
        }
        let block = self.live.get(&offset)?;
        self.bytes(offset, block.len)
    }

    /// A new block holding `bytes`; the null handle for no bytes.
    pub fn store_block(&mut self, bytes: &[u8], budget: u64) -> Result<u64, OverBudget> {
        let offset = self.alloc(bytes.len() as u64, budget)?;
        if offset != 0 {
            let at = (offset - BASE) as usize;
            self.arena[at..at + bytes.len()].copy_from_slice(bytes);
        }
        Ok(offset)
    }

    /// `len` bytes at `offset`, when they lie inside the arena.
    fn bytes(&self, offset: u64, len: u64) -> Option<&[u8]> {
        let start = usize::try_from(offset.checked_sub(BASE)?).ok()?;
        let end = start.checked_add(usize::try_from(len).ok()?)?;
        self.arena.get(start..end)
    }

    fn bytes_mut(&mut self, offset: u64, len: u64) -> Option<&mut [u8]> {
        let start = usize::try_from(offset.checked_sub(BASE)?).ok()?;
        let end = start.checked_add(usize::try_from(len).ok()?)?;
        self.arena.get_mut(start..end)
    }

    pub fn load_u8(&self, offset: u64) -> u8 {
        self.bytes(offset, 1).map_or(0, |b| b[0])
    }

    pub fn load_u64(&self, offset: u64) -> u64 {
        self.bytes(offset, 8)
            .map_or(0, |b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
    }

    pub fn store_u8(&mut self, offset: u64, value: u8) {
        if let Some(b) = self.bytes_mut(offset, 1) {
            b[0] = value;
        }
    }

    pub fn store_u64(&mut self, offset: u64, value: u64) {
        if let Some(b) = self.bytes_mut(offset, 8) {
            b.copy_from_slice(&value.to_le_bytes());
        }
    }

    /// Places the call's input in a block of its own.
    pub fn set_input(&mut self, input: &[u8], budget: u64) -> Result<(), OverBudget> {
        self.input = self.store_block(input, budget)?;
        Ok(())
    }

    pub fn input_offset(&self) -> u64 {
        self.input
    }

    pub fn input_length(&self) -> u64 {
        self.length(self.input)
    }

    /// The input byte at `index`, 0 past its end.
    pub fn input_load_u8(&self, index: u64) -> u8 {
        if index >= self.input_length() {
            return 0;
        }
        self.load_u8(self.input + index)
    }

    /// Eight input bytes from `index`, zero past its end.
    pub fn input_load_u64(&self, index: u64) -> u64 {
        let length = self.input_length();
        if index >= length {
            return 0;
        }
        let available = (length - index).min(8);
        let mut word = [0u8; 8];
        if let Some(bytes) = self.bytes(self.input + index, available) {
            word[..bytes.len()].copy_from_slice(bytes);
        }
        u64::from_le_bytes(word)
    }

    /// Sets the output; a range outside the arena is ignored, as Extism's
    /// kernel ignores an output it cannot hold.
    pub fn set_output(&mut self, offset: u64, len: u64) {
        if len == 0 || self.bytes(offset, len).is_some() {
            self.output = (offset, len);
        }
    }

    pub fn output_offset(&self) -> u64 {
        self.output.0
    }

    pub fn output_length(&self) -> u64 {
        self.output.1
    }

    /// The output's bytes, or the offset and length that left the arena
    /// (a `reset` after `output_set` can do that).
    pub fn output(&self) -> Result<&[u8], (u64, u64)> {
        let (offset, len) = self.output;
        if len == 0 {
            return Ok(&[]);
        }
        self.bytes(offset, len).ok_or((offset, len))
    }

    /// Sets the error message to the block at `offset`; 0 clears it, and an
    /// offset that is no live block is ignored.
    pub fn set_error(&mut self, offset: u64) {
        if offset == 0 || self.live.contains_key(&offset) {
            self.error = offset;
        }
    }

    pub fn error_offset(&self) -> u64 {
        self.error
    }

    /// The error message the plugin set, if it set one and it is still there.
    pub fn error(&self) -> Option<String> {
        if self.error == 0 {
            return None;
        }
        let bytes = self.block(self.error)?;
        Some(String::from_utf8_lossy(bytes).into_owned())
    }
}

/// The size class of a block of `len` bytes and the bytes it reserves:
/// `Some(class)` for pooled sizes, `None` for large blocks.
fn size_class(len: u64) -> Option<(Option<u32>, u64)> {
    let cap = len.max(MIN_BLOCK);
    if cap <= MIN_BLOCK << LARGEST_CLASS {
        let cap = cap.next_power_of_two();
        let class = cap.trailing_zeros() - MIN_BLOCK.trailing_zeros();
        return Some((Some(class), cap));
    }
    let cap = cap.checked_add(7)? & !7;
    Some((None, cap))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLENTY: u64 = 1 << 30;

    #[test]
    fn blocks_are_found_by_offset_and_never_at_zero() {
        let mut kernel = Kernel::default();
        let a = kernel.alloc(10, PLENTY).unwrap();
        let b = kernel.alloc(3, PLENTY).unwrap();
        assert!(a != 0 && b != 0 && a != b);
        assert_eq!((kernel.length(a), kernel.length(b)), (10, 3));
        assert_eq!(kernel.length(a + 1), 0);
        assert_eq!(kernel.alloc(0, PLENTY), Ok(0));
    }

    #[test]
    fn loads_and_stores_round_trip_and_ignore_out_of_bounds() {
        let mut kernel = Kernel::default();
        let a = kernel.alloc(16, PLENTY).unwrap();
        kernel.store_u64(a, 0x0102_0304_0506_0708);
        kernel.store_u8(a + 8, 9);
        assert_eq!(kernel.load_u64(a), 0x0102_0304_0506_0708);
        assert_eq!(kernel.load_u8(a + 8), 9);
        kernel.store_u64(u64::MAX - 3, 1);
        kernel.store_u8(0, 1);
        assert_eq!(kernel.load_u64(u64::MAX - 3), 0);
        assert_eq!(kernel.load_u64(a + 12), 0, "straddles the end");
    }

    #[test]
    fn freed_blocks_are_reused_and_double_frees_ignored() {
        let mut kernel = Kernel::default();
        let a = kernel.alloc(100, PLENTY).unwrap();
        let size = kernel.size();
        kernel.free(a);
        kernel.free(a);
        kernel.free(12345);
        let b = kernel.alloc(120, PLENTY).unwrap();
        assert_eq!(a, b);
        assert_eq!(kernel.size(), size);
        let big = kernel.alloc(1 << 20, PLENTY).unwrap();
        kernel.free(big);
        assert_eq!(kernel.alloc(1 << 20, PLENTY), Ok(big));
    }

    #[test]
    fn the_budget_bounds_the_arena() {
        let mut kernel = Kernel::default();
        assert_eq!(kernel.alloc(u64::MAX, PLENTY), Err(OverBudget));
        assert_eq!(kernel.alloc(2048, 1024), Err(OverBudget));
        assert!(kernel.alloc(512, 1024).is_ok());
    }

    #[test]
    fn the_input_reads_zero_past_its_end_and_empties_when_freed() {
        let mut kernel = Kernel::default();
        kernel.set_input(b"hello world", PLENTY).unwrap();
        assert_eq!(kernel.input_length(), 11);
        assert_eq!(
            kernel.input_load_u64(8),
            u64::from_le_bytes(*b"rld\0\0\0\0\0")
        );
        assert_eq!(kernel.input_load_u8(11), 0);
        assert_eq!(kernel.input_load_u64(1 << 40), 0);
        kernel.free(kernel.input_offset());
        assert_eq!(kernel.input_length(), 0);
    }

    #[test]
    fn output_and_error_outside_the_arena_are_ignored() {
        let mut kernel = Kernel::default();
        let a = kernel.store_block(b"{}", PLENTY).unwrap();
        kernel.set_output(a + 4096, 16);
        assert_eq!(kernel.output(), Ok(&b""[..]));
        kernel.set_output(a, 2);
        assert_eq!(kernel.output(), Ok(&b"{}"[..]));
        kernel.set_error(a + 1);
        assert_eq!(kernel.error(), None);
        kernel.set_error(a);
        assert_eq!(kernel.error().as_deref(), Some("{}"));
        kernel.reset();
        assert_eq!(kernel.output(), Ok(&b""[..]), "reset drops the output too");
    }
}

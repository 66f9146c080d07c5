//! The allocator for saved stack bytes.
//!
//! A guest has no global allocator, and the bytes a suspended task loses to another
//! task must go somewhere. This is a small size-class allocator that lives *in* the
//! same [`Memory`]: blocks are powers of two from 16 bytes up, a freed block goes on its
//! class's free list (the link is the block's first word), and fresh blocks are cut
//! from a chunk obtained either from [`Memory::grow`] or from one region handed over at
//! start; when neither has room, a larger free block is split. Memory obtained this way is never given back to the engine (wasm memory does
//! not shrink), but every block is reused once its task no longer needs it.
//!
//! ```text
//!  chunk from grow():  [ block 64 | block 1024 | block 64 | ..... bump ....... ]
//!  free[6] -> block 64 -> block 64 -> 0        (class 6 = 64 bytes)
//! ```

use crate::Memory;

/// The smallest block, as a power of two (16 bytes).
const MIN_CLASS: u32 = 4;
/// Number of size classes (blocks up to 2^31 bytes).
const CLASSES: usize = 32;
/// Growth is asked for in chunks of at least this many bytes (one wasm page).
const CHUNK: u32 = 64 * 1024;
/// End-of-list marker; address 0 is never a block (blocks come after the stack).
const NIL: u32 = 0;

/// Where fresh memory comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeapSource {
    /// Grow memory on demand ([`Memory::grow`]).
    Grow,
    /// Use only this region `[start, end)`; never grow.
    Region {
        /// First byte of the region.
        start: u32,
        /// One past the last byte.
        end: u32,
    },
}

/// A block handed out by the heap: its address and its usable size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    /// First byte.
    pub addr: u32,
    /// Usable size (the size class, at least what was asked for).
    pub size: u32,
}

/// The allocator's state. All of it is plain data; the blocks live in [`Memory`].
#[derive(Debug)]
pub struct Heap {
    source: HeapSource,
    bump: u32,
    bump_end: u32,
    free: [u32; CLASSES],
    /// Bytes obtained from the source so far.
    reserved: u64,
    /// Bytes in blocks currently handed out.
    in_use: u64,
}

impl Heap {
    /// An empty heap over `source`. A region is used from its start; its first word
    /// must not be address 0.
    pub const fn new(source: HeapSource) -> Self {
        let (bump, bump_end) = match source {
            HeapSource::Grow => (0, 0),
            HeapSource::Region { start, end } => (start, end),
        };
        Self {
            source,
            bump,
            bump_end,
            free: [NIL; CLASSES],
            reserved: 0,
            in_use: 0,
        }
    }

    /// Bytes obtained from memory growth or from the region so far.
    pub fn reserved_bytes(&self) -> u64 {
        match self.source {
            HeapSource::Grow => self.reserved,
            HeapSource::Region { start, end } => u64::from(end - start),
        }
    }

    /// Bytes in blocks currently handed out.
    pub const fn in_use_bytes(&self) -> u64 {
        self.in_use
    }

    fn class_of(size: u32) -> Option<u32> {
        let size = size.max(1 << MIN_CLASS);
        let class = 32 - (size - 1).leading_zeros();
        (class < CLASSES as u32).then_some(class)
    }

    /// A block of at least `size` bytes, or `None` when memory is exhausted.
    pub fn alloc<M: Memory>(&mut self, mem: &mut M, size: u32) -> Option<Block> {
        let class = Self::class_of(size)?;
        let block_size = 1u32 << class;
        let head = self.free[class as usize];
        let addr = if head != NIL {
            self.free[class as usize] = mem.read_u32(head);
            head
        } else if self.bump_end - self.bump >= block_size {
            let addr = self.bump;
            self.bump += block_size;
            addr
        } else if let Some(addr) = self.split_larger(mem, class) {
            addr
        } else {
            self.refill(mem, block_size)?;
            let addr = self.bump;
            self.bump += block_size;
            addr
        };
        self.in_use += u64::from(block_size);
        Some(Block {
            addr,
            size: block_size,
        })
    }

    /// Gives `block` back for reuse.
    pub fn free<M: Memory>(&mut self, mem: &mut M, block: Block) {
        let class = Self::class_of(block.size).expect("a block's size is a valid class");
        mem.write_u32(block.addr, self.free[class as usize]);
        self.free[class as usize] = block.addr;
        self.in_use -= u64::from(block.size);
    }

    /// Takes the smallest free block larger than `class` and splits it in halves down
    /// to `class`, shelving the upper halves. Blocks are not merged back; this only
    /// keeps a fixed region usable when sizes shift.
    fn split_larger<M: Memory>(&mut self, mem: &mut M, class: u32) -> Option<u32> {
        let larger = (class + 1..CLASSES as u32).find(|&c| self.free[c as usize] != NIL)?;
        let addr = self.free[larger as usize];
        self.free[larger as usize] = mem.read_u32(addr);
        for c in (class..larger).rev() {
            let upper = addr + (1 << c);
            mem.write_u32(upper, self.free[c as usize]);
            self.free[c as usize] = upper;
        }
        Some(addr)
    }

    /// Makes room for one block of `block_size` bytes at the bump pointer.
    fn refill<M: Memory>(&mut self, mem: &mut M, block_size: u32) -> Option<()> {
        if self.source != HeapSource::Grow {
            return None;
        }
        // Keep the rest of the old chunk: cut it into blocks on the free lists.
        self.shelve_remainder(mem);
        // Room for alignment and for never handing out address 0 (the list end).
        let want = block_size.max(CHUNK).checked_add(16)?;
        let (base, len) = mem.grow(want)?;
        self.bump = (base.checked_add(15)? & !15).max(16);
        self.bump_end = base.checked_add(len)?;
        self.reserved += u64::from(len);
        (self.bump_end - self.bump >= block_size).then_some(())
    }

    fn shelve_remainder<M: Memory>(&mut self, mem: &mut M) {
        let mut class = CLASSES as u32 - 1;
        while self.bump_end - self.bump >= 1 << MIN_CLASS {
            while (1u32 << class) > self.bump_end - self.bump {
                class -= 1;
            }
            mem.write_u32(self.bump, self.free[class as usize]);
            self.free[class as usize] = self.bump;
            self.bump += 1 << class;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::VecMemory;

    #[test]
    fn blocks_are_reused_after_free() {
        let mut mem = VecMemory::new(1024, 1 << 20);
        let mut heap = Heap::new(HeapSource::Grow);
        let a = heap.alloc(&mut mem, 100).unwrap();
        assert_eq!(a.size, 128);
        assert!(a.addr >= 1024);
        heap.free(&mut mem, a);
        let b = heap.alloc(&mut mem, 120).unwrap();
        assert_eq!(a, b);
        assert_eq!(heap.in_use_bytes(), 128);
    }

    #[test]
    fn distinct_blocks_do_not_overlap() {
        let mut mem = VecMemory::new(16, 1 << 22);
        let mut heap = Heap::new(HeapSource::Grow);
        let mut blocks = alloc::vec::Vec::new();
        for size in [16, 17, 300, 70_000, 5, 64 * 1024, 1] {
            blocks.push(heap.alloc(&mut mem, size).unwrap());
        }
        for (i, a) in blocks.iter().enumerate() {
            for b in &blocks[i + 1..] {
                assert!(
                    a.addr + a.size <= b.addr || b.addr + b.size <= a.addr,
                    "{a:?} {b:?}"
                );
            }
        }
    }

    #[test]
    fn exhaustion_is_reported_not_hidden() {
        let mut mem = VecMemory::new(0, 100_000);
        let mut heap = Heap::new(HeapSource::Grow);
        assert!(heap.alloc(&mut mem, 1000).is_some());
        assert_eq!(heap.alloc(&mut mem, 1 << 20), None);
        let mut region_mem = VecMemory::new(4096, 4096);
        let mut region = Heap::new(HeapSource::Region {
            start: 1024,
            end: 2048,
        });
        assert!(region.alloc(&mut region_mem, 1024).is_some());
        assert_eq!(region.alloc(&mut region_mem, 16), None);
    }
}

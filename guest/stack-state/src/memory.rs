//! The abstract linear memory the stack state works on.
//!
//! In a guest this is the module's own linear memory (see `guest/jspi`); in tests and
//! benchmarks it is a plain byte vector ([`VecMemory`]). Keeping the algorithm behind
//! this trait is what lets it be unit-, property-, fuzz- and Miri-tested natively.

/// A 32-bit linear memory: copies, word access and growth.
///
/// Addresses are byte offsets. Implementations may assume every range they are handed
/// lies inside memory: the stack state only touches the shadow-stack region it was
/// configured with and blocks it obtained from [`Memory::grow`].
pub trait Memory {
    /// Copies `len` bytes from `src` to `dst`. The two ranges never overlap.
    fn copy(&mut self, src: u32, dst: u32, len: u32);
    /// Reads the little-endian word at `addr`.
    fn read_u32(&self, addr: u32) -> u32;
    /// Writes the little-endian word `value` at `addr`.
    fn write_u32(&mut self, addr: u32, value: u32);
    /// Adds at least `bytes` bytes of fresh memory and returns the address of the first
    /// new byte and how many bytes were added, or `None` when memory cannot grow (wasm's
    /// `memory.grow` failing).
    fn grow(&mut self, bytes: u32) -> Option<(u32, u32)>;
}

/// A memory backed by a byte vector, for native tests and benchmarks.
#[cfg(any(test, feature = "sim"))]
pub struct VecMemory {
    /// The bytes; index = address.
    pub bytes: alloc::vec::Vec<u8>,
    /// Growth beyond this many bytes fails, to test memory exhaustion.
    pub limit: usize,
}

#[cfg(any(test, feature = "sim"))]
impl VecMemory {
    /// A memory of `size` zero bytes that may grow up to `limit` bytes.
    pub fn new(size: usize, limit: usize) -> Self {
        Self {
            bytes: alloc::vec![0; size],
            limit,
        }
    }
}

#[cfg(any(test, feature = "sim"))]
impl Memory for VecMemory {
    fn copy(&mut self, src: u32, dst: u32, len: u32) {
        let (src, dst, len) = (src as usize, dst as usize, len as usize);
        assert!(src + len <= dst || dst + len <= src, "overlapping copy");
        self.bytes.copy_within(src..src + len, dst);
    }

    fn read_u32(&self, addr: u32) -> u32 {
        let a = addr as usize;
        u32::from_le_bytes(self.bytes[a..a + 4].try_into().expect("4 bytes"))
    }

    fn write_u32(&mut self, addr: u32, value: u32) {
        let a = addr as usize;
        self.bytes[a..a + 4].copy_from_slice(&value.to_le_bytes());
    }

    fn grow(&mut self, bytes: u32) -> Option<(u32, u32)> {
        let base = self.bytes.len();
        let new_len = base.checked_add(bytes as usize)?;
        if new_len > self.limit || new_len > u32::MAX as usize {
            return None;
        }
        self.bytes.resize(new_len, 0);
        Some((base as u32, bytes))
    }
}

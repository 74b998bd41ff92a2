// SPDX-License-Identifier: GPL-2.0
//! Resident values: a pool of NIC memory (an arena, see
//! `libnicmem::arena`) that holds whole replies (`VALUE ...\r\n`, the value,
//! `\r\n`, and `END\r\n` for the GET of one key) written once at `set`, so
//! that a GET sends them by reference with `MSG_NICMEM`, no copy at all, in
//! one piece.
//!
//! A slot is written only while no reply refers to it: an item owns its
//! slot until the last [`Arc`] of it goes, and connections keep the items of
//! their replies until the peer acknowledged them (see `Output` in lib.rs),
//! since the NIC may read them again for a retransmit until then.

use libnicmem::arena::Arena;
use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Mutex};

/// Allocation granule: slots start on 64-byte boundaries.
const ALIGN: usize = 64;

/// Where the pool's bytes are.
enum Backing {
    /// NIC memory of a device, unmapped when dropped.
    Arena(#[allow(dead_code)] Arena),
    /// Host memory standing in for it (tests on hosts without NIC memory):
    /// a leaked boxed slice at `base`, freed by the pool's `drop`.
    Heap,
}

/// The NIC memory that resident values live in.
///
/// # Invariants
///
/// `base` points at `len` bytes owned by `backing` for the pool's life;
/// the ranges in `free` and the live [`Slot`]s never overlap.
pub struct Pool {
    base: *mut u8,
    len: usize,
    free: Mutex<BTreeMap<usize, usize>>,
    _backing: Backing,
}

// SAFETY: the pool's memory is reached only through raw pointers; writers
// of a range own its slot exclusively (see `Slot`), the free map is locked.
unsafe impl Send for Pool {}
// SAFETY: as for `Send`.
unsafe impl Sync for Pool {}

impl Pool {
    /// A pool of `bytes` of NIC memory of the device `ifname` (rounded up to
    /// whole chunks).
    pub fn on_device(ifname: &str, bytes: usize) -> io::Result<Arc<Self>> {
        let name = std::ffi::CString::new(ifname).map_err(io::Error::other)?;
        // SAFETY: a NUL-terminated name.
        let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
        if ifindex == 0 {
            return Err(io::Error::other(format!("no network device {ifname}")));
        }
        let chunk = Arena::chunk_size(ifindex)? as usize;
        let size = bytes.div_ceil(chunk).max(1) * chunk;
        let arena = Arena::new(ifindex, size)?;
        let base = arena.addr(0).cast_mut();
        Ok(Self::make(base, size, Backing::Arena(arena)))
    }

    /// A pool of host memory, for tests.
    pub fn on_heap(bytes: usize) -> Arc<Self> {
        let mem = vec![0u8; bytes.max(2 * ALIGN)].into_boxed_slice();
        let len = mem.len();
        let base = Box::into_raw(mem).cast::<u8>();
        Self::make(base, len, Backing::Heap)
    }

    fn make(base: *mut u8, len: usize, backing: Backing) -> Arc<Self> {
        let mut free = BTreeMap::new();
        free.insert(0, len);
        Arc::new(Pool {
            base,
            len,
            free: Mutex::new(free),
            _backing: backing,
        })
    }

    /// Bytes in the pool.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the pool is empty (never).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// # Safety
    ///
    /// `off..off + data.len()` is in bounds and written by no one else, and
    /// read by no live reference.
    unsafe fn write(&self, off: usize, data: &[u8]) {
        debug_assert!(off + data.len() <= self.len);
        // SAFETY: the caller's contract.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), self.base.add(off), data.len()) };
        if let Backing::Arena(_) = self._backing {
            // The stores go through a write-combining mapping: drain them
            // before another thread may send the slot.
            std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
        }
    }

    /// A slot holding `parts` one after another, or `None` when the pool
    /// has no room for them.
    pub fn store(self: &Arc<Self>, parts: &[&[u8]]) -> Option<Slot> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let need = len.div_ceil(ALIGN).max(1) * ALIGN;
        let off = {
            let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
            let (&off, &flen) = free.iter().find(|(_, &l)| l >= need)?;
            free.remove(&off);
            if flen > need {
                free.insert(off + need, flen - need);
            }
            off
        };
        let mut at = off;
        for p in parts {
            // SAFETY: `off..off + need` was just taken from the free map, so
            // nobody else writes or reads it.
            unsafe { self.write(at, p) };
            at += p.len();
        }
        Some(Slot {
            pool: self.clone(),
            off,
            len,
            size: need,
        })
    }

    fn release(&self, off: usize, size: usize) {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        let (mut off, mut size) = (off, size);
        if let Some((&poff, &plen)) = free.range(..off).next_back() {
            if poff + plen == off {
                free.remove(&poff);
                off = poff;
                size += plen;
            }
        }
        if let Some(&nlen) = free.get(&(off + size)) {
            free.remove(&(off + size));
            size += nlen;
        }
        free.insert(off, size);
    }

    /// Free bytes (for `stats`).
    pub fn free_bytes(&self) -> usize {
        self.free
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .sum()
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        if let Backing::Heap = self._backing {
            // SAFETY: `base` and `len` came from `Box::into_raw` of a boxed
            // slice in `on_heap`, freed only here; no slot outlives the pool.
            drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(self.base, self.len)) });
        }
    }
}

/// A range of the pool that holds one reply, immutable while it lives and
/// given back when it is dropped.
///
/// # Invariants
///
/// `off..off + size` was taken from `pool`'s free map by `Pool::store`, is
/// written only there, and `len <= size`.
pub struct Slot {
    pool: Arc<Pool>,
    off: usize,
    len: usize,
    size: usize,
}

impl Slot {
    /// The slot's bytes.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: in bounds and not written while the slot lives (by the
        // invariant).
        unsafe { std::slice::from_raw_parts(self.pool.base.add(self.off), self.len) }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.pool.release(self.off, self.size);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_do_not_overlap_and_coalesce_when_freed() {
        let pool = Pool::on_heap(64 * 1024);
        let total = pool.free_bytes();
        let a = pool.store(&[b"VALUE a 0 3\r\n", b"abc\r\n"]).unwrap();
        let b = pool.store(&[&[7u8; 1000]]).unwrap();
        assert_eq!(a.bytes(), b"VALUE a 0 3\r\nabc\r\n");
        assert_eq!(b.bytes(), &[7u8; 1000][..]);
        assert!(a.off + a.size <= b.off || b.off + b.size <= a.off);
        drop(a);
        drop(b);
        assert_eq!(pool.free_bytes(), total, "freed slots coalesce back");
        assert!(
            pool.store(&[&vec![1u8; total]]).is_some(),
            "one slot of all"
        );
    }

    #[test]
    fn a_full_pool_says_so() {
        let pool = Pool::on_heap(4096);
        let big = vec![0u8; 8192];
        assert!(pool.store(&[&big]).is_none());
    }
}

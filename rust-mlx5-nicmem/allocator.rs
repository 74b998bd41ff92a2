// SPDX-License-Identifier: GPL-2.0

//! The NIC memory allocator: backend-independent, safe Rust.
//!
//! Device memory is cut into chunks of one size (the core's net_iov
//! granularity), so there is no external fragmentation to manage: any free
//! chunk serves any request. Free chunks sit on a LIFO stack, so a busy
//! stream keeps reusing the same few chunks. Each user (the owner the core
//! passes) may hold at most `quota` chunks, so that one user cannot take
//! all of a small memory, whatever the number of its sockets (MEMIC has only hundreds of KiB); past its quota, or
//! when the memory is exhausted, allocation fails and TCP falls back to
//! host memory for the rest of the send.
//!
//! All storage is reserved up front, so `alloc` and `free` never allocate:
//! they run with interrupts disabled.

use kernel::prelude::*;

/// Statistics of an allocator.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Stats {
    /// Chunks handed out.
    pub(crate) allocs: u64,
    /// Chunks given back.
    pub(crate) frees: u64,
    /// Allocations refused because every chunk was in use.
    pub(crate) fail_nomem: u64,
    /// Allocations refused because the owner was at its quota.
    pub(crate) fail_quota: u64,
    /// Frees of a chunk that was not allocated (ignored).
    pub(crate) bad_frees: u64,
    /// Most chunks in use at once.
    pub(crate) peak: u32,
}

/// No owner: the chunk is free.
const FREE: u64 = 0;

/// A chunk allocator with per-owner quotas.
///
/// # Invariants
///
/// - `free` holds each index of a chunk whose `owner` is `FREE` exactly once.
/// - For every owner `o` other than `FREE`, `usage` has one entry `(o, n)`
///   with `n > 0` equal to the number of chunks whose `owner` is `o`, and no
///   entry for owners without chunks.
/// - `free`, `usage` have capacity for `owner.len()` entries.
pub(crate) struct ChunkAllocator {
    owner: KVec<u64>,
    free: KVec<u32>,
    usage: KVec<(u64, u32)>,
    quota: u32,
    stats: Stats,
}

impl ChunkAllocator {
    /// An allocator of `chunks` chunks, each owner limited to `quota`
    /// chunks (at least one).
    pub(crate) fn new(chunks: u32, quota: u32) -> Result<Self> {
        if chunks == 0 {
            return Err(EINVAL);
        }
        let n = chunks as usize;
        let owner = KVec::from_elem(FREE, n, GFP_KERNEL)?;
        let mut free = KVec::with_capacity(n, GFP_KERNEL)?;
        // Highest index at the bottom, so that chunk 0 is handed out first.
        for i in (0..chunks).rev() {
            free.push_within_capacity(i).map_err(|_| ENOMEM)?;
        }
        let usage = KVec::with_capacity(n, GFP_KERNEL)?;
        // INVARIANT: every chunk is free and on the stack; no owner has any.
        Ok(Self {
            owner,
            free,
            usage,
            quota: quota.clamp(1, chunks),
            stats: Stats::default(),
        })
    }

    /// Number of chunks.
    pub(crate) fn chunks(&self) -> u32 {
        self.owner.len() as u32
    }

    /// Chunks currently allocated.
    pub(crate) fn in_use(&self) -> u32 {
        self.chunks() - self.free.len() as u32
    }

    /// The per-owner quota in chunks.
    pub(crate) fn quota(&self) -> u32 {
        self.quota
    }

    /// The statistics so far.
    pub(crate) fn stats(&self) -> Stats {
        self.stats
    }

    /// Chunks held by `owner`.
    pub(crate) fn held_by(&self, owner: u64) -> u32 {
        self.usage
            .iter()
            .find(|(o, _)| *o == owner)
            .map_or(0, |(_, n)| *n)
    }

    /// Allocates a chunk for `owner` (never 0). Fails with `ENOSPC` when
    /// none is free (whoever holds them), `EDQUOT` when `owner` holds
    /// `quota` chunks, `EINVAL` for owner 0.
    pub(crate) fn alloc(&mut self, owner: u64) -> Result<u32> {
        if owner == FREE {
            return Err(EINVAL);
        }
        if self.free.is_empty() {
            self.stats.fail_nomem += 1;
            return Err(ENOSPC);
        }
        let slot = self.usage.iter().position(|(o, _)| *o == owner);
        if let Some(s) = slot {
            if self.usage[s].1 >= self.quota {
                self.stats.fail_quota += 1;
                return Err(EDQUOT);
            }
        }
        let Some(idx) = self.free.pop() else {
            self.stats.fail_nomem += 1;
            return Err(ENOSPC);
        };
        match slot {
            Some(s) => self.usage[s].1 += 1,
            // Cannot fail: there are fewer owners than chunks in use.
            None => {
                if self.usage.push_within_capacity((owner, 1)).is_err() {
                    // Unreachable by the invariants; undo and refuse.
                    self.free.push_within_capacity(idx).ok();
                    return Err(ENOSPC);
                }
            }
        }
        self.owner[idx as usize] = owner;
        self.stats.allocs += 1;
        self.stats.peak = self.stats.peak.max(self.in_use());
        Ok(idx)
    }

    /// Gives back chunk `idx`. A chunk that is not allocated is counted in
    /// `bad_frees` and otherwise ignored; returns whether `idx` was
    /// allocated.
    pub(crate) fn free(&mut self, idx: u32) -> bool {
        let Some(&owner) = self.owner.get(idx as usize) else {
            self.stats.bad_frees += 1;
            return false;
        };
        if owner == FREE {
            self.stats.bad_frees += 1;
            return false;
        }
        if let Some(s) = self.usage.iter().position(|(o, _)| *o == owner) {
            self.usage[s].1 -= 1;
            if self.usage[s].1 == 0 {
                let last = self.usage.len() - 1;
                self.usage.as_mut_slice().swap(s, last);
                self.usage.pop();
            }
        }
        self.owner[idx as usize] = FREE;
        // Cannot fail: the stack has room for every chunk.
        self.free.push_within_capacity(idx).ok();
        self.stats.frees += 1;
        true
    }
}

#[kunit_tests(nicmem_allocator)]
mod tests {
    use super::*;

    #[test]
    fn hands_out_every_chunk_once() -> Result {
        let mut a = ChunkAllocator::new(8, 8)?;
        let mut seen = [false; 8];
        for _ in 0..8 {
            let i = a.alloc(1)? as usize;
            assert!(!seen[i]);
            seen[i] = true;
        }
        assert_eq!(a.in_use(), 8);
        assert_eq!(a.alloc(2), Err(ENOSPC));
        assert_eq!(a.stats().fail_nomem, 1);
        Ok(())
    }

    #[test]
    fn quota_limits_one_owner_not_others() -> Result {
        let mut a = ChunkAllocator::new(8, 3)?;
        for _ in 0..3 {
            a.alloc(7)?;
        }
        assert_eq!(a.alloc(7), Err(EDQUOT));
        assert_eq!(a.held_by(7), 3);
        assert!(a.alloc(9).is_ok());
        assert_eq!(a.stats().fail_quota, 1);
        Ok(())
    }

    #[test]
    fn exhaustion_is_nomem_even_for_an_owner_at_its_quota() -> Result {
        let mut a = ChunkAllocator::new(4, 4)?;
        for _ in 0..4 {
            a.alloc(3)?;
        }
        assert_eq!(a.alloc(3), Err(ENOSPC));
        assert_eq!(a.stats().fail_nomem, 1);
        assert_eq!(a.stats().fail_quota, 0);
        Ok(())
    }

    #[test]
    fn free_returns_chunk_and_quota() -> Result {
        let mut a = ChunkAllocator::new(4, 2)?;
        let x = a.alloc(5)?;
        let _y = a.alloc(5)?;
        assert_eq!(a.alloc(5), Err(EDQUOT));
        a.free(x);
        assert_eq!(a.held_by(5), 1);
        // LIFO: the chunk just freed comes back first.
        assert_eq!(a.alloc(5)?, x);
        Ok(())
    }

    #[test]
    fn owners_leave_no_trace() -> Result {
        let mut a = ChunkAllocator::new(4, 4)?;
        let v = [a.alloc(1)?, a.alloc(2)?, a.alloc(3)?];
        for i in v {
            a.free(i);
        }
        assert_eq!(a.in_use(), 0);
        assert_eq!(a.held_by(1) + a.held_by(2) + a.held_by(3), 0);
        assert_eq!(a.stats().allocs, 3);
        assert_eq!(a.stats().frees, 3);
        assert_eq!(a.stats().peak, 3);
        Ok(())
    }

    #[test]
    fn bad_frees_are_counted_and_harmless() -> Result {
        let mut a = ChunkAllocator::new(2, 2)?;
        a.free(0);
        a.free(99);
        let i = a.alloc(1)?;
        a.free(i);
        a.free(i);
        assert_eq!(a.stats().bad_frees, 3);
        assert_eq!(a.in_use(), 0);
        // Still hands out both chunks, each once.
        let (p, q) = (a.alloc(1)?, a.alloc(1)?);
        assert_ne!(p, q);
        Ok(())
    }

    #[test]
    fn rejects_empty_memory_and_owner_zero() -> Result {
        assert!(ChunkAllocator::new(0, 1).is_err());
        let mut a = ChunkAllocator::new(1, 0)?;
        assert_eq!(a.quota(), 1);
        assert_eq!(a.alloc(0), Err(EINVAL));
        Ok(())
    }
}

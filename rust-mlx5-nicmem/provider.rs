// SPDX-License-Identifier: GPL-2.0

//! The provider that the kernel calls: a [`ChunkAllocator`] under a
//! spinlock, shared by every backend.

use crate::allocator::ChunkAllocator;
use core::fmt;
use kernel::{
    net::nicmem,
    new_spinlock_irq,
    prelude::*,
    sync::SpinLockIrq, //
};

/// The chunks of one provider.
///
/// The core calls `alloc` and `free` with interrupts disabled, from
/// softirq too (a chunk comes back when TCP's ACK frees its skb); the
/// lock disables interrupts, so that the statistics can be read from
/// process context without a same-CPU deadlock.
#[pin_data]
pub(crate) struct ChunkProvider {
    #[pin]
    state: SpinLockIrq<ChunkAllocator>,
    /// The per-user quota in chunks; fixed at creation.
    quota: u32,
}

impl ChunkProvider {
    /// A provider of `chunks` chunks with a quota of `quota_pct` percent of
    /// them per user.
    pub(crate) fn new(chunks: u32, quota_pct: u32) -> Result<impl PinInit<Self, Error>> {
        let quota = (u64::from(chunks) * u64::from(quota_pct.clamp(1, 100)) / 100) as u32;
        let allocator = ChunkAllocator::new(chunks, quota)?;
        let quota = allocator.quota();
        Ok(try_pin_init!(Self {
            state <- new_spinlock_irq!(allocator, "nicmem_allocator"),
            quota,
        }))
    }

    /// The quota in chunks per user.
    pub(crate) fn quota(&self) -> u32 {
        self.quota
    }

    /// Logs the statistics of the provider of `what`, which unregisters.
    pub(crate) fn report(&self, what: fmt::Arguments<'_>) {
        let (in_use, stats) = {
            let a = self.state.lock();
            (a.in_use(), a.stats())
        };
        pr_info!(
            "unregistering {}: {} chunks allocated, {} freed, peak {}, {} refused (no memory), {} refused (quota), {} in use\n",
            what,
            stats.allocs,
            stats.frees,
            stats.peak,
            stats.fail_nomem,
            stats.fail_quota,
            in_use
        );
    }
}

#[vtable]
impl nicmem::Provider for ChunkProvider {
    fn alloc(&self, owner: u64) -> Result<u32> {
        self.state.lock().alloc(owner)
    }

    fn free(&self, idx: u32) {
        let freed = self.state.lock().free(idx);
        // The core gives back each chunk it took, once: anything else is
        // a bug in the core.
        kernel::warn_on!(!freed);
    }
}

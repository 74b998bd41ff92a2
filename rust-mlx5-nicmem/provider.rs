// SPDX-License-Identifier: GPL-2.0

//! The allocator behind a registered provider: a [`ChunkAllocator`] under a
//! spinlock, shared by every backend.

use crate::allocator::ChunkAllocator;
use core::fmt;
use kernel::{net::nicmem, new_spinlock, prelude::*, sync::SpinLock};

/// The allocator of one provider.
///
/// The core already serializes calls with interrupts disabled; the lock
/// gives the shared `&self` the exclusive access the allocator needs.
#[pin_data]
pub(crate) struct Provider {
    #[pin]
    state: SpinLock<ChunkAllocator>,
}

impl Provider {
    /// A provider of `chunks` chunks with a quota of `quota_pct` percent of
    /// them per socket.
    pub(crate) fn new(chunks: u32, quota_pct: u32) -> Result<impl PinInit<Self, Error>> {
        let quota = (u64::from(chunks) * u64::from(quota_pct.clamp(1, 100)) / 100) as u32;
        let allocator = ChunkAllocator::new(chunks, quota)?;
        Ok(try_pin_init!(Self {
            state <- new_spinlock!(allocator, "nicmem_allocator"),
        }))
    }

    /// The quota in chunks per socket.
    pub(crate) fn quota(&self) -> u32 {
        self.state.lock().quota()
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

impl nicmem::Allocator for Provider {
    fn alloc(&self, owner: u64) -> Result<u32> {
        self.state.lock().alloc(owner)
    }

    fn free(&self, idx: u32) {
        self.state.lock().free(idx);
    }
}

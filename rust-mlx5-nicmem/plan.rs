// SPDX-License-Identifier: GPL-2.0

//! How much device memory to take, in chunks of what size: a pure function
//! of what the device offers, tested without a device.
//!
//! A NIC driver offers its memory ([`nicmem::Offer`]) with a largest size
//! and a granularity. The provider takes as much as it may (or as the
//! `memic_kib` parameter says), in whole pages: other users of the device
//! memory (mlx5_ib's `ibv_alloc_dm()`) map it page by page, so a page
//! shared with them would let them write our chunks. Chunks shrink from
//! `chunk_size` until the region holds [`MIN_CHUNKS`] of them, so that a
//! few sockets can share a small memory (MEMIC is a few hundred KiB). When
//! the device has less free memory than planned (fragmented, or partly
//! taken by another user), [`attach`] tries halves down to
//! [`MIN_REGION_CHUNKS`] chunks.

use kernel::{
    net::nicmem::{self, MemInfo},
    page::PAGE_SIZE,
    prelude::*, //
};

/// A region is cut into at least this many chunks when the chunk size
/// allows.
pub(crate) const MIN_CHUNKS: u64 = 16;

/// Smaller regions than this many chunks are not worth registering.
pub(crate) const MIN_REGION_CHUNKS: u64 = 4;

/// What to ask the device for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Bytes, a multiple of `unit`.
    pub(crate) size: u64,
    /// The region's chunk size.
    pub(crate) chunk_size: u32,
    /// Sizes are multiples of this: the device's granularity, a page and
    /// the chunk size.
    pub(crate) unit: u64,
}

impl Plan {
    /// Plans at most `want` bytes (0: as much as the device gives) in
    /// chunks of at most `chunk_size` bytes, on a system with pages of
    /// `page_size` bytes.
    ///
    /// Fails with `EINVAL` for a chunk size that is not a power of two in
    /// the core's range or a device granularity that is not a power of
    /// two, `ENOSPC` when the device offers too little.
    pub(crate) fn with_page_size(
        info: &MemInfo,
        want: u64,
        chunk_size: u32,
        page_size: u64,
    ) -> Result<Self> {
        if !nicmem::chunk_size_ok(chunk_size)
            || !info.granularity.is_power_of_two()
            || !page_size.is_power_of_two()
        {
            return Err(EINVAL);
        }
        let mut limit = info.max_size;
        if want != 0 {
            limit = limit.min(want);
        }
        let mut chunk = u64::from(chunk_size);
        while chunk > u64::from(nicmem::CHUNK_MIN) && limit / chunk < MIN_CHUNKS {
            chunk /= 2;
        }
        // Powers of two: the largest is a multiple of the others.
        let unit = chunk.max(info.granularity).max(page_size);
        let size = limit / unit * unit;
        if size < chunk * MIN_REGION_CHUNKS {
            return Err(ENOSPC);
        }
        Ok(Self {
            size,
            chunk_size: u32::try_from(chunk).map_err(|_| EINVAL)?,
            unit,
        })
    }

    /// [`Self::with_page_size`] for this system's pages.
    pub(crate) fn new(info: &MemInfo, want: u64, chunk_size: u32) -> Result<Self> {
        Self::with_page_size(info, want, chunk_size, PAGE_SIZE as u64)
    }

    /// The sizes to try, largest first.
    pub(crate) fn sizes(&self) -> impl Iterator<Item = u64> {
        let unit = self.unit;
        let min = u64::from(self.chunk_size) * MIN_REGION_CHUNKS;
        core::iter::successors(Some(self.size), move |s| {
            let next = s / 2 / unit * unit;
            (next >= min && next < *s).then_some(next)
        })
    }

    /// Chunks in a region of `size` bytes.
    pub(crate) fn chunks(&self, size: u64) -> Result<u32> {
        u32::try_from(size / u64::from(self.chunk_size)).map_err(|_| EINVAL)
    }
}

/// Where device memory comes from: an [`nicmem::Offer`], or a fake in the
/// tests.
pub(crate) trait Source {
    /// The memory, taken and registered.
    type Registered;

    /// What the device offers now.
    fn query(&self) -> Result<MemInfo>;

    /// Takes `size` bytes and registers them in chunks of `plan.chunk_size`.
    /// Fails with `ENOSPC` when the device has no free memory of that size.
    fn take(&self, plan: &Plan, size: u64) -> Result<Self::Registered>;
}

/// Takes memory from `source` as planned for `want` and `chunk_size`: the
/// largest size the device has free, halving on `ENOSPC`.
pub(crate) fn attach<S: Source>(
    source: &S,
    want: u64,
    chunk_size: u32,
) -> Result<(S::Registered, Plan, u64)> {
    let plan = Plan::new(&source.query()?, want, chunk_size)?;
    for size in plan.sizes() {
        match source.take(&plan, size) {
            Ok(r) => return Ok((r, plan, size)),
            Err(e) if e == ENOSPC => continue,
            Err(e) => return Err(e),
        }
    }
    Err(ENOSPC)
}

#[kunit_tests(nicmem_plan)]
mod tests {
    use super::*;
    use core::cell::{Cell, RefCell};

    const PAGE_4K: u64 = 4096;

    /// A ConnectX-6 Dx-like offer: 256 KiB of MEMIC, allocations in pages.
    fn cx6() -> MemInfo {
        MemInfo {
            max_size: 256 << 10,
            granularity: PAGE_4K,
        }
    }

    fn check(ok: bool) -> Result {
        if ok {
            Ok(())
        } else {
            Err(EINVAL)
        }
    }

    #[test]
    fn chunks_shrink_to_fit_small_memory() -> Result {
        // 64 KiB chunks would make 4 of 256 KiB: shrink to 16 KiB.
        let plan = Plan::with_page_size(&cx6(), 0, 65536, PAGE_4K)?;
        check(plan.size == 256 << 10 && plan.chunk_size == 16384)?;
        // A cap on the size, rounded down to whole chunks and pages.
        let plan = Plan::with_page_size(&cx6(), 100_000, 4096, PAGE_4K)?;
        check(plan.size == 24 * 4096 && plan.chunk_size == 4096)?;
        // Bad chunk sizes, a bad granularity, too little memory.
        check(Plan::with_page_size(&cx6(), 0, 3000, PAGE_4K) == Err(EINVAL))?;
        check(Plan::with_page_size(&cx6(), 0, 128, PAGE_4K) == Err(EINVAL))?;
        let odd = MemInfo {
            granularity: 3,
            ..cx6()
        };
        check(Plan::with_page_size(&odd, 0, 4096, PAGE_4K) == Err(EINVAL))?;
        check(Plan::with_page_size(&cx6(), 512, 256, PAGE_4K) == Err(ENOSPC))
    }

    #[test]
    fn sizes_are_whole_pages_of_the_system() -> Result {
        // 64-byte device granularity, 5 KiB asked: on 4 KiB pages one page
        // (in 256-byte chunks); on 64 KiB pages too little for a page.
        let fine = MemInfo {
            max_size: 256 << 10,
            granularity: 64,
        };
        let plan = Plan::with_page_size(&fine, 5 << 10, 4096, PAGE_4K)?;
        check(plan.size == 4096 && plan.size % PAGE_4K == 0 && plan.chunk_size == 256)?;
        check(Plan::with_page_size(&fine, 5 << 10, 4096, 65536) == Err(ENOSPC))?;
        // 200 KiB on 64 KiB pages: 192 KiB, every size tried a multiple.
        let plan = Plan::with_page_size(&fine, 200 << 10, 4096, 65536)?;
        check(plan.size == 192 << 10)?;
        for s in plan.sizes() {
            check(s % 65536 == 0)?;
        }
        // A coarse device granularity rounds down to it.
        let coarse = MemInfo {
            max_size: 200 << 10,
            granularity: 1 << 16,
        };
        check(Plan::with_page_size(&coarse, 0, 4096, PAGE_4K)?.size == 192 << 10)
    }

    #[test]
    fn sizes_halve_down_to_a_few_chunks() -> Result {
        let plan = Plan::with_page_size(&cx6(), 0, 4096, PAGE_4K)?;
        let mut sizes = KVec::new();
        for s in plan.sizes() {
            sizes.push(s >> 10, GFP_KERNEL)?;
        }
        check(sizes[..] == [256, 128, 64, 32, 16])
    }

    /// A device with `free` bytes of memory free and `busy` when it gave
    /// memory already.
    struct Fake {
        info: MemInfo,
        free: u64,
        busy: bool,
        tries: RefCell<KVec<u64>>,
        taken: Cell<u64>,
    }

    impl Fake {
        fn new(free: u64) -> Self {
            Self {
                info: cx6(),
                free,
                busy: false,
                tries: RefCell::new(KVec::new()),
                taken: Cell::new(0),
            }
        }
    }

    impl Source for Fake {
        type Registered = u32;

        fn query(&self) -> Result<MemInfo> {
            Ok(self.info)
        }

        fn take(&self, plan: &Plan, size: u64) -> Result<u32> {
            self.tries.borrow_mut().push(size, GFP_KERNEL)?;
            if self.busy {
                return Err(EBUSY);
            }
            if size > self.free {
                return Err(ENOSPC);
            }
            self.taken.set(size);
            plan.chunks(size)
        }
    }

    #[test]
    fn attach_takes_the_largest_free_size() -> Result {
        // 100 KiB free of 256: 256 and 128 refused, 64 KiB taken.
        let fake = Fake::new(100 << 10);
        let (chunks, plan, size) = attach(&fake, 0, 4096)?;
        check(size == 64 << 10 && fake.taken.get() == size)?;
        check(chunks == 16 && plan.chunk_size == 4096)?;
        let tried = fake.tries.borrow()[..] == [256 << 10, 128 << 10, 64 << 10];
        check(tried)
    }

    #[test]
    fn attach_fails_as_the_device_does() -> Result {
        // Nothing free: every size down to 4 chunks tried, then ENOSPC.
        let fake = Fake::new(0);
        check(attach(&fake, 0, 4096).err() == Some(ENOSPC))?;
        check(fake.tries.borrow().len() == 5)?;
        // Memory given already: no retry with smaller sizes.
        let mut fake = Fake::new(1 << 20);
        fake.busy = true;
        check(attach(&fake, 0, 4096).err() == Some(EBUSY))?;
        check(fake.tries.borrow().len() == 1)?;
        // An offer that cannot give anything.
        let mut fake = Fake::new(1 << 20);
        fake.info.max_size = 0;
        check(attach(&fake, 0, 4096).err() == Some(ENOSPC))?;
        let tried = fake.tries.borrow().len();
        check(tried == 0)
    }
}

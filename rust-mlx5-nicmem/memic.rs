// SPDX-License-Identifier: GPL-2.0

//! MEMIC, the device memory of ConnectX NICs: its capabilities, where to ask
//! the firmware for it, the commands that allocate it and the memory key
//! the NIC reads it through. Everything here is a pure function of the
//! device's capabilities, so that it can be tested without a device.
//!
//! The firmware owns MEMIC: `ALLOC_MEMIC` hands out a piece of a range of
//! the MEMIC window of BAR 0, or fails with `-EAGAIN` when the range
//! overlaps a piece it already handed out, to us or to anybody else
//! (mlx5_ib's `ibv_alloc_dm()`). Like `mlx5_cmd_alloc_memic()` in
//! `drivers/infiniband/hw/mlx5/dm.c`, the backend tries one page-aligned
//! range after the other; it therefore only ever uses memory that the
//! firmware gave to it, and the two users coexist.
//!
//! Addresses: `ALLOC_MEMIC` returns the allocation's offset in BAR 0. The
//! CPU writes it at BAR 0's physical address plus that offset (`*addr =
//! dev->bar_addr + memic_start_addr` in `mlx5_cmd_alloc_memic()`); the NIC
//! reads it through an mkey of access mode MEMIC whose start address is
//! that same offset (`start_addr -= pci_resource_start(dev->pdev, 0)` in
//! `mlx5_ib_reg_dm_mr()`, `drivers/infiniband/hw/mlx5/mr.c`).
//! `DEALLOC_MEMIC` takes the offset too (`mlx5_cmd_dealloc_memic()`).

use crate::ifc::{self, dwords, ifc_field};
use kernel::{bindings, net::nicmem, prelude::*};

/// Unit of `log_memic_addr_alignment`: the device aligns to
/// `64 << log_memic_addr_alignment` bytes (`MLX5_MEMIC_BASE_ALIGN` in
/// `drivers/infiniband/hw/mlx5/mlx5_ib.h`).
const BASE_ALIGN_LOG: u32 = 6;

/// Step of the scan for a free range, `PAGE_SIZE` in
/// `mlx5_cmd_alloc_memic()`.
pub(crate) const SCAN_STEP: u64 = 4096;

/// A region is cut into at least this many chunks when the chunk size
/// allows, so that a few sockets can share MEMIC (a few hundred KiB).
const MIN_CHUNKS: u64 = 16;

/// Smaller regions than this many chunks are not worth registering.
const MIN_REGION_CHUNKS: u64 = 4;

/// The device-memory capabilities of an mlx5 device
/// (`struct mlx5_ifc_device_mem_cap_bits`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Caps {
    /// The device has MEMIC.
    pub(crate) memic: bool,
    /// Allocations are multiples of `1 << log_min_alloc` bytes.
    pub(crate) log_min_alloc: u32,
    /// Largest `log_memic_addr_alignment` the device accepts.
    pub(crate) log_max_align: u32,
    /// Offset of the MEMIC window in BAR 0.
    pub(crate) bar_start: u64,
    /// Size of the MEMIC window.
    pub(crate) bar_size: u64,
    /// Largest single allocation.
    pub(crate) max_size: u64,
}

impl Caps {
    /// Allocations are multiples of this many bytes.
    pub(crate) fn granularity(&self) -> u64 {
        1u64 << self.log_min_alloc.min(63)
    }

    /// Reads the capabilities from the current device-memory capability
    /// page (`mdev->caps.hca[MLX5_CAP_DEV_MEM]->cur`), as
    /// `MLX5_CAP_DEV_MEM()` does.
    pub(crate) fn parse(page: &[u32]) -> Self {
        let get = |f| ifc::get(page, f);
        Self {
            memic: get(ifc_field!(mlx5_ifc_device_mem_cap_bits, memic)) != 0,
            log_min_alloc: get(ifc_field!(
                mlx5_ifc_device_mem_cap_bits,
                log_min_memic_alloc_size
            )) as u32,
            log_max_align: get(ifc_field!(
                mlx5_ifc_device_mem_cap_bits,
                log_max_memic_addr_alignment
            )) as u32,
            bar_start: get(ifc_field!(
                mlx5_ifc_device_mem_cap_bits,
                memic_bar_start_addr
            )),
            bar_size: get(ifc_field!(mlx5_ifc_device_mem_cap_bits, memic_bar_size)),
            max_size: get(ifc_field!(mlx5_ifc_device_mem_cap_bits, max_memic_size)),
        }
    }
}

/// What to ask the firmware for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Bytes to allocate, a multiple of `chunk_size`.
    pub(crate) size: u64,
    /// The region's chunk size.
    pub(crate) chunk_size: u32,
    /// `log_memic_addr_alignment`: page-aligned if the device allows.
    pub(crate) log_align: u32,
}

impl Plan {
    /// Plans an allocation of at most `want` bytes (0: as much as one
    /// allocation may take) in chunks of at most `chunk_size` bytes, which
    /// shrink until the region has [`MIN_CHUNKS`] of them or reach
    /// [`nicmem::CHUNK_MIN`].
    ///
    /// Fails with `ENODEV` without MEMIC, `EINVAL` for a chunk size that is
    /// not a power of two in the core's range, `ENOSPC` when the device
    /// has too little MEMIC.
    pub(crate) fn new(caps: &Caps, want: u64, chunk_size: u32) -> Result<Self> {
        if !caps.memic {
            return Err(ENODEV);
        }
        if !nicmem::chunk_size_ok(chunk_size) {
            return Err(EINVAL);
        }
        let mut limit = caps.bar_size.min(caps.max_size);
        if want != 0 {
            limit = limit.min(want);
        }
        let mut chunk = u64::from(chunk_size);
        while chunk > u64::from(nicmem::CHUNK_MIN) && limit / chunk < MIN_CHUNKS {
            chunk /= 2;
        }
        // Allocation granularity and chunk size are powers of two: the
        // larger is a multiple of the smaller.
        let unit = chunk.max(caps.granularity());
        let size = limit / unit * unit;
        if size < chunk * MIN_REGION_CHUNKS {
            return Err(ENOSPC);
        }
        // Aligned to the scan step, so that an allocation can start where
        // its range starts: a stricter alignment would make most ranges
        // impossible to satisfy. Chunks are offsets from the region's start
        // and need no alignment of their own.
        let log_align = (SCAN_STEP.trailing_zeros() - BASE_ALIGN_LOG).min(caps.log_max_align);
        Ok(Self {
            size,
            chunk_size: chunk as u32,
            log_align,
        })
    }

    /// The sizes to try, largest first: when MEMIC is fragmented (or partly
    /// taken by mlx5_ib), a smaller region is better than none.
    pub(crate) fn sizes(&self, caps: &Caps) -> impl Iterator<Item = u64> {
        let unit = u64::from(self.chunk_size).max(caps.granularity());
        let min = u64::from(self.chunk_size) * MIN_REGION_CHUNKS;
        core::iter::successors(Some(self.size), move |s| {
            let next = s / 2 / unit * unit;
            (next >= min && next < *s).then_some(next)
        })
    }
}

/// The ranges to try for an allocation of `size` bytes: page-aligned,
/// from the start of the MEMIC window to its end, each `range_size(size)`
/// long (`mlx5_cmd_alloc_memic()`).
pub(crate) fn range_starts(caps: &Caps, size: u64) -> impl Iterator<Item = u64> {
    let span = range_size(size);
    let (start, window) = (caps.bar_start, caps.bar_size);
    (0..)
        .map(|k: u64| k * SCAN_STEP)
        .take_while(move |off| off.checked_add(span).is_some_and(|end| end <= window))
        .map(move |off| start + off)
}

/// The range length for an allocation of `size` bytes: whole pages.
pub(crate) fn range_size(size: u64) -> u64 {
    size.div_ceil(SCAN_STEP) * SCAN_STEP
}

/// Words of an `ALLOC_MEMIC` command.
pub(crate) const ALLOC_IN_DW: usize = dwords::<bindings::mlx5_ifc_alloc_memic_in_bits>();
/// Words of its output.
pub(crate) const ALLOC_OUT_DW: usize = dwords::<bindings::mlx5_ifc_alloc_memic_out_bits>();
/// Words of a `DEALLOC_MEMIC` command.
pub(crate) const DEALLOC_IN_DW: usize = dwords::<bindings::mlx5_ifc_dealloc_memic_in_bits>();
/// Words of its output.
pub(crate) const DEALLOC_OUT_DW: usize = dwords::<bindings::mlx5_ifc_dealloc_memic_out_bits>();
/// Words of a `CREATE_MKEY` command without translation entries.
pub(crate) const CREATE_MKEY_IN_DW: usize = dwords::<bindings::mlx5_ifc_create_mkey_in_bits>();

/// `ALLOC_MEMIC` of `size` bytes in the range at BAR 0 offset
/// `range_start`, as `mlx5_cmd_alloc_memic()` builds it.
pub(crate) fn alloc_memic_in(plan: &Plan, range_start: u64, size: u64) -> [u32; ALLOC_IN_DW] {
    ifc::encode(&[
        (
            ifc_field!(mlx5_ifc_alloc_memic_in_bits, opcode),
            u64::from(bindings::MLX5_CMD_OP_ALLOC_MEMIC),
        ),
        (
            ifc_field!(mlx5_ifc_alloc_memic_in_bits, range_size),
            range_size(size),
        ),
        (ifc_field!(mlx5_ifc_alloc_memic_in_bits, memic_size), size),
        (
            ifc_field!(mlx5_ifc_alloc_memic_in_bits, log_memic_addr_alignment),
            u64::from(plan.log_align),
        ),
        (
            ifc_field!(mlx5_ifc_alloc_memic_in_bits, range_start_addr),
            range_start,
        ),
    ])
}

/// The BAR 0 offset of the memory that `ALLOC_MEMIC` returned.
pub(crate) fn alloc_memic_start(out: &[u32; ALLOC_OUT_DW]) -> u64 {
    ifc::get(
        out,
        ifc_field!(mlx5_ifc_alloc_memic_out_bits, memic_start_addr),
    )
}

/// `DEALLOC_MEMIC` of `size` bytes at BAR 0 offset `start`, as
/// `mlx5_cmd_dealloc_memic()` builds it.
pub(crate) fn dealloc_memic_in(start: u64, size: u64) -> [u32; DEALLOC_IN_DW] {
    ifc::encode(&[
        (
            ifc_field!(mlx5_ifc_dealloc_memic_in_bits, opcode),
            u64::from(bindings::MLX5_CMD_OP_DEALLOC_MEMIC),
        ),
        (
            ifc_field!(mlx5_ifc_dealloc_memic_in_bits, memic_start_addr),
            start,
        ),
        (ifc_field!(mlx5_ifc_dealloc_memic_in_bits, memic_size), size),
    ])
}

/// `CREATE_MKEY` of the key through which the NIC reads `size` bytes of
/// MEMIC at BAR 0 offset `start`, in protection domain `pdn` (the one of
/// mlx5e's send queues, whose data segments use the key). As
/// `mlx5_ib_get_dm_mr()` with `MLX5_MKC_ACCESS_MODE_MEMIC`, local read only:
/// the NIC only transmits from it.
pub(crate) fn create_mkey_in(start: u64, size: u64, pdn: u32) -> [u32; CREATE_MKEY_IN_DW] {
    let mode = u64::from(bindings::MLX5_MKC_ACCESS_MODE_MEMIC);
    ifc::encode(&[
        (
            ifc_field!(mlx5_ifc_create_mkey_in_bits, opcode),
            u64::from(bindings::MLX5_CMD_OP_CREATE_MKEY),
        ),
        (
            ifc_field!(
                mlx5_ifc_create_mkey_in_bits,
                memory_key_mkey_entry.access_mode_1_0
            ),
            mode & 0x3,
        ),
        (
            ifc_field!(
                mlx5_ifc_create_mkey_in_bits,
                memory_key_mkey_entry.access_mode_4_2
            ),
            (mode >> 2) & 0x7,
        ),
        (
            ifc_field!(mlx5_ifc_create_mkey_in_bits, memory_key_mkey_entry.lr),
            1,
        ),
        (
            ifc_field!(mlx5_ifc_create_mkey_in_bits, memory_key_mkey_entry.qpn),
            0xff_ffff,
        ),
        (
            ifc_field!(mlx5_ifc_create_mkey_in_bits, memory_key_mkey_entry.pd),
            u64::from(pdn),
        ),
        (
            ifc_field!(
                mlx5_ifc_create_mkey_in_bits,
                memory_key_mkey_entry.start_addr
            ),
            start,
        ),
        (
            ifc_field!(mlx5_ifc_create_mkey_in_bits, memory_key_mkey_entry.len),
            size,
        ),
    ])
}

/// The NIC memory region of `size` bytes of MEMIC at BAR 0 offset
/// `start`, on a device whose BAR 0 is at CPU physical address `bar_addr`,
/// read by the NIC through `mkey`.
pub(crate) fn region(
    bar_addr: u64,
    start: u64,
    size: u64,
    chunk_size: u32,
    mkey: u32,
) -> Result<nicmem::Region> {
    Ok(nicmem::Region {
        phys: bar_addr.checked_add(start).ok_or(EINVAL)?,
        dma: start,
        size: usize::try_from(size).map_err(|_| EINVAL)?,
        chunk_size,
        dev_key: mkey,
    })
}

#[kunit_tests(nicmem_mlx5_memic)]
mod tests {
    use super::*;
    use crate::ifc::tests::words;

    /// A ConnectX-6 Dx-like device: 256 KiB of MEMIC at BAR 0 offset
    /// 0x0200_0000, 64-byte granularity.
    fn cx6() -> Caps {
        Caps {
            memic: true,
            log_min_alloc: 6,
            log_max_align: 20,
            bar_start: 0x0200_0000,
            bar_size: 256 << 10,
            max_size: 256 << 10,
        }
    }

    #[test]
    fn caps_parse_device_mem_cap_page() {
        // The page as the firmware returns it (big-endian words), laid out
        // by hand from struct mlx5_ifc_device_mem_cap_bits.
        let mut page = [0u32; 16];
        let words: [(usize, u32); 7] = [
            (0, 0x8000_0000),       // memic
            (1, (10 << 16) | 0x12), // log_min_memic_alloc_size, log_max_memic_addr_alignment
            (2, 0x0000_0001),       // memic_bar_start_addr, high
            (3, 0x0200_0000),       // memic_bar_start_addr, low
            (4, 0x0004_0000),       // memic_bar_size
            (5, 0x0002_0000),       // max_memic_size
            (6, 0xffff_ffff),       // steering_sw_icm_start_address: not ours
        ];
        for (i, w) in words {
            page[i] = w.to_be();
        }
        let caps = Caps::parse(&page);
        assert_eq!(
            caps,
            Caps {
                memic: true,
                log_min_alloc: 10,
                log_max_align: 0x12,
                bar_start: 0x1_0200_0000,
                bar_size: 0x4_0000,
                max_size: 0x2_0000,
            }
        );
        assert!(!Caps::parse(&[0u32; 16]).memic);
    }

    #[test]
    fn plan_fits_chunks_to_memic() {
        // 64 KiB chunks would make 4 of 256 KiB: shrink to 16 KiB.
        let plan = Plan::new(&cx6(), 0, 65536).unwrap();
        assert_eq!(
            plan,
            Plan {
                size: 256 << 10,
                chunk_size: 16384,
                log_align: 6
            }
        );
        // A cap on the size, rounded down to whole chunks.
        let plan = Plan::new(&cx6(), 100_000, 4096).unwrap();
        assert_eq!(
            plan,
            Plan {
                size: 24 * 4096,
                chunk_size: 4096,
                log_align: 6
            }
        );
        // Alignment limited by the device.
        let caps = Caps {
            log_max_align: 2,
            ..cx6()
        };
        assert_eq!(Plan::new(&caps, 0, 4096).unwrap().log_align, 2);
        // A coarse allocation granularity rounds the size down to it.
        let caps = Caps {
            log_min_alloc: 16,
            max_size: 200 << 10,
            ..cx6()
        };
        let plan = Plan::new(&caps, 0, 4096).unwrap();
        assert_eq!((plan.size, plan.chunk_size), (192 << 10, 4096));
        // No MEMIC, bad chunk sizes, too little memory.
        assert_eq!(Plan::new(&Caps::default(), 0, 4096), Err(ENODEV));
        assert_eq!(Plan::new(&cx6(), 0, 3000), Err(EINVAL));
        assert_eq!(Plan::new(&cx6(), 0, 128), Err(EINVAL));
        assert_eq!(Plan::new(&cx6(), 512, 256), Err(ENOSPC));
    }

    #[test]
    fn sizes_halve_down_to_a_few_chunks() {
        let plan = Plan::new(&cx6(), 0, 4096).unwrap();
        let mut sizes = KVec::new();
        for s in plan.sizes(&cx6()) {
            sizes.push(s >> 10, GFP_KERNEL).unwrap();
        }
        assert_eq!(&sizes[..], &[256, 128, 64, 32, 16]);
    }

    #[test]
    fn ranges_cover_the_window_page_by_page() {
        let caps = Caps {
            bar_size: 64 << 10,
            ..cx6()
        };
        let mut n = 0u64;
        let mut last = 0;
        for start in range_starts(&caps, 48 << 10) {
            assert_eq!(start, caps.bar_start + n * SCAN_STEP);
            last = start;
            n += 1;
        }
        // 48 KiB fit at the 5 page offsets 0..16 KiB of a 64 KiB window.
        assert_eq!((n, last), (5, caps.bar_start + (16 << 10)));
        // A partial page still takes a whole one.
        assert_eq!(range_size(4097), 8192);
        assert_eq!(range_starts(&caps, 65 << 10).count(), 0);
    }

    #[test]
    fn commands_encode_as_mlx5_ifc() {
        let plan = Plan {
            size: 256 << 10,
            chunk_size: 4096,
            log_align: 6,
        };
        let cmd = alloc_memic_in(&plan, 0x0000_0001_0200_3000, 0x3_0001);
        assert_eq!(
            &words(&cmd)[..],
            &[
                0x0205_0000,
                0,
                0,
                6,
                0x1,
                0x0200_3000,
                0x0003_1000,
                0x0003_0001
            ]
        );

        let mut out = [0u32; ALLOC_OUT_DW];
        out[2] = 0x0000_0001u32.to_be();
        out[3] = 0x0204_0000u32.to_be();
        assert_eq!(alloc_memic_start(&out), 0x1_0204_0000);

        let cmd = dealloc_memic_in(0x0204_0000, 0x4_0000);
        assert_eq!(
            &words(&cmd)[..],
            &[0x0206_0000, 0, 0, 0, 0, 0x0204_0000, 0x0004_0000, 0]
        );

        let cmd = words(&create_mkey_in(0x0204_0000, 0x4_0000, 0x12_3456));
        assert_eq!(CREATE_MKEY_IN_DW, 0x880 / 32);
        assert_eq!(cmd[0], 0x0200_0000);
        // The mkey context starts at word 4: access mode 5 (MEMIC) split in
        // access_mode_4_2 = 1 and access_mode_1_0 = 1, lr; qpn 0xffffff;
        // pd; start address; length.
        assert_eq!(
            &cmd[4..12],
            &[
                0x0400_0500,
                0xffff_ff00,
                0,
                0x0012_3456,
                0,
                0x0204_0000,
                0,
                0x0004_0000
            ]
        );
        assert!(cmd[12..].iter().all(|w| *w == 0));
    }

    #[test]
    fn region_addresses() {
        let r = region(0xfa00_0000, 0x0204_0000, 256 << 10, 4096, 0xabcd_ef00).unwrap();
        // The CPU writes at BAR 0 + offset; the NIC reads at the offset
        // through the mkey.
        assert_eq!((r.phys, r.dma), (0xfc04_0000, 0x0204_0000));
        assert_eq!(
            (r.size, r.chunk_size, r.dev_key),
            (256 << 10, 4096, 0xabcd_ef00)
        );
        assert!(region(u64::MAX, 1, 4096, 4096, 0).is_err());
    }
}

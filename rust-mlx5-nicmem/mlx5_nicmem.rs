// SPDX-License-Identifier: GPL-2.0

//! NIC memory providers for `MSG_NICMEM`.
//!
//! A TCP `send(fd, buf, len, MSG_NICMEM)` copies the payload into memory on
//! the NIC, which transmits it from there (see `kernel-patches/`). This
//! module supplies that memory:
//!
//! - [`offer`]: the device memory (MEMIC) of NVIDIA/Mellanox ConnectX NICs,
//!   which mlx5e offers through a `mlx5_core.nicmem` auxiliary device;
//! - [`emulated`]: QEMU's `ivshmem-plain` BAR next to a virtio-net device,
//!   for testing without hardware;
//! - the backend-independent parts: how much memory to take ([`plan`]),
//!   the chunk [`allocator`] with per-user quotas and statistics, and the
//!   [`provider`] that the kernel calls.

use kernel::{auxiliary, driver, pci, prelude::*};

mod allocator;
mod emulated;
mod offer;
mod plan;
mod provider;

module! {
    type: NicmemModule,
    name: "mlx5_nicmem",
    authors: ["NICMEM Developers"],
    description: "NIC memory providers for MSG_NICMEM (mlx5 MEMIC, emulated ivshmem)",
    license: "GPL",
    params: {
        emu_ifindex: u32 {
            default: 0,
            description: "Interface index of the virtio-net device that the emulated NIC memory (ivshmem-plain) belongs to",
        },
        chunk_size: u32 {
            default: 65536,
            description: "Allocation unit of NIC memory in bytes (power of two, 256..65536); for MEMIC the largest, halved until the region has 16 chunks",
        },
        mlx5: u32 {
            default: 1,
            description: "Provide the MEMIC that mlx5 uplinks offer (0: off)",
        },
        memic_kib: u32 {
            default: 0,
            description: "KiB of MEMIC to take per mlx5 device (0: as much as one allocation may have), in whole pages",
        },
        user_quota_pct: u32 {
            default: 50,
            description: "Share of a device's NIC memory one user may hold, in percent",
        },
    },
}

/// The module parameters.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Params {
    pub(crate) emu_ifindex: u32,
    pub(crate) chunk_size: u32,
    pub(crate) mlx5: bool,
    /// Bytes of MEMIC to take per device, 0 for as much as offered.
    pub(crate) memic_size: u64,
    pub(crate) quota_pct: u32,
}

impl Params {
    pub(crate) fn get() -> Self {
        Self {
            emu_ifindex: module_parameters::emu_ifindex.value(),
            chunk_size: module_parameters::chunk_size.value(),
            mlx5: module_parameters::mlx5.value() != 0,
            memic_size: u64::from(module_parameters::memic_kib.value()) << 10,
            quota_pct: module_parameters::user_quota_pct.value(),
        }
    }
}

#[pin_data]
struct NicmemModule {
    #[pin]
    _offers: driver::Registration<auxiliary::Adapter<offer::OfferDriver>>,
    #[pin]
    _emulated: driver::Registration<pci::Adapter<emulated::EmuDriver>>,
}

impl kernel::InPlaceModule for NicmemModule {
    fn init(module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            _offers <- driver::Registration::new(c"mlx5_nicmem", module),
            _emulated <- driver::Registration::new(c"nicmem_ivshmem", module),
        })
    }
}

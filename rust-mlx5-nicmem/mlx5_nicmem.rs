// SPDX-License-Identifier: GPL-2.0

//! NIC memory providers for `MSG_NICMEM`.
//!
//! A TCP `send(fd, buf, len, MSG_NICMEM)` copies the payload into memory on
//! the NIC, which transmits it from there (see `kernel-patches/`). This
//! module supplies that memory:
//!
//! - [`emulated`]: QEMU's `ivshmem-plain` BAR next to a virtio-net device,
//!   for testing without hardware;
//! - the backend-independent parts: the chunk [`allocator`] with per-socket
//!   quotas and statistics, and the [`provider`] that the kernel calls.

use kernel::{driver, pci, prelude::*};

mod allocator;
mod emulated;
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
            description: "Allocation unit of the emulated NIC memory in bytes (power of two, 256..65536)",
        },
        socket_quota_pct: u32 {
            default: 50,
            description: "Share of a device's NIC memory one socket may hold, in percent",
        },
    },
}

#[pin_data]
struct NicmemModule {
    #[pin]
    _emulated: driver::Registration<pci::Adapter<emulated::EmuDriver>>,
}

impl kernel::InPlaceModule for NicmemModule {
    fn init(module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            _emulated <- driver::Registration::new(c"nicmem_ivshmem", module),
        })
    }
}

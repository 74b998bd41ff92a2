// SPDX-License-Identifier: GPL-2.0

//! NIC memory providers for `MSG_NICMEM`.
//!
//! A TCP `send(fd, buf, len, MSG_NICMEM)` copies the payload into memory on
//! the NIC, which transmits it from there (see `kernel-patches/`). This
//! module supplies that memory:
//!
//! - [`mlx5`]: the device memory (MEMIC) of NVIDIA/Mellanox ConnectX NICs,
//!   for their mlx5e uplink network devices; [`memic`] and [`ifc`] encode
//!   its firmware commands, [`mlx5_ffi`] is its thin unsafe layer;
//! - [`emulated`]: QEMU's `ivshmem-plain` BAR next to a virtio-net device,
//!   for testing without hardware;
//! - the backend-independent parts: the chunk [`allocator`] with per-user
//!   quotas and statistics, and the [`provider`] that the kernel calls.

use kernel::{driver, pci, prelude::*};

mod allocator;
mod emulated;
#[cfg(CONFIG_MLX5_CORE_EN)]
mod ifc;
#[cfg(CONFIG_MLX5_CORE_EN)]
mod memic;
#[cfg(CONFIG_MLX5_CORE_EN)]
mod mlx5;
#[cfg(CONFIG_MLX5_CORE_EN)]
mod mlx5_ffi;
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
            description: "Provide the MEMIC of mlx5 uplink network devices as NIC memory (0: off)",
        },
        memic_kib: u32 {
            default: 0,
            description: "KiB of MEMIC to take per mlx5 device (0: as much as one allocation may have)",
        },
        user_quota_pct: u32 {
            default: 50,
            description: "Share of a device's NIC memory one user may hold, in percent",
        },
    },
}

#[pin_data]
struct NicmemModule {
    #[pin]
    _emulated: driver::Registration<pci::Adapter<emulated::EmuDriver>>,
    #[cfg(CONFIG_MLX5_CORE_EN)]
    _mlx5: Option<Pin<KBox<mlx5::Mlx5>>>,
}

#[cfg(CONFIG_MLX5_CORE_EN)]
/// Starts the mlx5 backend unless `mlx5=0` or the chunk size is invalid
/// (then the emulated backend still loads and reports it).
fn start_mlx5() -> Result<Option<Pin<KBox<mlx5::Mlx5>>>> {
    use kernel::net::nicmem;

    let chunk_size = module_parameters::chunk_size.value();
    if module_parameters::mlx5.value() == 0 {
        return Ok(None);
    }
    if !nicmem::chunk_size_ok(chunk_size) {
        pr_err!(
            "mlx5: chunk_size={} is not a power of two from {} to {}: not providing MEMIC\n",
            chunk_size,
            nicmem::CHUNK_MIN,
            nicmem::CHUNK_MAX
        );
        return Ok(None);
    }
    let params = mlx5::Params {
        chunk_size,
        memic_size: u64::from(module_parameters::memic_kib.value()) << 10,
        quota_pct: module_parameters::user_quota_pct.value(),
    };
    Ok(Some(KBox::pin_init(mlx5::Mlx5::new(params)?, GFP_KERNEL)?))
}

impl kernel::InPlaceModule for NicmemModule {
    fn init(module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            _emulated <- driver::Registration::new(c"nicmem_ivshmem", module),
            #[cfg(CONFIG_MLX5_CORE_EN)]
            _mlx5: start_mlx5()?,
        })
    }
}

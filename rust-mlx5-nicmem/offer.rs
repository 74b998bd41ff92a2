// SPDX-License-Identifier: GPL-2.0

//! The provider of the memory that NIC drivers offer: an auxiliary driver
//! for `mlx5_core.nicmem`, the device through which mlx5e offers the MEMIC
//! (device memory) of a ConnectX uplink, and for `mlx5_nicmem.nicmem`,
//! the offers of the emulated NIC ([`crate::emulated`]).
//!
//! mlx5e creates the device once the uplink can transmit and deletes it
//! before the MEMIC goes away (reset, devlink reload, removal), after its
//! send queues are drained; deleting it revokes the memory from the
//! sockets that still hold chunks and unbinds this driver. The MEMIC
//! allocation, its mkey and their addresses are mlx5e's business
//! (`drivers/net/ethernet/mellanox/mlx5/core/en/nicmem.c`); this driver
//! decides how much to take ([`crate::plan`]) and hands it out in chunks.

use crate::{
    plan::{self, Plan, Source},
    provider::ChunkProvider,
};
use kernel::{
    auxiliary,
    device::Core,
    net::nicmem::{MemInfo, Offer, OfferRegistration},
    prelude::*,
    sync::Arc, //
};

/// The auxiliary driver.
pub(crate) struct OfferDriver;

/// A bound offer, registered as NIC memory.
pub(crate) struct OfferDevice<'bound> {
    registration: OfferRegistration<'bound, ChunkProvider>,
    ifindex: i32,
}

kernel::auxiliary_device_table!(
    AUX_TABLE,
    <OfferDriver as auxiliary::Driver>::IdInfo,
    [
        (
            auxiliary::DeviceId::new(c"mlx5_core", c"nicmem"),
            Backend::Mlx5
        ),
        (
            auxiliary::DeviceId::new(c"mlx5_nicmem", c"nicmem"),
            Backend::Emulated
        )
    ]
);

/// Who makes the offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Backend {
    /// mlx5e: MEMIC.
    Mlx5,
    /// [`crate::emulated`]: an ivshmem BAR.
    Emulated,
}

/// An offer as a [`Source`] of memory.
struct OfferSource<'a> {
    offer: Offer<'a>,
    quota_pct: u32,
}

impl<'a> Source for OfferSource<'a> {
    type Registered = OfferRegistration<'a, ChunkProvider>;

    fn query(&self) -> Result<MemInfo> {
        self.offer.query()
    }

    fn take(&self, plan: &Plan, size: u64) -> Result<Self::Registered> {
        let chunks = plan.chunks(size)?;
        let provider = Arc::pin_init(ChunkProvider::new(chunks, self.quota_pct)?, GFP_KERNEL)?;
        self.offer.register(size, plan.chunk_size, provider)
    }
}

impl OfferDriver {
    fn setup<'bound>(
        adev: &'bound auxiliary::Device<Core<'_>>,
        backend: Backend,
    ) -> Result<OfferDevice<'bound>> {
        let params = crate::Params::get();
        if backend == Backend::Mlx5 && !params.mlx5 {
            dev_info!(adev, "mlx5=0: not providing MEMIC\n");
            return Err(ENODEV);
        }
        // The emulated NIC offers its BAR in chunks of `chunk_size`; MEMIC
        // is taken as `memic_kib` says.
        let want = match backend {
            Backend::Mlx5 => params.memic_size,
            Backend::Emulated => 0,
        };
        let offer = Offer::new(adev)?;
        let ifindex = offer.ifindex();
        let source = OfferSource {
            offer,
            quota_pct: params.quota_pct,
        };
        let (registration, plan, size) = plan::attach(&source, want, params.chunk_size)
            .inspect_err(|e| {
                let why = match *e {
                    e if e == ENODEV => "the device has no memory to offer",
                    e if e == ENOSPC => {
                        "no free device memory (MEMIC taken by other users, e.g. ibv_alloc_dm())"
                    }
                    e if e == EINVAL => "bad chunk_size or memic_kib",
                    _ => "see the messages above",
                };
                dev_info!(
                    adev,
                    "ifindex {}: no NIC memory: {} ({:?})\n",
                    ifindex,
                    why,
                    e
                );
            })?;
        dev_info!(
            adev,
            "ifindex {}: {} KiB of device memory, {} chunks of {} bytes, {} per user\n",
            ifindex,
            size >> 10,
            plan.chunks(size)?,
            plan.chunk_size,
            registration.provider().quota()
        );
        Ok(OfferDevice {
            registration,
            ifindex,
        })
    }
}

impl auxiliary::Driver for OfferDriver {
    type IdInfo = Backend;
    type Data<'bound> = OfferDevice<'bound>;

    const ID_TABLE: auxiliary::IdTable<Self::IdInfo> = &AUX_TABLE;

    fn probe<'bound>(
        adev: &'bound auxiliary::Device<Core<'_>>,
        info: &'bound Self::IdInfo,
    ) -> impl PinInit<Self::Data<'bound>, Error> + 'bound {
        Self::setup(adev, *info)
    }
}

impl Drop for OfferDevice<'_> {
    /// Reports the statistics; then the registration drops: it
    /// unregisters (waiting for chunks still in flight unless the memory
    /// was revoked) and gives the memory back to the device.
    fn drop(&mut self) {
        self.registration
            .provider()
            .report(format_args!("device memory of ifindex {}", self.ifindex));
    }
}

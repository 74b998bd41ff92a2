// SPDX-License-Identifier: GPL-2.0

//! The emulated NIC: QEMU's `ivshmem-plain` device (1af4:1110) as the device
//! memory of a virtio-net device.
//!
//! `ivshmem-plain` exposes host memory as BAR 2 of a PCI device. The guest
//! writes it through a write-combining mapping, like MEMIC. virtio-net
//! without `VIRTIO_F_ACCESS_PLATFORM` takes guest-physical addresses, so the
//! address at which the "NIC" reads a chunk is its physical address in the
//! BAR, and QEMU's virtio-net reads the payload straight out of the
//! device's memory: the bytes never sit in guest RAM.
//!
//! This driver plays the part that mlx5e plays for MEMIC: it binds to the
//! device and offers its BAR ([`nicmem::Offering`]) as an auxiliary device,
//! `mlx5_nicmem.nicmem.<n>`, which the module's provider ([`crate::offer`])
//! binds to as it binds to mlx5e's `mlx5_core.nicmem.<n>`. So the provider
//! path that ConnectX hosts run is the one the tests run.
//!
//! Rust module parameters are integers only in this kernel, so the
//! virtio-net device is named by its interface index (`emu_ifindex`). The
//! driver binds only when the module is loaded for it: its ID table has no
//! module alias, so that a VM with an unrelated ivshmem device does not
//! load it.

use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use kernel::{
    device::{Bound, Core},
    device_id::IdArray,
    io::PhysAddr,
    net::nicmem::{self, MemInfo, OfferOps, Offering, Region},
    page::PAGE_SIZE,
    pci,
    prelude::*, //
};

/// BAR of `ivshmem-plain` that holds the shared memory.
const SHMEM_BAR: u32 = 2;

/// Numbers the offers (auxiliary device ids).
static NEXT_ID: AtomicU32 = AtomicU32::new(0);

/// The PCI driver of the emulated NIC memory.
pub(crate) struct EmuDriver;

/// The BAR, offered whole.
pub(crate) struct EmuMemory {
    phys: PhysAddr,
    /// Bytes offered: the BAR in whole chunks of `chunk_size`.
    size: u64,
    granularity: u64,
    /// Given to the provider.
    given: AtomicBool,
}

impl OfferOps for EmuMemory {
    fn query(&self) -> Result<MemInfo> {
        Ok(MemInfo {
            max_size: self.size,
            granularity: self.granularity,
        })
    }

    fn alloc(&self, size: u64) -> Result<Region> {
        if size == 0 || size > self.size || size % self.granularity != 0 {
            return Err(EINVAL);
        }
        if self.given.swap(true, Ordering::AcqRel) {
            return Err(EBUSY);
        }
        let len = usize::try_from(size)?;
        // SAFETY: `phys..phys + size` lies in BAR 2 of `ivshmem-plain`
        // (`size` is at most the BAR's length): device memory (host memory
        // exposed as a BAR), not guest RAM, of the device this driver is
        // bound to for as long as the offering exists (`EmuDevice` holds
        // it), and nobody else uses it; until `free()` it is the
        // provider's. virtio-net, the offering's network device, reads it
        // at its guest-physical address (see the module documentation) and
        // needs no key.
        Ok(unsafe { Region::new(self.phys, self.phys, len, 0) })
    }

    fn free(&self) {
        self.given.store(false, Ordering::Release);
    }
}

/// A bound `ivshmem-plain` device, offering its BAR.
pub(crate) struct EmuDevice<'bound> {
    _offering: Offering<'bound, EmuMemory>,
}

/// `ivshmem-plain`, without `MODULE_DEVICE_TABLE()` (see the module
/// documentation).
static PCI_TABLE: IdArray<pci::DeviceId, (), 1> = IdArray::new([(
    pci::DeviceId::from_id(pci::Vendor::REDHAT_QUMRANET, 0x1110),
    &(),
)]);

impl EmuDriver {
    fn setup<'bound>(pdev: &'bound pci::Device<Core<'_>>) -> Result<EmuDevice<'bound>> {
        let params = crate::Params::get();
        let ifindex = params.emu_ifindex;
        if ifindex == 0 || ifindex > i32::MAX as u32 {
            dev_err!(
                pdev,
                "emu_ifindex not set: load with emu_ifindex=<ifindex of the virtio-net device>\n"
            );
            return Err(EINVAL);
        }
        if !nicmem::chunk_size_ok(params.chunk_size) {
            dev_err!(
                pdev,
                "chunk_size={} must be a power of two from {} to {}\n",
                params.chunk_size,
                nicmem::CHUNK_MIN,
                nicmem::CHUNK_MAX
            );
            return Err(EINVAL);
        }

        // The BAR is not mapped here: an uncached mapping would make the
        // core's write-combining one uncached too (x86 PAT).
        pdev.enable_device_mem()?;
        let dev: &'bound pci::Device<Bound> = pdev;
        let phys = pdev.resource_start(SHMEM_BAR)?;
        let len = pdev.resource_len(SHMEM_BAR)?;
        // Whole chunks, so that the provider keeps `chunk_size`.
        let granularity = u64::from(params.chunk_size).max(PAGE_SIZE as u64);
        let size = len / granularity * granularity;
        if size == 0 {
            dev_err!(pdev, "BAR {} is too small ({} bytes)\n", SHMEM_BAR, len);
            return Err(ENODEV);
        }
        let memory = EmuMemory {
            phys,
            size,
            granularity,
            given: AtomicBool::new(false),
        };
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        // SAFETY: When the offering is dropped (unbind), the memory stays
        // readable: the BAR is host memory that QEMU keeps mapped until
        // the guest has ejected the device, after the unbind, and QEMU's
        // virtio-net completes the transmits posted before the revocation
        // (at their kick, in its main loop, before it processes the
        // eject). Nothing can post a new one afterwards.
        let offering =
            unsafe { Offering::new(dev.as_ref(), c"mlx5_nicmem", id, ifindex as i32, memory) }
                .inspect_err(|e| {
                    dev_err!(
                        pdev,
                        "cannot offer the BAR as NIC memory of ifindex {}: {:?}\n",
                        ifindex,
                        e
                    )
                })?;
        dev_info!(
            pdev,
            "emulated NIC memory for ifindex {}: {} KiB at {:#x}, offered as mlx5_nicmem.nicmem.{}\n",
            ifindex,
            size >> 10,
            phys,
            id
        );
        Ok(EmuDevice {
            _offering: offering,
        })
    }
}

impl pci::Driver for EmuDriver {
    type IdInfo = ();
    type Data<'bound> = EmuDevice<'bound>;

    const ID_TABLE: pci::IdTable<Self::IdInfo> = &PCI_TABLE;

    fn probe<'bound>(
        pdev: &'bound pci::Device<Core<'_>>,
        _info: Option<&'bound Self::IdInfo>,
    ) -> impl PinInit<Self::Data<'bound>, Error> + 'bound {
        Self::setup(pdev)
    }
}

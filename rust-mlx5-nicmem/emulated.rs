// SPDX-License-Identifier: GPL-2.0

//! The emulated backend: QEMU's `ivshmem-plain` device (1af4:1110) as NIC
//! memory for a virtio-net device.
//!
//! `ivshmem-plain` exposes host memory as BAR 2 of a PCI device. The guest
//! writes it through a write-combining mapping, like MEMIC. virtio-net
//! without `VIRTIO_F_ACCESS_PLATFORM` takes guest-physical addresses, so the
//! address at which the "NIC" reads a chunk is its physical address in the
//! BAR, and QEMU's virtio-net reads the payload straight out of the
//! device's memory: the bytes never sit in guest RAM.
//!
//! Rust module parameters are integers only in this kernel, so the
//! virtio-net device is named by its interface index (`emu_ifindex`).

use crate::provider::Provider;
use kernel::{device::Core, net::nicmem, pci, prelude::*, sync::Arc};

/// BAR of `ivshmem-plain` that holds the shared memory.
const SHMEM_BAR: u32 = 2;

/// The PCI driver of the emulated NIC memory.
pub(crate) struct EmuDriver;

/// A bound `ivshmem-plain` device, registered as NIC memory.
pub(crate) struct EmuDevice {
    registration: nicmem::Registration<Provider>,
}

kernel::pci_device_table!(
    PCI_TABLE,
    <EmuDriver as pci::Driver>::IdInfo,
    [(
        pci::DeviceId::from_id(pci::Vendor::REDHAT_QUMRANET, 0x1110),
        ()
    )]
);

impl EmuDriver {
    fn setup(pdev: &pci::Device<Core<'_>>) -> Result<EmuDevice> {
        let ifindex = crate::module_parameters::emu_ifindex.value();
        let chunk_size = crate::module_parameters::chunk_size.value();
        let quota_pct = crate::module_parameters::user_quota_pct.value();

        if ifindex == 0 || ifindex > i32::MAX as u32 {
            dev_err!(
                pdev,
                "emu_ifindex not set: load with emu_ifindex=<ifindex of the virtio-net device>\n"
            );
            return Err(EINVAL);
        }
        if !nicmem::chunk_size_ok(chunk_size) {
            dev_err!(
                pdev,
                "chunk_size={} must be a power of two from {} to {}\n",
                chunk_size,
                nicmem::CHUNK_MIN,
                nicmem::CHUNK_MAX
            );
            return Err(EINVAL);
        }

        pdev.enable_device_mem()?;
        let phys = pdev.resource_start(SHMEM_BAR)?;
        let len = pdev.resource_len(SHMEM_BAR)?;
        let chunk = u64::from(chunk_size);
        let size = len / chunk * chunk;
        if size == 0 {
            dev_err!(pdev, "BAR {} is empty ({} bytes)\n", SHMEM_BAR, len);
            return Err(ENODEV);
        }
        let chunks = u32::try_from(size / chunk).map_err(|_| EINVAL)?;
        let provider = Arc::pin_init(Provider::new(chunks, quota_pct)?, GFP_KERNEL)?;
        let quota = provider.quota();

        let region = nicmem::Region {
            phys,
            // Guest-physical addresses: see the module documentation.
            dma: phys,
            size: usize::try_from(size).map_err(|_| EINVAL)?,
            chunk_size,
            // virtio-net needs nothing besides the address.
            dev_key: 0,
        };
        let registration = nicmem::Registration::register(ifindex as i32, &region, provider)
            .inspect_err(|e| {
                dev_err!(
                    pdev,
                    "cannot register as NIC memory of ifindex {}: {:?}\n",
                    ifindex,
                    e
                )
            })?;
        dev_info!(
            pdev,
            "emulated NIC memory for ifindex {}: {} KiB at {:#x}, {} chunks of {} bytes, {} per user\n",
            ifindex,
            size >> 10,
            phys,
            chunks,
            chunk_size,
            quota
        );
        Ok(EmuDevice { registration })
    }
}

impl pci::Driver for EmuDriver {
    type IdInfo = ();
    type Data<'bound> = EmuDevice;

    const ID_TABLE: pci::IdTable<Self::IdInfo> = &PCI_TABLE;

    fn probe<'bound>(
        pdev: &'bound pci::Device<Core<'_>>,
        _info: Option<&'bound Self::IdInfo>,
    ) -> impl PinInit<Self::Data<'bound>, Error> + 'bound {
        Self::setup(pdev)
    }
}

impl Drop for EmuDevice {
    /// Reports the allocator's statistics; then the registration drops and
    /// unregisters, waiting for any chunk still in flight.
    fn drop(&mut self) {
        self.registration
            .allocator()
            .report(format_args!("emulated NIC memory"));
    }
}

// SPDX-License-Identifier: GPL-2.0

//! The thin unsafe layer of the mlx5 backend: RTNL, the netdevice
//! notifier, a workqueue, and mlx5_core's devices and command interface.
//! The backend above it ([`crate::mlx5`]) is safe Rust.
//!
//! C headers: [`include/linux/mlx5/driver.h`](srctree/include/linux/mlx5/driver.h),
//! [`include/linux/netdevice.h`](srctree/include/linux/netdevice.h)

use core::{
    ffi::c_void,
    marker::PhantomData,
    ptr::NonNull,
    sync::atomic::{AtomicUsize, Ordering},
};
use kernel::{bindings, error::to_result, prelude::*, str::CStr, types::Opaque, workqueue::Queue};

/// RTNL, taken by us and released on drop.
pub(crate) struct Rtnl(PhantomData<*mut ()>);

impl Rtnl {
    /// Takes RTNL. Callers run in process context and never hold it.
    pub(crate) fn lock() -> Self {
        // SAFETY: `rtnl_lock()` may be called in process context by a thread
        // that does not hold RTNL, which is how the backend calls this.
        unsafe { bindings::rtnl_lock() };
        Self(PhantomData)
    }

    /// Proof that RTNL is held while `self` lives.
    pub(crate) fn held(&self) -> RtnlHeld<'_> {
        RtnlHeld(PhantomData)
    }
}

impl Drop for Rtnl {
    fn drop(&mut self) {
        // SAFETY: `Self` exists only while this thread holds RTNL.
        unsafe { bindings::rtnl_unlock() };
    }
}

/// Proof that RTNL is held during `'a`.
#[derive(Clone, Copy)]
pub(crate) struct RtnlHeld<'a>(PhantomData<&'a ()>);

impl RtnlHeld<'_> {
    /// # Safety
    ///
    /// RTNL is held during `'a` (for instance, the core calls
    /// `nicmem::Allocator::release` under RTNL).
    pub(crate) unsafe fn assume<'a>() -> RtnlHeld<'a> {
        RtnlHeld(PhantomData)
    }
}

/// An mlx5_core device, kept beyond the RTNL section it was found in.
///
/// # Invariants
///
/// `0` pointed to a live `struct mlx5_core_dev` when `Self` was created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MdevPtr(NonNull<bindings::mlx5_core_dev>);

// SAFETY: `MdevPtr` is an address; it is only dereferenced through
// `MdevPtr::get`, whose callers guarantee that the device is alive.
unsafe impl Send for MdevPtr {}
// SAFETY: As for `Send`.
unsafe impl Sync for MdevPtr {}

impl MdevPtr {
    /// The device, for use during `'a`.
    ///
    /// # Safety
    ///
    /// The device has been neither removed nor suspended since `self` was
    /// taken from an [`Uplink`], and neither can happen during `'a` (RTNL
    /// held and the device's NIC memory not revoked: mlx5e revokes it
    /// before either, see `nicmem_dev_revoke()`).
    pub(crate) unsafe fn get<'a>(self, _rtnl: RtnlHeld<'a>) -> Mdev<'a> {
        // INVARIANT: By the safety requirements.
        Mdev {
            ptr: self.0,
            _alive: PhantomData,
        }
    }
}

/// An mlx5_core device with mlx5e's resources, alive during `'a`.
///
/// # Invariants
///
/// `ptr` points to a `struct mlx5_core_dev` that is alive, and whose mlx5e
/// resources (`mlx5e_res.hw_objs`) exist, during `'a`.
pub(crate) struct Mdev<'a> {
    ptr: NonNull<bindings::mlx5_core_dev>,
    _alive: PhantomData<&'a ()>,
}

impl<'a> Mdev<'a> {
    fn raw(&self) -> *mut bindings::mlx5_core_dev {
        self.ptr.as_ptr()
    }

    /// The device, to keep beyond `'a`.
    pub(crate) fn as_ptr(&self) -> MdevPtr {
        // INVARIANT: The device is alive now.
        MdevPtr(self.ptr)
    }

    /// The current device-memory capability page, big-endian words (empty
    /// when mlx5_core did not query it).
    pub(crate) fn dev_mem_caps(&self) -> &'a [u32] {
        let idx = bindings::mlx5_cap_type_MLX5_CAP_DEV_MEM as usize;
        // SAFETY: By the type invariants the device is alive during `'a`;
        // mlx5_core allocates its capability pages at probe and frees them
        // at removal, and refreshes their content only while reloading,
        // after mlx5e has revoked our memory.
        unsafe {
            let hca = (*self.raw()).caps.hca;
            match hca.get(idx).copied() {
                Some(cap) if !cap.is_null() => &(*cap).cur[..],
                _ => &[],
            }
        }
    }

    /// Whether the device is part of a multi-PF (Socket Direct) netdev,
    /// whose channels also run on another PF (`mlx5_sd_init()` sets `sd`).
    pub(crate) fn socket_direct(&self) -> bool {
        // SAFETY: By the type invariants, the device is alive.
        unsafe { !(*self.raw()).sd.is_null() }
    }

    /// CPU physical address of BAR 0 (`pci_resource_start(pdev, 0)`).
    pub(crate) fn bar_addr(&self) -> u64 {
        // SAFETY: By the type invariants, the device is alive.
        unsafe { (*self.raw()).bar_addr }
    }

    /// The protection domain of mlx5e's send queues.
    pub(crate) fn pdn(&self) -> u32 {
        // SAFETY: By the type invariants, the device and its mlx5e resources
        // exist.
        unsafe { (*self.raw()).mlx5e_res.hw_objs.pdn }
    }

    /// Runs a firmware command (`mlx5_cmd_exec()`). Fails with the errno
    /// that mlx5_core maps the command's status to (`-EAGAIN` for a busy
    /// resource, ...).
    pub(crate) fn exec(&self, cmd: &mut [u32], out: &mut [u32]) -> Result {
        let in_size = c_int::try_from(core::mem::size_of_val(cmd)).map_err(|_| EINVAL)?;
        let out_size = c_int::try_from(core::mem::size_of_val(out)).map_err(|_| EINVAL)?;
        // SAFETY: The device is alive (type invariants); `cmd` and `out` are
        // valid for their sizes during the call.
        to_result(unsafe {
            bindings::mlx5_cmd_exec(
                self.raw(),
                cmd.as_mut_ptr().cast::<c_void>(),
                in_size,
                out.as_mut_ptr().cast::<c_void>(),
                out_size,
            )
        })
    }

    /// Creates a memory key from a `CREATE_MKEY` command
    /// (`mlx5_core_create_mkey()`) and returns the key.
    pub(crate) fn create_mkey(&self, cmd: &mut [u32]) -> Result<u32> {
        let in_size = c_int::try_from(core::mem::size_of_val(cmd)).map_err(|_| EINVAL)?;
        let mut mkey = 0u32;
        // SAFETY: The device is alive (type invariants); `cmd` is valid for
        // its size and `mkey` for writes during the call.
        to_result(unsafe {
            bindings::mlx5_core_create_mkey(self.raw(), &mut mkey, cmd.as_mut_ptr(), in_size)
        })?;
        Ok(mkey)
    }

    /// Destroys a memory key made by [`Self::create_mkey`].
    pub(crate) fn destroy_mkey(&self, mkey: u32) -> Result {
        // SAFETY: The device is alive (type invariants).
        to_result(unsafe { bindings::mlx5_core_destroy_mkey(self.raw(), mkey) })
    }
}

/// Whether `parent` (a network device's parent) is a PCI function bound to
/// mlx5_core.
///
/// # Safety
///
/// `parent` is null or points to a live `struct device` whose driver
/// binding cannot change during the call (RTNL held and a network device
/// of it registered: mlx5e unregisters its netdev before unbinding).
unsafe fn is_mlx5_pci(parent: *const bindings::device) -> bool {
    if parent.is_null() {
        return false;
    }
    // SAFETY: By the safety requirements, `parent` is live, and so is its
    // driver.
    unsafe {
        let drv = (*parent).driver;
        !drv.is_null()
            && (*parent).bus == &raw const bindings::pci_bus_type
            && !(*drv).name.is_null()
            && CStr::from_char_ptr((*drv).name) == c"mlx5_core"
    }
}

/// `netif_device_present()`: the device is not detached (mlx5e detaches
/// it while suspended for a reset).
///
/// # Safety
///
/// `dev` points to a live `struct net_device`.
unsafe fn device_present(dev: *mut bindings::net_device) -> bool {
    // SAFETY: By the safety requirements `dev` is live; `state` is an
    // unsigned long that the kernel changes with atomic bit operations.
    let state = unsafe { AtomicUsize::from_ptr((&raw mut (*dev).state).cast()) };
    state.load(Ordering::Relaxed) & (1 << bindings::netdev_state_t___LINK_STATE_PRESENT) != 0
}

/// The uplink network device of an mlx5 PCI function and its device.
///
/// # Invariants
///
/// During `'a`, RTNL is held, `dev` is registered (in the initial network
/// namespace) and present, its parent is a PCI function bound to mlx5_core
/// whose `struct mlx5_core_dev` is `mdev`, and it is that device's uplink
/// netdev, so mlx5e's resources exist.
pub(crate) struct Uplink<'a> {
    dev: NonNull<bindings::net_device>,
    mdev: Mdev<'a>,
}

impl<'a> Uplink<'a> {
    /// The mlx5 uplink with interface index `ifindex`, if that is one and it
    /// is present (not suspended by a reset).
    pub(crate) fn find(_rtnl: RtnlHeld<'a>, ifindex: i32) -> Option<Self> {
        // SAFETY: RTNL is held, as `__dev_get_by_index()` requires;
        // `init_net` is always valid.
        let dev = NonNull::new(unsafe {
            bindings::__dev_get_by_index(&raw mut bindings::init_net, ifindex)
        })?;
        // SAFETY: RTNL is held and `dev` registered, so `dev` and its parent
        // are alive and the parent stays bound (mlx5e unregisters its
        // netdev, under RTNL, before the function is unbound).
        unsafe {
            let parent = (*dev.as_ptr()).dev.parent;
            if !is_mlx5_pci(parent) || !device_present(dev.as_ptr()) {
                return None;
            }
            // mlx5_core's driver data is its device (`pci_set_drvdata()` in
            // `mlx5_pci_init()`).
            let mdev =
                NonNull::new(bindings::dev_get_drvdata(parent).cast::<bindings::mlx5_core_dev>())?;
            // Set under `uplink_netdev_lock` by mlx5e; a racy read only
            // delays the attachment to the next event.
            let uplink = (&raw const (*mdev.as_ptr()).mlx5e_res.uplink_netdev).read_volatile();
            if uplink != dev.as_ptr() {
                return None;
            }
            // INVARIANT: Checked above; RTNL keeps it so during `'a`, since
            // unregistering or detaching `dev` needs RTNL.
            Some(Self {
                dev,
                mdev: Mdev {
                    ptr: mdev,
                    _alive: PhantomData,
                },
            })
        }
    }

    /// The mlx5_core device.
    pub(crate) fn mdev(&self) -> &Mdev<'a> {
        &self.mdev
    }

    /// Whether the network device already has a NIC memory provider.
    pub(crate) fn has_nic_memory(&self) -> bool {
        // SAFETY: By the type invariants, `dev` is alive and RTNL, which
        // protects `nicmem`, is held.
        unsafe { !(*self.dev.as_ptr()).nicmem.is_null() }
    }
}

/// What the backend does when an mlx5 network device shows up.
pub(crate) trait NetdevHandler: Send + Sync {
    /// A network device of an mlx5 PCI function was registered, brought
    /// up or changed state (a reset ends with a carrier change). Called
    /// under RTNL, so it must not take RTNL.
    fn mlx5_netdev_event(&self, ifindex: i32);
}

/// A registered netdevice notifier that reports mlx5 network devices to
/// `T`. Registering it replays the devices that exist already.
///
/// # Invariants
///
/// `nb` is registered with `register_netdevice_notifier()` and calls
/// [`Self::call`].
#[pin_data(PinnedDrop)]
pub(crate) struct NetdevNotifier<T: NetdevHandler> {
    handler: T,
    #[pin]
    nb: Opaque<bindings::notifier_block>,
}

// SAFETY: The notifier block is only used by the notifier chain, under
// its own lock; `T` is `Send + Sync`.
unsafe impl<T: NetdevHandler> Send for NetdevNotifier<T> {}
// SAFETY: As for `Send`.
unsafe impl<T: NetdevHandler> Sync for NetdevNotifier<T> {}

impl<T: NetdevHandler> NetdevNotifier<T> {
    /// Registers a notifier for `handler`.
    pub(crate) fn register(handler: T) -> impl PinInit<Self, Error> {
        // `handler` is initialized first: registration replays the existing
        // devices to it.
        try_pin_init!(Self {
            handler,
            nb <- Opaque::try_ffi_init(|nb: *mut bindings::notifier_block| {
                // SAFETY: `nb` is valid for writes and pinned, as it stays
                // registered until `Self` is dropped.
                unsafe {
                    nb.write(bindings::notifier_block {
                        notifier_call: Some(Self::call),
                        next: core::ptr::null_mut(),
                        priority: 0,
                    });
                    to_result(bindings::register_netdevice_notifier(nb))
                }
            }),
        })
    }

    /// # Safety
    ///
    /// Called by the netdevice notifier chain with the `nb` of a live
    /// `Self` and a `struct netdev_notifier_info`.
    unsafe extern "C" fn call(
        nb: *mut bindings::notifier_block,
        event: c_ulong,
        info: *mut c_void,
    ) -> c_int {
        let events = [
            bindings::netdev_cmd_NETDEV_REGISTER,
            bindings::netdev_cmd_NETDEV_UP,
            bindings::netdev_cmd_NETDEV_CHANGE,
        ];
        if !events.iter().any(|e| *e as c_ulong == event) {
            return bindings::NOTIFY_DONE as c_int;
        }
        // SAFETY: By the safety requirements, `nb` is the `nb` field of a
        // live `Self`, and `info` a netdev notifier info, whose device is
        // registered; the chain runs under RTNL.
        unsafe {
            let this =
                &*kernel::container_of!(nb.cast::<Opaque<bindings::notifier_block>>(), Self, nb);
            // `netdev_notifier_info_to_dev()`.
            let dev = (*info.cast::<bindings::netdev_notifier_info>()).dev;
            if !dev.is_null() && is_mlx5_pci((*dev).dev.parent) {
                this.handler.mlx5_netdev_event((*dev).ifindex);
            }
        }
        bindings::NOTIFY_DONE as c_int
    }
}

#[pinned_drop]
impl<T: NetdevHandler> PinnedDrop for NetdevNotifier<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: By the type invariants, `nb` is registered; after this
        // call the chain no longer calls it.
        unsafe { bindings::unregister_netdevice_notifier(self.nb.get()) };
    }
}

/// A workqueue of the module's own: destroying it waits for its work, so
/// that no work item runs once the module is gone.
///
/// # Invariants
///
/// `0` was returned by `alloc_workqueue()` and is destroyed only by `drop`.
pub(crate) struct OwnedQueue(NonNull<bindings::workqueue_struct>);

// SAFETY: Workqueues may be used and destroyed from any thread.
unsafe impl Send for OwnedQueue {}
// SAFETY: As for `Send`.
unsafe impl Sync for OwnedQueue {}

impl OwnedQueue {
    /// A new unbound workqueue called `name`.
    pub(crate) fn new(name: &'static CStr) -> Result<Self> {
        // SAFETY: The format and its argument are valid NUL-terminated
        // strings.
        let wq = unsafe {
            bindings::alloc_workqueue_noprof(
                c"%s".as_char_ptr(),
                bindings::wq_flags_WQ_UNBOUND,
                0,
                name.as_char_ptr(),
            )
        };
        // INVARIANT: Just allocated.
        NonNull::new(wq).map(Self).ok_or(ENOMEM)
    }

    /// The queue, to spawn work on.
    pub(crate) fn queue(&self) -> &Queue {
        // SAFETY: By the type invariants, the workqueue lives as long as
        // `self`.
        unsafe { Queue::from_raw(self.0.as_ptr()) }
    }

    /// Runs `f` on the queue.
    pub(crate) fn spawn(&self, f: impl FnOnce() + Send + 'static) -> Result {
        self.queue().try_spawn(GFP_KERNEL, f).map_err(|_| ENOMEM)
    }
}

impl Drop for OwnedQueue {
    fn drop(&mut self) {
        // SAFETY: By the type invariants, the workqueue is alive and not
        // used after this: `destroy_workqueue()` drains it first.
        unsafe { bindings::destroy_workqueue(self.0.as_ptr()) };
    }
}

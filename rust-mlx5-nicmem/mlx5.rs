// SPDX-License-Identifier: GPL-2.0

//! The mlx5 backend: the device memory (MEMIC) of ConnectX NICs as the NIC
//! memory of their mlx5e uplink network device.
//!
//! # Discovery
//!
//! The backend follows network devices with a netdevice notifier rather
//! than binding to mlx5's auxiliary bus. NIC memory belongs to a network
//! device (the core hangs the provider on the `net_device`), and the
//! auxiliary device that carries it, `mlx5_core.eth`, is already bound to
//! mlx5e: a second driver cannot bind to it, and a new auxiliary device
//! type would mean changing mlx5_core. The notifier reports the mlx5
//! network devices that exist at load time and every new one; the work
//! that attaches to a device runs under RTNL, which pins the device, its
//! mlx5_core device and mlx5e's resources for as long as it runs.
//!
//! # Lifetime of the memory
//!
//! Attaching allocates MEMIC (`ALLOC_MEMIC`, see [`crate::memic`]),
//! creates the MEMIC mkey in mlx5e's protection domain and registers the
//! region; the core maps it write-combining for the CPU copy. The memory
//! goes back to the firmware in [`nicmem::Allocator::release`], which the
//! core calls exactly once while the device still has it:
//!
//! - unloading the module, or a provider replaced after a reset: the
//!   registration waits until skbs gave back every chunk, then releases;
//! - a reset (firmware recovery, devlink reload) or a removal: mlx5e
//!   revokes the memory (`nicmem_dev_revoke()`) before it destroys the PD
//!   of the mkey, or the netdev's unregistration does; the core drops the
//!   skbs that still hold chunks instead of transmitting them, and
//!   releases at once. The registration then waits for those chunks in a
//!   work item. After a reset, the device's next carrier change (or
//!   `ip link set up`) attaches fresh memory.
//!
//! Link down and up change nothing: the mkey and the memory stay, and
//! TCP retransmits what was in flight.

use crate::{
    memic::{self, Caps, Plan},
    mlx5_ffi::{MdevPtr, NetdevHandler, NetdevNotifier, OwnedQueue, Rtnl, RtnlHeld, Uplink},
    provider::Provider,
};
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::{
    net::nicmem::{self, Registration},
    new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
};

/// Settings of the backend (module parameters).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Params {
    /// Largest chunk size; smaller when the region would have few chunks.
    pub(crate) chunk_size: u32,
    /// Bytes of MEMIC to take per device, 0 for as much as one allocation
    /// may have.
    pub(crate) memic_size: u64,
    /// Share of the memory one user may hold, in percent.
    pub(crate) quota_pct: u32,
}

/// MEMIC allocated on a device, with the mkey the NIC reads it through.
///
/// # Invariants
///
/// `start` and `size` are an allocation that `ALLOC_MEMIC` made on `mdev`,
/// and `mkey`, if any, a key created on `mdev` for it; both are given back
/// only by [`Memic::free`].
struct Memic {
    mdev: MdevPtr,
    /// Offset in BAR 0.
    start: u64,
    size: u64,
    mkey: Option<u32>,
}

impl Memic {
    /// Gives the memory and its key back to the firmware.
    ///
    /// # Safety
    ///
    /// The device still has the memory and keeps it during the call, as
    /// [`MdevPtr::get`] requires.
    unsafe fn free(self, rtnl: RtnlHeld<'_>) {
        // SAFETY: By the safety requirements.
        let mdev = unsafe { self.mdev.get(rtnl) };
        if let Some(mkey) = self.mkey {
            if let Err(e) = mdev.destroy_mkey(mkey) {
                pr_warn!("mlx5: cannot destroy MEMIC mkey {:#x}: {:?}\n", mkey, e);
            }
        }
        let mut cmd = memic::dealloc_memic_in(self.start, self.size);
        let mut out = [0u32; memic::DEALLOC_OUT_DW];
        if let Err(e) = mdev.exec(&mut cmd, &mut out) {
            pr_warn!(
                "mlx5: DEALLOC_MEMIC of {} KiB at BAR offset {:#x} failed: {:?}\n",
                self.size >> 10,
                self.start,
                e
            );
        }
    }
}

/// The provider of one device: chunks, and the MEMIC behind them.
#[pin_data]
pub(crate) struct Mlx5Provider {
    #[pin]
    chunks: Provider,
    #[pin]
    memic: Mutex<Option<Memic>>,
    /// Set by `release()`: the memory went back to the device.
    released: AtomicBool,
    backend: Arc<Backend>,
}

impl nicmem::Allocator for Mlx5Provider {
    fn alloc(&self, owner: u64) -> Result<u32> {
        nicmem::Allocator::alloc(&self.chunks, owner)
    }

    fn free(&self, idx: u32) {
        nicmem::Allocator::free(&self.chunks, idx);
    }

    fn release(&self) {
        // SAFETY: The core calls `release()` under RTNL.
        let rtnl = unsafe { RtnlHeld::assume() };
        if let Some(m) = self.memic.lock().take() {
            // SAFETY: The core calls `release()` while the device still has
            // the memory: before mlx5e suspends or removes it (revocation),
            // or at unregistration, when neither has happened (it would
            // have revoked), with RTNL keeping it so.
            unsafe { m.free(rtnl) };
        }
        self.released.store(true, Ordering::Release);
        // Unregister in a work item if the registration is still in the
        // list (a revocation); a dropped registration is already gone.
        self.backend.spawn_reap();
    }
}

/// A device the backend provides NIC memory for.
struct Attached {
    ifindex: i32,
    registration: Registration<Mlx5Provider>,
}

impl Attached {
    fn released(&self) -> bool {
        self.registration
            .allocator()
            .released
            .load(Ordering::Acquire)
    }

    fn report(&self) {
        self.registration
            .allocator()
            .chunks
            .report(format_args!("MEMIC of ifindex {}", self.ifindex));
    }
}

struct State {
    attached: KVec<Attached>,
    /// Devices whose failure to attach was logged already.
    reported: KVec<i32>,
    /// The module is going away: attach nothing more.
    closing: bool,
}

/// The mlx5 backend.
#[pin_data]
pub(crate) struct Backend {
    params: Params,
    #[pin]
    state: Mutex<State>,
    /// Where attaching and unregistering run; `None` once shut down.
    #[pin]
    queue: Mutex<Option<OwnedQueue>>,
}

impl Backend {
    /// A backend with `params`, attached to no device yet.
    pub(crate) fn new(params: Params) -> Result<Arc<Self>> {
        let queue = OwnedQueue::new(c"mlx5_nicmem")?;
        Arc::pin_init(
            try_pin_init!(Self {
                params,
                state <- new_mutex!(State {
                    attached: KVec::new(),
                    reported: KVec::new(),
                    closing: false,
                }),
                queue <- new_mutex!(Some(queue)),
            }),
            GFP_KERNEL,
        )
    }

    fn spawn(&self, f: impl FnOnce() + Send + 'static) {
        if let Some(q) = self.queue.lock().as_ref() {
            if let Err(e) = q.spawn(f) {
                pr_warn!("mlx5: cannot queue work: {:?}\n", e);
            }
        }
    }

    fn spawn_reap(self: &Arc<Self>) {
        let this = self.clone();
        self.spawn(move || this.reap());
    }

    /// Unregisters the providers whose memory was revoked; each waits for
    /// the chunks that skbs still hold.
    fn reap(&self) {
        let mut gone = KVec::new();
        {
            let mut state = self.state.lock();
            let mut i = 0;
            while i < state.attached.len() {
                if !state.attached[i].released() {
                    i += 1;
                    continue;
                }
                // Reserve first: dropping under the lock would wait for
                // chunks while holding it.
                if gone.reserve(1, GFP_KERNEL).is_err() {
                    break;
                }
                if let Ok(a) = state.attached.remove(i) {
                    let _ = gone.push_within_capacity(a);
                }
            }
        }
        for a in gone {
            a.report();
        }
    }

    /// Attaches to the mlx5 uplink with interface index `ifindex`, if it
    /// has MEMIC and no provider yet.
    fn attach(self: &Arc<Self>, ifindex: i32) {
        let rtnl = Rtnl::lock();
        let held = rtnl.held();
        let Some(uplink) = Uplink::find(held, ifindex) else {
            return;
        };
        if uplink.has_nic_memory() {
            return;
        }
        let mut state = self.state.lock();
        // Room first: a registration must not be dropped under RTNL, as
        // unregistering takes it.
        if state.closing || state.attached.reserve(1, GFP_KERNEL).is_err() {
            return;
        }
        let verbose = !state.reported.contains(&ifindex);
        match self.setup(&uplink, held, ifindex, verbose) {
            Ok(registration) => {
                let a = Attached {
                    ifindex,
                    registration,
                };
                if state.attached.push_within_capacity(a).is_err() {
                    // Cannot happen: room was reserved above.
                    pr_err!("mlx5: ifindex {}: no room for the provider\n", ifindex);
                }
                state.reported.retain(|i| *i != ifindex);
            }
            Err(e) => {
                if verbose {
                    let why = match e {
                        e if e == ENODEV => "the device has no MEMIC (device_mem_cap.memic = 0)",
                        e if e == ENOSPC => {
                            "no free MEMIC (taken by other users, e.g. ibv_alloc_dm())"
                        }
                        _ => "see the messages above",
                    };
                    pr_info!(
                        "mlx5: ifindex {}: no NIC memory: {} ({:?})\n",
                        ifindex,
                        why,
                        e
                    );
                    let _ = state.reported.push(ifindex, GFP_KERNEL);
                }
            }
        }
    }

    fn setup(
        self: &Arc<Self>,
        uplink: &Uplink<'_>,
        rtnl: RtnlHeld<'_>,
        ifindex: i32,
        verbose: bool,
    ) -> Result<Registration<Mlx5Provider>> {
        let mdev = uplink.mdev();
        if mdev.socket_direct() {
            if verbose {
                pr_info!(
                    "mlx5: ifindex {}: multi-PF (Socket Direct) netdev: its send queues on the other PFs cannot read this PF's MEMIC, not supported\n",
                    ifindex
                );
            }
            return Err(EOPNOTSUPP);
        }
        let caps = Caps::parse(mdev.dev_mem_caps());
        if caps.memic && verbose {
            pr_info!(
                "mlx5: ifindex {}: MEMIC: {} KiB window at BAR offset {:#x}, at most {} KiB per allocation, granularity {} bytes\n",
                ifindex,
                caps.bar_size >> 10,
                caps.bar_start,
                caps.max_size >> 10,
                caps.granularity()
            );
        }
        let plan = Plan::new(&caps, self.params.memic_size, self.params.chunk_size)?;
        let memic = alloc_memic(uplink, &caps, &plan)?;
        let (start, size) = (memic.start, memic.size);
        let mut cmd = memic::create_mkey_in(start, size, mdev.pdn());
        let mkey = match mdev.create_mkey(&mut cmd) {
            Ok(mkey) => mkey,
            Err(e) => {
                pr_err!(
                    "mlx5: ifindex {}: cannot create the MEMIC mkey: {:?}\n",
                    ifindex,
                    e
                );
                // SAFETY: In the RTNL section that found the device.
                unsafe { memic.free(rtnl) };
                return Err(e);
            }
        };
        let memic = Memic {
            mkey: Some(mkey),
            ..memic
        };
        // Every error from here on must give the memory back.
        let provider = (|| -> Result<_> {
            let chunks = u32::try_from(size / u64::from(plan.chunk_size)).map_err(|_| EINVAL)?;
            let region = memic::region(mdev.bar_addr(), start, size, plan.chunk_size, mkey)?;
            let provider = Arc::pin_init(
                try_pin_init!(Mlx5Provider {
                    chunks <- Provider::new(chunks, self.params.quota_pct)?,
                    memic <- new_mutex!(None),
                    released: AtomicBool::new(false),
                    backend: self.clone(),
                }),
                GFP_KERNEL,
            )?;
            Ok((chunks, region, provider))
        })();
        let (chunks, region, provider) = match provider {
            Ok(p) => p,
            Err(e) => {
                // SAFETY: In the RTNL section that found the device.
                unsafe { memic.free(rtnl) };
                return Err(e);
            }
        };
        let quota = provider.chunks.quota();
        // The provider owns the memory from here on: it frees it in
        // `release()`, also when registering fails (the core then calls no
        // op, so free it here).
        *provider.memic.lock() = Some(memic);
        // SAFETY: `rtnl` proves that RTNL is held.
        match unsafe { Registration::register_rtnl_held(ifindex, &region, provider.clone()) } {
            Ok(registration) => {
                pr_info!(
                    "mlx5: ifindex {}: {} KiB of MEMIC at BAR offset {:#x} (mkey {:#x}), {} chunks of {} bytes, {} per user\n",
                    ifindex,
                    size >> 10,
                    start,
                    mkey,
                    chunks,
                    plan.chunk_size,
                    quota
                );
                Ok(registration)
            }
            Err(e) => {
                pr_err!(
                    "mlx5: ifindex {}: cannot register NIC memory: {:?}\n",
                    ifindex,
                    e
                );
                if let Some(m) = provider.memic.lock().take() {
                    // SAFETY: In the RTNL section that found the device.
                    unsafe { m.free(rtnl) };
                }
                Err(e)
            }
        }
    }

    /// Stops attaching, then unregisters every provider: each waits until
    /// skbs gave back its chunks and releases its memory. Then waits for
    /// the work still queued.
    pub(crate) fn shutdown(&self) {
        let attached = {
            let mut state = self.state.lock();
            state.closing = true;
            core::mem::take(&mut state.attached)
        };
        for a in attached {
            a.report();
        }
        let queue = self.queue.lock().take();
        drop(queue);
    }
}

/// Allocates MEMIC for `plan`: the largest size that fits, in the first
/// free range, as `mlx5_cmd_alloc_memic()` does.
fn alloc_memic(uplink: &Uplink<'_>, caps: &Caps, plan: &Plan) -> Result<Memic> {
    let mdev = uplink.mdev();
    for size in plan.sizes(caps) {
        for range_start in memic::range_starts(caps, size) {
            let mut cmd = memic::alloc_memic_in(plan, range_start, size);
            let mut out = [0u32; memic::ALLOC_OUT_DW];
            match mdev.exec(&mut cmd, &mut out) {
                Ok(()) => {
                    return Ok(Memic {
                        mdev: mdev.as_ptr(),
                        start: memic::alloc_memic_start(&out),
                        size,
                        mkey: None,
                    })
                }
                // The range overlaps memory the firmware gave to somebody.
                Err(e) if e == EAGAIN => continue,
                Err(e) => {
                    pr_err!(
                        "mlx5: ALLOC_MEMIC of {} KiB at BAR offset {:#x} failed: {:?}\n",
                        size >> 10,
                        range_start,
                        e
                    );
                    return Err(e);
                }
            }
        }
    }
    Err(ENOSPC)
}

/// Reports mlx5 network devices to the backend.
pub(crate) struct Events(Arc<Backend>);

impl NetdevHandler for Events {
    fn mlx5_netdev_event(&self, ifindex: i32) {
        let backend = self.0.clone();
        self.0.spawn(move || backend.attach(ifindex));
    }
}

/// Shuts the backend down when dropped.
struct ShutdownOnDrop(Arc<Backend>);

impl Drop for ShutdownOnDrop {
    fn drop(&mut self) {
        self.0.shutdown();
    }
}

/// The mlx5 backend, following mlx5 network devices.
#[pin_data]
pub(crate) struct Mlx5 {
    // Dropped first: no event after it.
    #[pin]
    _notifier: NetdevNotifier<Events>,
    _backend: ShutdownOnDrop,
}

impl Mlx5 {
    /// Starts the backend: attaches to the mlx5 uplinks that have MEMIC,
    /// now and whenever one shows up.
    pub(crate) fn new(params: Params) -> Result<impl PinInit<Self, Error>> {
        let backend = Backend::new(params)?;
        let events = Events(backend.clone());
        if params.memic_size == 0 {
            pr_info!(
                "mlx5: following mlx5 network devices to provide their MEMIC (chunks up to {} bytes, as much MEMIC as one allocation may have)\n",
                params.chunk_size
            );
        } else {
            pr_info!(
                "mlx5: following mlx5 network devices to provide their MEMIC (chunks up to {} bytes, at most {} KiB per device)\n",
                params.chunk_size,
                params.memic_size >> 10
            );
        }
        // The guard is initialized first, so that it shuts the backend down
        // (waiting for queued work) if registering the notifier fails.
        Ok(try_pin_init!(Self {
            _backend: ShutdownOnDrop(backend),
            _notifier <- NetdevNotifier::register(events),
        }))
    }
}

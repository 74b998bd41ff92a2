// SPDX-License-Identifier: GPL-2.0
//! Resident NIC memory: an arena of a device's NIC memory that this process
//! maps, writes once and sends from by reference with `MSG_NICMEM`.
//!
//! `NICMEM_IOC_ARENA_CREATE` on `/dev/nicmem` (include/uapi/linux/nicmem.h
//! of the series) returns a file that only the calling process may map. A
//! `MSG_NICMEM` send of bytes inside the mapping attaches that memory to the
//! skb without a copy; bytes changed before they are acknowledged may go out
//! in either version, so writers change only what no send still refers to.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;

/// `_IOWR(0xE4, 0x01, struct nicmem_arena_create)`.
const NICMEM_IOC_ARENA_CREATE: u64 = (3 << 30) | (24 << 16) | (0xE4 << 8) | 0x01;

/// `struct nicmem_arena_create`.
#[repr(C)]
#[derive(Default)]
struct CreateReq {
    ifindex: u32,
    flags: u32,
    size: u64,
    chunk_size: u32,
    reserved: u32,
}

fn create(ifindex: u32, size: u64) -> io::Result<(Option<OwnedFd>, u32)> {
    let dev = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/nicmem")?;
    let mut req = CreateReq {
        ifindex,
        size,
        ..Default::default()
    };
    // SAFETY: `req` is the ioctl's argument struct, valid for reads and
    // writes of its size for the duration of the call.
    let fd = unsafe { libc::ioctl(dev.as_raw_fd(), NICMEM_IOC_ARENA_CREATE as _, &mut req) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a non-negative return is a new file descriptor we own
    // (none is returned when only the chunk size was asked for).
    let fd = (size != 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) });
    Ok((fd, req.chunk_size))
}

/// A mapped arena of NIC memory.
///
/// # Invariants
///
/// `ptr` is a shared mapping of `len` bytes of the arena `_fd`, made by this
/// process and unmapped only by `drop`.
pub struct Arena {
    ptr: NonNull<u8>,
    len: usize,
    chunk_size: u32,
    _fd: OwnedFd,
}

// SAFETY: the mapping is plain memory shared with the device; `Arena` hands
// out only raw addresses and writes through `write`, whose callers
// serialize writers of a range.
unsafe impl Send for Arena {}
// SAFETY: as for `Send`.
unsafe impl Sync for Arena {}

impl Arena {
    /// The chunk size of a device's NIC memory: arenas are multiples of it.
    pub fn chunk_size(ifindex: u32) -> io::Result<u32> {
        Ok(create(ifindex, 0)?.1)
    }

    /// Takes `size` bytes (a multiple of the chunk size) of the NIC memory of
    /// the device `ifindex` and maps them. Errors: `ENOENT` without
    /// `/dev/nicmem` (a kernel without the series), `EOPNOTSUPP` for a device
    /// without NIC memory, `ENOSPC`/`EDQUOT` when it or the user's quota is
    /// exhausted.
    pub fn new(ifindex: u32, size: usize) -> io::Result<Self> {
        let (fd, chunk_size) = create(ifindex, size as u64)?;
        let fd = fd.ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
        // SAFETY: a new shared mapping of the arena; no Rust object lives
        // in the address range it returns.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                size,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Self {
            // INVARIANT: mmap() succeeded with `size` bytes of `fd`.
            ptr: NonNull::new(ptr.cast()).expect("mmap returned NULL"),
            len: size,
            chunk_size,
            _fd: fd,
        })
    }

    /// Bytes in the arena.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the arena has no bytes (never: arenas hold whole chunks).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The device's chunk size.
    pub fn chunk(&self) -> u32 {
        self.chunk_size
    }

    /// The address of byte `off`, for an iovec of a `MSG_NICMEM` send.
    ///
    /// # Panics
    ///
    /// If `off` is past the end.
    pub fn addr(&self, off: usize) -> *const u8 {
        assert!(
            off <= self.len,
            "offset {off} past the arena's {} bytes",
            self.len
        );
        // SAFETY: within the mapping (by the invariant), or one past it.
        unsafe { self.ptr.as_ptr().add(off) }
    }

    /// Copies `data` to byte `off` of the arena.
    ///
    /// # Panics
    ///
    /// If the range is not inside the arena.
    ///
    /// # Safety
    ///
    /// No other thread writes the same bytes meanwhile. (Sends that still
    /// refer to them are memory-safe, but may carry either version.)
    pub unsafe fn write(&self, off: usize, data: &[u8]) {
        assert!(
            off.checked_add(data.len())
                .is_some_and(|end| end <= self.len),
            "write of {} bytes at {off} outside the arena's {} bytes",
            data.len(),
            self.len
        );
        // SAFETY: the range is inside the mapping (checked above, and the
        // invariant), `data` cannot overlap it (no Rust object lives there),
        // and the caller excludes concurrent writers.
        unsafe {
            std::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr.as_ptr().add(off), data.len())
        };
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new` (by the invariant), unmapped
        // once. Sends in flight keep the memory until they are acknowledged.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_layout_is_the_kernels() {
        assert_eq!(std::mem::size_of::<CreateReq>(), 24);
        assert_eq!(NICMEM_IOC_ARENA_CREATE, 0xC018_E401);
    }

    #[test]
    fn without_the_series_it_says_what_is_missing() {
        if std::path::Path::new("/dev/nicmem").exists() {
            return;
        }
        let err = Arena::new(1, 65536)
            .err()
            .expect("an arena without /dev/nicmem");
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }
}

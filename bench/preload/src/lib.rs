// SPDX-License-Identifier: GPL-2.0
//! `libnicmem_preload.so`: makes unmodified programs send with `MSG_NICMEM`.
//!
//! ```text
//! LD_PRELOAD=libnicmem_preload.so NICMEM=on NICMEM_MIN_SIZE=1024 netperf ...
//! ```
//!
//! It wraps `send`, `sendto`, `sendmsg`, `write` and `writev`: sends of at
//! least `NICMEM_MIN_SIZE` bytes (default 0) get `MSG_NICMEM` added while
//! `NICMEM` is `on` (the default; `off` passes everything through). `write`
//! and `writev` on a socket become `send`/`sendmsg` with the flag; on other
//! files they are passed through, and the file descriptor is remembered as
//! "not a socket" until it is closed. Protocols other than TCP ignore the
//! flag, so wrapping every socket is safe.

#![deny(unsafe_op_in_unsafe_fn)]

use libc::{c_int, c_void, iovec, msghdr, size_t, sockaddr, socklen_t, ssize_t};
use libnicmem::MSG_NICMEM;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// The settings, read once from the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Add the flag at all.
    pub enabled: bool,
    /// Only to sends of at least this many bytes.
    pub min_size: usize,
}

impl Config {
    /// Parses `NICMEM` and `NICMEM_MIN_SIZE` values.
    pub fn parse(nicmem: Option<&str>, min_size: Option<&str>) -> Self {
        let enabled = !matches!(nicmem.map(str::trim), Some("off" | "0" | "no" | "false"));
        let min_size = min_size.and_then(|s| s.trim().parse().ok()).unwrap_or(0);
        Self { enabled, min_size }
    }

    /// The flags to send `len` bytes with.
    pub fn flags(&self, flags: c_int, len: usize) -> c_int {
        if self.enabled && len >= self.min_size {
            flags | MSG_NICMEM
        } else {
            flags
        }
    }
}

fn config() -> Config {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    *CONFIG.get_or_init(|| {
        Config::parse(
            std::env::var("NICMEM").ok().as_deref(),
            std::env::var("NICMEM_MIN_SIZE").ok().as_deref(),
        )
    })
}

/// File descriptors below 4096 known not to be sockets, one bit each.
struct NotSockets([AtomicU64; 64]);

impl NotSockets {
    const fn new() -> Self {
        Self([const { AtomicU64::new(0) }; 64])
    }

    fn slot(fd: c_int) -> Option<(usize, u64)> {
        let fd = usize::try_from(fd).ok().filter(|&f| f < 4096)?;
        Some((fd / 64, 1 << (fd % 64)))
    }

    fn get(&self, fd: c_int) -> bool {
        Self::slot(fd).is_some_and(|(i, b)| self.0[i].load(Ordering::Relaxed) & b != 0)
    }

    fn set(&self, fd: c_int, on: bool) {
        if let Some((i, b)) = Self::slot(fd) {
            if on {
                self.0[i].fetch_or(b, Ordering::Relaxed);
            } else {
                self.0[i].fetch_and(!b, Ordering::Relaxed);
            }
        }
    }
}

static NOT_SOCKETS: NotSockets = NotSockets::new();

macro_rules! real {
    ($name:literal, $ty:ty) => {{
        static PTR: OnceLock<usize> = OnceLock::new();
        let p = *PTR.get_or_init(|| {
            // SAFETY: dlsym with a valid NUL-terminated name.
            unsafe { libc::dlsym(libc::RTLD_NEXT, concat!($name, "\0").as_ptr().cast()) as usize }
        });
        assert!(p != 0, concat!("nicmem_preload: no next ", $name));
        // SAFETY: `p` is the address of the next definition of this libc
        // function, whose C signature is `$ty`.
        unsafe { std::mem::transmute::<usize, $ty>(p) }
    }};
}

type SendFn = unsafe extern "C" fn(c_int, *const c_void, size_t, c_int) -> ssize_t;
type SendtoFn = unsafe extern "C" fn(
    c_int,
    *const c_void,
    size_t,
    c_int,
    *const sockaddr,
    socklen_t,
) -> ssize_t;
type SendmsgFn = unsafe extern "C" fn(c_int, *const msghdr, c_int) -> ssize_t;
type WriteFn = unsafe extern "C" fn(c_int, *const c_void, size_t) -> ssize_t;
type WritevFn = unsafe extern "C" fn(c_int, *const iovec, c_int) -> ssize_t;
type CloseFn = unsafe extern "C" fn(c_int) -> c_int;

fn iov_len(iov: *const iovec, n: c_int) -> usize {
    if iov.is_null() || n <= 0 {
        return 0;
    }
    // SAFETY: the caller of writev/sendmsg passes `n` valid iovecs.
    let v = unsafe { std::slice::from_raw_parts(iov, n as usize) };
    v.iter().map(|i| i.iov_len).sum()
}

fn errno() -> c_int {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// # Safety
/// As `send(2)`.
#[no_mangle]
pub unsafe extern "C" fn send(fd: c_int, buf: *const c_void, len: size_t, flags: c_int) -> ssize_t {
    let next = real!("send", SendFn);
    // SAFETY: the caller's arguments, passed on to libc's send.
    unsafe { next(fd, buf, len, config().flags(flags, len)) }
}

/// # Safety
/// As `sendto(2)`.
#[no_mangle]
pub unsafe extern "C" fn sendto(
    fd: c_int,
    buf: *const c_void,
    len: size_t,
    flags: c_int,
    addr: *const sockaddr,
    alen: socklen_t,
) -> ssize_t {
    let next = real!("sendto", SendtoFn);
    // SAFETY: the caller's arguments, passed on to libc's sendto.
    unsafe { next(fd, buf, len, config().flags(flags, len), addr, alen) }
}

/// # Safety
/// As `sendmsg(2)`.
#[no_mangle]
pub unsafe extern "C" fn sendmsg(fd: c_int, msg: *const msghdr, flags: c_int) -> ssize_t {
    let len = if msg.is_null() {
        0
    } else {
        // SAFETY: `msg` is the caller's valid msghdr.
        let m = unsafe { &*msg };
        iov_len(m.msg_iov, m.msg_iovlen as c_int)
    };
    let next = real!("sendmsg", SendmsgFn);
    // SAFETY: the caller's arguments, passed on to libc's sendmsg.
    unsafe { next(fd, msg, config().flags(flags, len)) }
}

/// A `write` of `len` bytes to `fd` as a send with `MSG_NICMEM`: runs `send`
/// when the write qualifies and `fd` may be a socket, and returns its result;
/// `None` when the caller must do the plain write (then `fd` is remembered as
/// not a socket if `send` said so).
fn write_as_send(fd: c_int, len: usize, send: impl FnOnce() -> ssize_t) -> Option<ssize_t> {
    let cfg = config();
    if !cfg.enabled || len < cfg.min_size || NOT_SOCKETS.get(fd) {
        return None;
    }
    let n = send();
    if n >= 0 || errno() != libc::ENOTSOCK {
        return Some(n);
    }
    NOT_SOCKETS.set(fd, true);
    None
}

/// # Safety
/// As `write(2)`.
#[no_mangle]
pub unsafe extern "C" fn write(fd: c_int, buf: *const c_void, len: size_t) -> ssize_t {
    let send = real!("send", SendFn);
    // SAFETY: send of the caller's buffer; ENOTSOCK means not a socket.
    if let Some(n) = write_as_send(fd, len, || unsafe { send(fd, buf, len, MSG_NICMEM) }) {
        return n;
    }
    let next = real!("write", WriteFn);
    // SAFETY: the caller's arguments, passed on to libc's write.
    unsafe { next(fd, buf, len) }
}

/// # Safety
/// As `writev(2)`.
#[no_mangle]
pub unsafe extern "C" fn writev(fd: c_int, iov: *const iovec, n: c_int) -> ssize_t {
    if n > 0 {
        // SAFETY: an all-zero msghdr is valid; it points at the caller's iovecs.
        let mut msg: msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = iov.cast_mut();
        msg.msg_iovlen = n as _;
        let sendmsg = real!("sendmsg", SendmsgFn);
        // SAFETY: `msg` is valid for the call; ENOTSOCK means not a socket.
        let sent = write_as_send(fd, iov_len(iov, n), || unsafe {
            sendmsg(fd, &msg, MSG_NICMEM)
        });
        if let Some(r) = sent {
            return r;
        }
    }
    let next = real!("writev", WritevFn);
    // SAFETY: the caller's arguments, passed on to libc's writev.
    unsafe { next(fd, iov, n) }
}

/// # Safety
/// As `close(2)`.
#[no_mangle]
pub unsafe extern "C" fn close(fd: c_int) -> c_int {
    NOT_SOCKETS.set(fd, false);
    let next = real!("close", CloseFn);
    // SAFETY: the caller's argument, passed on to libc's close.
    unsafe { next(fd) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_environment() {
        assert_eq!(
            Config::parse(None, None),
            Config {
                enabled: true,
                min_size: 0
            }
        );
        assert_eq!(
            Config::parse(Some("off"), Some("4096")),
            Config {
                enabled: false,
                min_size: 4096
            }
        );
        assert_eq!(Config::parse(Some("on"), Some("junk")).min_size, 0);
    }

    #[test]
    fn adds_the_flag_only_when_asked_and_large_enough() {
        let c = Config {
            enabled: true,
            min_size: 100,
        };
        assert_eq!(
            c.flags(libc::MSG_DONTWAIT, 100),
            libc::MSG_DONTWAIT | MSG_NICMEM
        );
        assert_eq!(c.flags(0, 99), 0);
        let off = Config {
            enabled: false,
            min_size: 0,
        };
        assert_eq!(off.flags(0, 1 << 20), 0);
    }

    #[test]
    fn remembers_non_sockets_until_close() {
        let s = NotSockets::new();
        assert!(!s.get(5));
        s.set(5, true);
        assert!(s.get(5) && !s.get(6));
        s.set(5, false);
        assert!(!s.get(5));
        s.set(-1, true);
        s.set(100_000, true);
        assert!(!s.get(-1) && !s.get(100_000));
    }
}

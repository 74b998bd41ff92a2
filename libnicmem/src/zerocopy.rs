// SPDX-License-Identifier: GPL-2.0
//! MSG_ZEROCOPY completions (Documentation/networking/msg_zerocopy.rst).
//!
//! Every successful `send()` with MSG_ZEROCOPY gets the next 32-bit id of
//! its socket, starting at 0; the kernel reports ranges of ids whose pages
//! it no longer uses on the socket's error queue.

use std::fmt;
use std::io;
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// `ee_origin` of MSG_ZEROCOPY completions (include/uapi/linux/errqueue.h).
const SO_EE_ORIGIN_ZEROCOPY: u8 = 5;
/// `ee_code` bit: the kernel copied the data after all.
const SO_EE_CODE_ZEROCOPY_COPIED: u8 = 1;

/// What a socket's MSG_ZEROCOPY sends have come to. For a socket that does
/// not send with MSG_ZEROCOPY every method does nothing.
#[derive(Default)]
pub struct Completions {
    /// The socket sends with MSG_ZEROCOPY.
    active: bool,
    /// Successful zerocopy sends (each gets one completion id).
    pub sends: u64,
    /// Sends whose completion has been read.
    pub completed: u64,
    /// Completed sends that the kernel copied instead.
    pub copied: u64,
}

impl Completions {
    /// The completions of a socket that sends with `flags`.
    pub fn for_flags(flags: i32) -> Self {
        Completions {
            active: flags & libc::MSG_ZEROCOPY != 0,
            ..Default::default()
        }
    }

    /// Counts one successful send.
    pub fn sent(&mut self) {
        if self.active {
            self.sends += 1;
        }
    }

    /// Reads the completions queued on `s`, without blocking.
    pub fn drain(&mut self, s: &TcpStream) -> io::Result<()> {
        self.drain_ranges(s, |_, _| {})
    }

    /// Reads the completions queued on `s`, without blocking, and calls
    /// `done(lo, hi)` for each range of send ids (inclusive, may wrap)
    /// whose buffers the kernel no longer uses.
    pub fn drain_ranges(
        &mut self,
        s: &TcpStream,
        mut done: impl FnMut(u32, u32),
    ) -> io::Result<()> {
        while self.active {
            let mut control = [0u64; 16];
            // SAFETY: an all-zero msghdr is valid; it points at `control` only.
            let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = std::mem::size_of_val(&control);
            // SAFETY: `msg` and its control buffer are valid; MSG_ERRQUEUE
            // reads no data.
            let r = unsafe {
                libc::recvmsg(
                    s.as_raw_fd(),
                    &mut msg,
                    libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT,
                )
            };
            if r < 0 {
                let e = io::Error::last_os_error();
                return match e.raw_os_error() {
                    Some(libc::EAGAIN) => Ok(()),
                    _ => Err(e),
                };
            }
            // SAFETY: the kernel filled `msg`; CMSG_FIRSTHDR walks its control.
            let cm = unsafe { libc::CMSG_FIRSTHDR(&msg) };
            if cm.is_null() {
                continue;
            }
            // SAFETY: an error-queue cmsg carries a sock_extended_err; the
            // control buffer is 8-byte aligned, enough for it.
            let err = unsafe { &*(libc::CMSG_DATA(cm) as *const libc::sock_extended_err) };
            if err.ee_origin != SO_EE_ORIGIN_ZEROCOPY {
                continue;
            }
            let n = u64::from(err.ee_data.wrapping_sub(err.ee_info)) + 1;
            done(err.ee_info, err.ee_data);
            self.completed += n;
            if err.ee_code & SO_EE_CODE_ZEROCOPY_COPIED != 0 {
                self.copied += n;
            }
        }
        Ok(())
    }

    /// Waits (up to a second; 10 ms on a socket that is hung up) until a
    /// completion can be read, without reading it.
    pub fn wait(&self, s: &TcpStream) -> io::Result<()> {
        let mut p = libc::pollfd {
            fd: s.as_raw_fd(),
            events: 0,
            revents: 0,
        };
        // SAFETY: `p` is one valid pollfd. POLLERR is reported without
        // being asked for.
        if unsafe { libc::poll(&mut p, 1, 1000) } < 0 {
            return Err(io::Error::last_os_error());
        }
        if p.revents & libc::POLLERR == 0 && p.revents != 0 {
            // POLLHUP: a socket shut down both ways reports it at once and
            // for good, so poll() cannot wait for completions any more;
            // they still come (when the peer's last ACKs are processed).
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    }

    /// Waits as [`Self::wait`], then reads all completions there are: what
    /// a sender that only counts them does on ENOBUFS.
    pub fn wait_some(&mut self, s: &TcpStream) -> io::Result<()> {
        self.wait(s)?;
        self.drain(s)
    }

    /// Waits until every send has completed (at most 30 s).
    pub fn wait_all(&mut self, s: &TcpStream) -> io::Result<()> {
        if !self.active {
            return Ok(());
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            self.drain(s)?;
            if self.completed >= self.sends {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(io::Error::other(format!("{self} after 30 s")));
            }
            self.wait_some(s)?;
        }
    }
}

impl fmt::Display for Completions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "zerocopy: {} sends, {} completed, {} copied by the kernel",
            self.sends, self.completed, self.copied
        )
    }
}

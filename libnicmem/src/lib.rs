// SPDX-License-Identifier: GPL-2.0
//! MSG_NICMEM for user space.
//!
//! `send(fd, buf, len, MSG_NICMEM)` on a TCP socket asks the kernel to copy the
//! payload straight into memory on the NIC (see `kernel-patches/`), or sends
//! payload that lives there already ([`arena`]). This crate
//! holds the user-visible ABI of the series (the flag, `TCP_NICMEM_INFO`) and
//! small safe wrappers used by the examples, the tests and the benchmarks;
//! [`device`] reads the per-device state over netlink, [`zerocopy`] reads
//! MSG_ZEROCOPY completions for the senders that compare against it, and
//! [`marker`] brackets the work the benchmark's instruction counter counts.

use std::io;
use std::os::fd::AsRawFd;

pub mod arena;
pub mod device;
pub mod marker;
pub mod zerocopy;

/// The `send()` flag: place the payload in NIC memory (`include/linux/socket.h`).
pub const MSG_NICMEM: i32 = 0x800_0000;

/// `getsockopt(SOL_TCP, TCP_NICMEM_INFO)`: per-socket counters (`include/uapi/linux/tcp.h`).
pub const TCP_NICMEM_INFO: i32 = 47;

/// Why a `MSG_NICMEM` send was copied to host memory instead (`enum tcp_nicmem_fallback`).
pub const FALLBACK_REASONS: [&str; 8] = [
    "no_provider",
    "loopback",
    "no_offload",
    "zerocopy",
    "quota",
    "nomem",
    "other",
    "sw_path",
];

/// Per-socket counters of `MSG_NICMEM` sends (`struct tcp_nicmem_info`).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TcpNicmemInfo {
    /// Payload bytes placed in NIC memory.
    pub bytes: u64,
    /// `MSG_NICMEM` payload bytes copied to host memory instead.
    pub fallback_bytes: u64,
    /// The fallback bytes by reason, indexed like [`FALLBACK_REASONS`].
    pub fallback: [u64; 8],
    /// Payload bytes sent by reference from resident arenas ([`arena`]).
    pub resident_bytes: u64,
}

impl TcpNicmemInfo {
    /// Reads the counters of a TCP socket.
    pub fn of(sock: &impl AsRawFd) -> io::Result<Self> {
        let mut info = Self::default();
        let mut len = std::mem::size_of::<Self>() as libc::socklen_t;
        // SAFETY: `info` is a plain C struct of `len` bytes, valid for writes.
        let rc = unsafe {
            libc::getsockopt(
                sock.as_raw_fd(),
                libc::SOL_TCP,
                TCP_NICMEM_INFO,
                (&mut info as *mut Self).cast(),
                &mut len,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(info)
    }

    /// The non-zero fallback reasons as `(name, bytes)`.
    pub fn fallback_reasons(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        FALLBACK_REASONS
            .iter()
            .zip(self.fallback.iter())
            .filter(|(_, &b)| b != 0)
            .map(|(&n, &b)| (n, b))
    }
}

/// `send(2)` with flags; returns the number of bytes accepted.
pub fn send(sock: &impl AsRawFd, buf: &[u8], flags: i32) -> io::Result<usize> {
    loop {
        // SAFETY: `buf` is valid for reads of `buf.len()` bytes.
        let n = unsafe { libc::send(sock.as_raw_fd(), buf.as_ptr().cast(), buf.len(), flags) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// `setsockopt(2)` with an `int` value.
pub fn setsockopt_int(sock: &impl AsRawFd, level: i32, opt: i32, v: i32) -> io::Result<()> {
    // SAFETY: `v` is an `i32`, valid for reads of its size.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            level,
            opt,
            (&v as *const i32).cast(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The exit code of a command-line tool named `tool` that ended with `r`,
/// printing the error if there is one.
pub fn exit_code(tool: &str, r: io::Result<()>) -> std::process::ExitCode {
    match r {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{tool}: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Sends all of `buf`, like Python's `socket.sendall(data, flags)`.
pub fn send_all(sock: &impl AsRawFd, mut buf: &[u8], flags: i32) -> io::Result<()> {
    while !buf.is_empty() {
        let n = send(sock, buf, flags)?;
        buf = &buf[n..];
    }
    Ok(())
}

/// A cheap deterministic byte pattern (xorshift64*), so that the sender and
/// the tests can regenerate a stream without storing it.
pub struct Pattern(u64);

impl Pattern {
    /// The pattern stream of `seed`; every seed has its own stream.
    pub fn new(seed: u64) -> Self {
        // One splitmix64 step: a bijection of the seed, so no two seeds share
        // a state, but for the one seed whose step gives xorshift's forbidden
        // state 0: it takes 1, as the seed whose step gives 1 does.
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        Self(if z == 0 { 1 } else { z })
    }

    /// Fills `buf` with the next bytes of the stream.
    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            let v = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn struct_layout_matches_the_kernel() {
        // struct tcp_nicmem_info: 2 + 8 u64 counters, then the resident bytes.
        assert_eq!(std::mem::size_of::<TcpNicmemInfo>(), 88);
    }

    #[test]
    fn msg_nicmem_is_the_seed_flag() {
        assert_eq!(MSG_NICMEM, 0x8000000);
    }

    #[test]
    fn pattern_is_deterministic_and_not_constant() {
        let (mut a, mut b) = ([0u8; 64], [0u8; 64]);
        Pattern::new(7).fill(&mut a);
        Pattern::new(7).fill(&mut b);
        assert_eq!(a, b);
        assert!(a.iter().any(|&x| x != a[0]));
        let mut c = [0u8; 64];
        Pattern::new(8).fill(&mut c);
        assert_ne!(a, c);
    }

    #[test]
    fn every_seed_is_its_own_stream() {
        // Tests give flow i the seed base+i: neighbouring seeds (0 and 1,
        // 6 and 7) must not send the same bytes, or a crossed stream passes.
        let streams: Vec<[u8; 32]> = (0..128u64)
            .map(|seed| {
                let mut b = [0u8; 32];
                Pattern::new(seed).fill(&mut b);
                b
            })
            .collect();
        for (i, a) in streams.iter().enumerate() {
            for (j, b) in streams.iter().enumerate().skip(i + 1) {
                assert_ne!(a, b, "seeds {i} and {j} give the same stream");
            }
        }
    }

    #[test]
    fn fallback_reasons_lists_only_nonzero() {
        let mut info = TcpNicmemInfo::default();
        info.fallback[1] = 10;
        info.fallback[5] = 3;
        let v: Vec<_> = info.fallback_reasons().collect();
        assert_eq!(v, vec![("loopback", 10), ("nomem", 3)]);
    }

    #[test]
    fn send_all_over_a_socketpair() {
        use std::io::Read;
        use std::os::unix::net::UnixStream;
        let (a, mut b) = UnixStream::pair().unwrap();
        let data: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        let d2 = data.clone();
        let t = std::thread::spawn(move || send_all(&a, &d2, 0).unwrap());
        let mut got = vec![0u8; data.len()];
        b.read_exact(&mut got).unwrap();
        t.join().unwrap();
        assert_eq!(got, data);
    }
}

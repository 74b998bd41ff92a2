// SPDX-License-Identifier: GPL-2.0
//! `nicmem-bench`: the benchmark's own TCP_STREAM, for the mode netperf
//! cannot do (MSG_ZEROCOPY needs its completions read from the error queue)
//! and for all three modes side by side.
//!
//! ```text
//! nicmem-bench sink <addr:port>
//!     accept connections forever, discard what they send
//! nicmem-bench stream <addr:port> --mode plain|nicmem|zerocopy --size S --seconds T
//!     send S-byte messages for T seconds, print one CSV line:
//!     mode,size,bytes,seconds,mbit_s,cpu_util_pct,service_demand_us_per_kb,nicmem_bytes,fallback_bytes
//! ```
//! CPU is measured like `netperf -c`: system-wide busy time from
//! /proc/stat over the run; service demand is CPU microseconds per KiB sent.

use libnicmem::{exit_code, send, setsockopt_int, TcpNicmemInfo, MSG_NICMEM};
use std::io::{self, Read};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Busy and total jiffies of all CPUs from a /proc/stat "cpu" line.
fn cpu_times(stat: &str) -> Option<(u64, u64)> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    if v.len() < 5 {
        return None;
    }
    let total: u64 = v.iter().take(8).sum();
    // idle + iowait are not busy.
    let idle = v[3] + v.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

fn read_cpu() -> (u64, u64) {
    std::fs::read_to_string("/proc/stat")
        .ok()
        .as_deref()
        .and_then(cpu_times)
        .unwrap_or((0, 0))
}

/// Service demand in microseconds of CPU per KiB: `busy` of `total` jiffies
/// over `secs` seconds on `ncpu` CPUs, for `bytes` sent.
fn service_demand(busy: u64, total: u64, secs: f64, ncpu: u32, bytes: u64) -> (f64, f64) {
    if total == 0 || bytes == 0 {
        return (0.0, 0.0);
    }
    let util = busy as f64 / total as f64;
    let cpu_us = util * secs * f64::from(ncpu) * 1e6;
    (util * 100.0, cpu_us / (bytes as f64 / 1024.0))
}

fn sink(addr: &str) -> io::Result<()> {
    let l = TcpListener::bind(addr)?;
    println!("sink on {}", l.local_addr()?);
    for s in l.incoming() {
        let mut s = s?;
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 1 << 20];
            while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
        });
    }
    Ok(())
}

/// `ee_origin` of MSG_ZEROCOPY completions (include/uapi/linux/errqueue.h).
const SO_EE_ORIGIN_ZEROCOPY: u8 = 5;

/// Reads MSG_ZEROCOPY completions; returns how many sends completed.
fn drain_errqueue(s: &TcpStream) -> u64 {
    let mut done = 0u64;
    loop {
        let mut control = [0u64; 16];
        // SAFETY: all-zero msghdr is valid; we point it at `control`.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control);
        // SAFETY: `msg` is valid; MSG_ERRQUEUE reads no data.
        let r = unsafe {
            libc::recvmsg(
                s.as_raw_fd(),
                &mut msg,
                libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT,
            )
        };
        if r < 0 {
            return done;
        }
        // SAFETY: the kernel filled `msg`; CMSG_FIRSTHDR walks its control.
        let cm = unsafe { libc::CMSG_FIRSTHDR(&msg) };
        if !cm.is_null() {
            // SAFETY: the cmsg of a zerocopy completion carries a sock_extended_err.
            let err = unsafe { &*(libc::CMSG_DATA(cm) as *const libc::sock_extended_err) };
            if err.ee_origin == SO_EE_ORIGIN_ZEROCOPY {
                done += u64::from(err.ee_data.wrapping_sub(err.ee_info)) + 1;
            }
        }
    }
}

fn stream(addr: &str, mode: &str, size: usize, seconds: f64) -> io::Result<()> {
    let s = TcpStream::connect(addr)?;
    let flags = match mode {
        "plain" => 0,
        "nicmem" => MSG_NICMEM,
        "zerocopy" => {
            setsockopt_int(&s, libc::SOL_SOCKET, libc::SO_ZEROCOPY, 1)?;
            libc::MSG_ZEROCOPY
        }
        other => return Err(io::Error::other(format!("unknown mode {other}"))),
    };
    let buf: Vec<u8> = (0..size).map(|i| (i * 7 + 3) as u8).collect();
    let ncpu = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    let (b0, t0) = read_cpu();
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(seconds);
    let (mut bytes, mut sends, mut completed) = (0u64, 0u64, 0u64);
    while Instant::now() < end {
        match send(&s, &buf, flags) {
            Ok(n) => {
                bytes += n as u64;
                sends += 1;
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {}
            Err(e) => return Err(e),
        }
        if flags == libc::MSG_ZEROCOPY && sends % 32 == 0 {
            completed += drain_errqueue(&s);
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let (b1, t1) = read_cpu();
    if flags == libc::MSG_ZEROCOPY {
        completed += drain_errqueue(&s);
    }
    let info = TcpNicmemInfo::of(&s).unwrap_or_default();
    let (util, sd) = service_demand(b1 - b0, t1 - t0, secs, ncpu, bytes);
    println!(
        "{mode},{size},{bytes},{secs:.3},{:.2},{util:.1},{sd:.3},{},{}",
        bytes as f64 * 8.0 / secs / 1e6,
        info.bytes,
        info.fallback_bytes
    );
    if flags == libc::MSG_ZEROCOPY {
        eprintln!("zerocopy: {sends} sends, {completed} completions read");
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let get = |k: &str| {
        args.iter()
            .position(|a| a == k)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let r = match (args.first().map(String::as_str), args.get(1)) {
        (Some("sink"), Some(addr)) => sink(addr),
        (Some("stream"), Some(addr)) => {
            let size = get("--size").and_then(|v| v.parse().ok()).unwrap_or(65536);
            let secs = get("--seconds").and_then(|v| v.parse().ok()).unwrap_or(5.0);
            let mode = get("--mode").unwrap_or_else(|| "plain".into());
            stream(addr, &mode, size, secs)
        }
        _ => {
            eprintln!("usage: nicmem-bench sink <addr:port> | stream <addr:port> --mode M --size S --seconds T");
            return ExitCode::from(2);
        }
    };
    exit_code("nicmem-bench", r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_stat() {
        let stat = "cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3 4 5\n";
        assert_eq!(cpu_times(stat), Some((150, 1000)));
        assert_eq!(cpu_times("intr 5\n"), None);
    }

    #[test]
    fn service_demand_is_cpu_us_per_kib() {
        // 50% of 2 CPUs for 2 s = 2 CPU-seconds for 2048 KiB: ~976.6 us/KiB.
        let (util, sd) = service_demand(50, 100, 2.0, 2, 2048 * 1024);
        assert!((util - 50.0).abs() < 1e-9);
        assert!((sd - 2e6 / 2048.0).abs() < 1e-6);
        assert_eq!(service_demand(0, 0, 1.0, 1, 10), (0.0, 0.0));
    }
}

// SPDX-License-Identifier: GPL-2.0
//! `nicmem-bench`: the benchmark's own sender, for the mode netperf cannot
//! do (MSG_ZEROCOPY needs its completions read from the error queue), for
//! all three modes side by side, and for the instruction counts of
//! `scripts/nicmem bench` (fixed work between two markers that the QEMU
//! plugin `bench/insn/nicmem-insn.c` counts).
//!
//! ```text
//! nicmem-bench sink <addr:port>
//!     accept connections forever, discard what they send, close at EOF
//! nicmem-bench echo <addr:port>
//!     accept connections forever, send back what they send
//! nicmem-bench stream <addr:port> --mode plain|nicmem|zerocopy --size S --seconds T
//!     send S-byte messages for T seconds, print one CSV line:
//!     mode,size,bytes,seconds,mbit_s,cpu_util_pct,service_demand_us_per_kb,nicmem_bytes,fallback_bytes
//! nicmem-bench count <addr:port> --mode M --size S --bytes N
//!     to a sink: marker 1, N bytes in S-byte sends, until the sink has
//!     them all (its FIN), marker 2; print one CSV line:
//!     mode,size,bytes,sends,nicmem_bytes,fallback_bytes,zc_copied_sends
//! nicmem-bench rr <addr:port> --mode M --size S --transactions T
//!     to an echo server: marker 1, T transactions of S bytes each way,
//!     marker 2; print mode,size,transactions,nicmem_bytes,fallback_bytes
//! ```
//! CPU is measured like `netperf -c`: system-wide busy time from
//! /proc/stat over the run; service demand is CPU microseconds per KiB sent.

use libnicmem::marker;
use libnicmem::zerocopy::Completions;
use libnicmem::{exit_code, send, setsockopt_int, TcpNicmemInfo, MSG_NICMEM};
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
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

fn echo(addr: &str) -> io::Result<()> {
    let l = TcpListener::bind(addr)?;
    println!("echo on {}", l.local_addr()?);
    for s in l.incoming() {
        let mut s = s?;
        s.set_nodelay(true)?;
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 1 << 20];
            while let Ok(n @ 1..) = s.read(&mut buf) {
                if s.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        });
    }
    Ok(())
}

/// The send flags of a mode; sets SO_ZEROCOPY for "zerocopy".
fn mode_flags(s: &TcpStream, mode: &str) -> io::Result<i32> {
    match mode {
        "plain" => Ok(0),
        "nicmem" => Ok(MSG_NICMEM),
        "zerocopy" => {
            setsockopt_int(s, libc::SOL_SOCKET, libc::SO_ZEROCOPY, 1)?;
            Ok(libc::MSG_ZEROCOPY)
        }
        other => Err(io::Error::other(format!("unknown mode {other}"))),
    }
}

/// Sends all of `buf`; with MSG_ZEROCOPY, waits for completions when the
/// socket runs out of option memory (ENOBUFS) instead of spinning.
fn send_all(s: &TcpStream, buf: &[u8], flags: i32, zc: &mut Completions) -> io::Result<u64> {
    let mut off = 0;
    let mut sends = 0;
    while off < buf.len() {
        match send(s, &buf[off..], flags) {
            Ok(n) => {
                off += n;
                sends += 1;
                zc.sent();
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) && flags == libc::MSG_ZEROCOPY => {
                zc.wait_some(s)?;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(sends)
}

fn stream(addr: &str, mode: &str, size: usize, seconds: f64) -> io::Result<()> {
    let s = TcpStream::connect(addr)?;
    let flags = mode_flags(&s, mode)?;
    let buf = payload(size);
    let mut zc = Completions::for_flags(flags);
    let ncpu = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    let (b0, t0) = read_cpu();
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(seconds);
    let mut bytes = 0u64;
    while Instant::now() < end {
        send_all(&s, &buf, flags, &mut zc)?;
        bytes += size as u64;
        zc.drain(&s)?;
    }
    let secs = start.elapsed().as_secs_f64();
    let (b1, t1) = read_cpu();
    zc.wait_all(&s)?;
    let info = TcpNicmemInfo::of(&s).unwrap_or_default();
    let (util, sd) = service_demand(b1 - b0, t1 - t0, secs, ncpu, bytes);
    println!(
        "{mode},{size},{bytes},{secs:.3},{:.2},{util:.1},{sd:.3},{},{}",
        bytes as f64 * 8.0 / secs / 1e6,
        info.bytes,
        info.fallback_bytes
    );
    if flags == libc::MSG_ZEROCOPY {
        eprintln!("{zc}");
    }
    Ok(())
}

/// The message every mode sends: the same bytes, so that runs compare.
fn payload(size: usize) -> Vec<u8> {
    (0..size).map(|i| (i * 7 + 3) as u8).collect()
}

/// Fixed work between the markers: `bytes` in `size`-byte sends, and
/// everything the kernel does until the sink has them all.
fn count(addr: &str, mode: &str, size: usize, bytes: u64) -> io::Result<()> {
    let mut s = TcpStream::connect(addr)?;
    let flags = mode_flags(&s, mode)?;
    let buf = payload(size);
    let mut zc = Completions::for_flags(flags);
    let (mut sent, mut sends) = (0u64, 0u64);
    marker::start();
    while sent < bytes {
        let n = buf.len().min((bytes - sent) as usize);
        sends += send_all(&s, &buf[..n], flags, &mut zc)?;
        sent += n as u64;
        if sends % 64 == 0 {
            zc.drain(&s)?;
        }
    }
    s.shutdown(Shutdown::Write)?;
    // The sink closes once it has read everything: its FIN follows the
    // ACK of our last byte.
    let mut b = [0u8; 1];
    while s.read(&mut b)? > 0 {}
    zc.wait_all(&s)?;
    marker::end();
    let info = TcpNicmemInfo::of(&s).unwrap_or_default();
    println!(
        "{mode},{size},{sent},{sends},{},{},{}",
        info.bytes, info.fallback_bytes, zc.copied
    );
    Ok(())
}

/// Fixed work between the markers: `transactions` request/response pairs
/// of `size` bytes with an echo server.
fn rr(addr: &str, mode: &str, size: usize, transactions: u64) -> io::Result<()> {
    let mut s = TcpStream::connect(addr)?;
    s.set_nodelay(true)?;
    let flags = mode_flags(&s, mode)?;
    let buf = payload(size);
    let mut back = vec![0u8; size];
    let mut zc = Completions::for_flags(flags);
    marker::start();
    for _ in 0..transactions {
        send_all(&s, &buf, flags, &mut zc)?;
        s.read_exact(&mut back)?;
        zc.drain(&s)?;
    }
    zc.wait_all(&s)?;
    marker::end();
    if back != buf {
        return Err(io::Error::other("echo returned other bytes"));
    }
    let info = TcpNicmemInfo::of(&s).unwrap_or_default();
    println!(
        "{mode},{size},{transactions},{},{}",
        info.bytes, info.fallback_bytes
    );
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
        (Some("echo"), Some(addr)) => echo(addr),
        (Some(cmd @ ("stream" | "count" | "rr")), Some(addr)) => {
            let num = |k: &str, d: u64| get(k).and_then(|v| v.parse().ok()).unwrap_or(d);
            let size = num("--size", 65536).max(1) as usize;
            let mode = get("--mode").unwrap_or_else(|| "plain".into());
            match cmd {
                "stream" => {
                    let secs = get("--seconds").and_then(|v| v.parse().ok()).unwrap_or(5.0);
                    stream(addr, &mode, size, secs)
                }
                "count" => count(addr, &mode, size, num("--bytes", 8 << 20)),
                _ => rr(addr, &mode, size, num("--transactions", 1000)),
            }
        }
        _ => {
            eprintln!(
                "usage: nicmem-bench sink|echo <addr:port>\n       \
                 nicmem-bench stream <addr:port> --mode M --size S --seconds T\n       \
                 nicmem-bench count <addr:port> --mode M --size S --bytes N\n       \
                 nicmem-bench rr <addr:port> --mode M --size S --transactions T"
            );
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

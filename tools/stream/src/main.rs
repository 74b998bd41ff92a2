// SPDX-License-Identifier: GPL-2.0
//! `nicmem-stream`: a hashed TCP stream for the tests.
//!
//! ```text
//! nicmem-stream recv <addr:port> [--once]
//!     accept a connection, read to EOF, print "recv bytes=N sha256=H"
//! nicmem-stream send <addr:port> --bytes N [--chunk C] [--flags plain|nicmem|zerocopy]
//!                   [--seed S] [--pause-after B --pause-ms M]
//!     send N pattern bytes, print "send bytes=N sha256=H" and the socket's
//!     NIC memory counters ("nicmem bytes=.. fallback=.. reason=bytes ...")
//! ```
//! The pattern comes from `libnicmem::Pattern`, so the payload can also be
//! searched for in the NIC memory backing file (`--print-pattern`).

use libnicmem::{send_all, Pattern, TcpNicmemInfo, MSG_NICMEM};
use sha2::{Digest, Sha256};
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::time::{Duration, Instant};

struct Args {
    cmd: String,
    addr: String,
    bytes: u64,
    chunk: usize,
    flags: i32,
    seed: u64,
    pause_after: u64,
    pause_ms: u64,
    print_pattern: bool,
    rcvbuf: Option<i32>,
}

fn parse() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let cmd = it.next().ok_or("missing command (send|recv)")?;
    let addr = it.next().ok_or("missing address")?;
    let mut a = Args {
        cmd,
        addr,
        bytes: 1 << 20,
        chunk: 64 * 1024,
        flags: MSG_NICMEM,
        seed: 1,
        pause_after: 0,
        pause_ms: 0,
        print_pattern: false,
        rcvbuf: None,
    };
    while let Some(opt) = it.next() {
        let mut val = || it.next().ok_or(format!("{opt} needs a value"));
        match opt.as_str() {
            "--bytes" => a.bytes = num(&val()?)?,
            "--chunk" => a.chunk = num(&val()?)? as usize,
            "--seed" => a.seed = num(&val()?)?,
            "--pause-after" => a.pause_after = num(&val()?)?,
            "--pause-ms" => a.pause_ms = num(&val()?)?,
            "--rcvbuf" => a.rcvbuf = Some(num(&val()?)? as i32),
            "--print-pattern" => a.print_pattern = true,
            "--flags" => {
                a.flags = match val()?.as_str() {
                    "plain" => 0,
                    "nicmem" => MSG_NICMEM,
                    "zerocopy" => libc::MSG_ZEROCOPY,
                    other => return Err(format!("unknown --flags {other}")),
                }
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    if a.chunk == 0 {
        return Err("--chunk must be > 0".into());
    }
    Ok(a)
}

/// Parses a number with an optional K/M/G suffix (powers of 1024).
fn num(s: &str) -> Result<u64, String> {
    let (digits, mult) = match s.chars().last() {
        Some('K' | 'k') => (&s[..s.len() - 1], 1u64 << 10),
        Some('M' | 'm') => (&s[..s.len() - 1], 1 << 20),
        Some('G' | 'g') => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    digits
        .parse::<u64>()
        .map(|v| v * mult)
        .map_err(|e| format!("bad number {s}: {e}"))
}

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

fn recv(a: &Args) -> io::Result<()> {
    let l = TcpListener::bind(&a.addr)?;
    println!("listening {}", l.local_addr()?);
    io::stdout().flush()?;
    let (mut s, _) = l.accept()?;
    if let Some(sz) = a.rcvbuf {
        setsockopt_int(&s, libc::SOL_SOCKET, libc::SO_RCVBUF, sz)?;
    }
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = s.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        total += n as u64;
        if a.pause_after != 0 && total >= a.pause_after && a.pause_ms != 0 {
            // Stop reading once, so the sender's data stays in flight.
            println!("paused at {total}");
            io::stdout().flush()?;
            std::thread::sleep(Duration::from_millis(a.pause_ms));
            println!("resumed");
            io::stdout().flush()?;
            // Only once.
            return finish_recv(s, h, total, buf);
        }
    }
    println!("recv bytes={total} sha256={}", hex(&h.finalize()));
    Ok(())
}

fn finish_recv(mut s: TcpStream, mut h: Sha256, mut total: u64, mut buf: Vec<u8>) -> io::Result<()> {
    loop {
        let n = s.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        total += n as u64;
    }
    println!("recv bytes={total} sha256={}", hex(&h.finalize()));
    Ok(())
}

fn setsockopt_int(s: &TcpStream, level: i32, opt: i32, v: i32) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: `v` is an i32 valid for reads of its size.
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
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

fn send(a: &Args) -> io::Result<()> {
    let s = TcpStream::connect(&a.addr)?;
    if a.flags == libc::MSG_ZEROCOPY {
        setsockopt_int(&s, libc::SOL_SOCKET, libc::SO_ZEROCOPY, 1)?;
    }
    let mut pat = Pattern::new(a.seed);
    let mut h = Sha256::new();
    let mut buf = vec![0u8; a.chunk];
    if a.print_pattern {
        let mut p = Pattern::new(a.seed);
        let mut first = vec![0u8; 64];
        p.fill(&mut first);
        println!("pattern {}", hex(&first));
        io::stdout().flush()?;
    }
    let t0 = Instant::now();
    let mut left = a.bytes;
    while left > 0 {
        let n = left.min(a.chunk as u64) as usize;
        pat.fill(&mut buf[..n]);
        h.update(&buf[..n]);
        send_all(&s, &buf[..n], a.flags)?;
        left -= n as u64;
    }
    let info = TcpNicmemInfo::of(&s);
    s.shutdown(std::net::Shutdown::Write)?;
    // Wait for the peer to close, so that all data is acknowledged.
    let mut sink = [0u8; 64];
    let mut rs = &s;
    while rs.read(&mut sink)? > 0 {}
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "send bytes={} sha256={} seconds={secs:.3} mbit_s={:.1}",
        a.bytes,
        hex(&h.finalize()),
        a.bytes as f64 * 8.0 / secs / 1e6
    );
    match info {
        Ok(i) => {
            let reasons: Vec<String> = i
                .fallback_reasons()
                .map(|(n, b)| format!("{n}={b}"))
                .collect();
            println!(
                "nicmem bytes={} fallback={} {}",
                i.bytes,
                i.fallback_bytes,
                reasons.join(" ")
            );
        }
        Err(e) => println!("nicmem unavailable ({e})"),
    }
    Ok(())
}

fn main() -> ExitCode {
    let a = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("nicmem-stream: {e}");
            return ExitCode::from(2);
        }
    };
    let r = match a.cmd.as_str() {
        "send" => send(&a),
        "recv" => recv(&a),
        other => {
            eprintln!("nicmem-stream: unknown command {other}");
            return ExitCode::from(2);
        }
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nicmem-stream: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_with_suffixes() {
        assert_eq!(num("12").unwrap(), 12);
        assert_eq!(num("4K").unwrap(), 4096);
        assert_eq!(num("256M").unwrap(), 256 << 20);
        assert_eq!(num("1g").unwrap(), 1 << 30);
        assert!(num("x").is_err());
    }

    #[test]
    fn hex_encoding() {
        assert_eq!(hex(&[0, 0xab, 0x10]), "00ab10");
    }
}

// SPDX-License-Identifier: GPL-2.0
//! `nicmem-stream`: a hashed TCP stream for the tests.
//!
//! ```text
//! nicmem-stream recv <addr:port> [--rcvbuf B] [--delay-ms M]
//!     accept one connection, wait M ms before reading (so that the sender's
//!     data stays in flight), read to EOF, print "recv bytes=N sha256=H"
//! nicmem-stream send <addr:port> --bytes N [--chunk C] [--flags plain|nicmem|zerocopy]
//!                   [--seed S] [--sndbuf B]
//!     send N pattern bytes, print "send bytes=N sha256=H ..." and the
//!     socket's counters ("nicmem bytes=.. fallback=.. reason=bytes ...")
//! nicmem-stream pattern - --seed S --offset O --len L
//!     print L bytes of the pattern from offset O, in hex
//! ```
//! The payload is `libnicmem::Pattern`, so a test can look for any piece of
//! a stream in the NIC memory backing file.

use libnicmem::{exit_code, send_all, setsockopt_int, Pattern, TcpNicmemInfo, MSG_NICMEM};
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
    delay_ms: u64,
    offset: u64,
    len: u64,
    rcvbuf: Option<i32>,
    sndbuf: Option<i32>,
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
        delay_ms: 0,
        offset: 0,
        len: 64,
        rcvbuf: None,
        sndbuf: None,
    };
    while let Some(opt) = it.next() {
        let mut val = || it.next().ok_or(format!("{opt} needs a value"));
        match opt.as_str() {
            "--bytes" => a.bytes = num(&val()?)?,
            "--chunk" => a.chunk = num(&val()?)? as usize,
            "--seed" => a.seed = num(&val()?)?,
            "--delay-ms" => a.delay_ms = num(&val()?)?,
            "--offset" => a.offset = num(&val()?)?,
            "--len" => a.len = num(&val()?)?,
            "--rcvbuf" => a.rcvbuf = Some(num(&val()?)? as i32),
            "--sndbuf" => a.sndbuf = Some(num(&val()?)? as i32),
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
    if let Some(sz) = a.rcvbuf {
        // Set on the listener, so that the window is small from the start.
        setsockopt_int(&l, libc::SOL_SOCKET, libc::SO_RCVBUF, sz)?;
    }
    println!("listening {}", l.local_addr()?);
    io::stdout().flush()?;
    let (mut s, _) = l.accept()?;
    if a.delay_ms != 0 {
        std::thread::sleep(Duration::from_millis(a.delay_ms));
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
    }
    println!("recv bytes={total} sha256={}", hex(&h.finalize()));
    Ok(())
}

/// The pattern bytes `[offset, offset + len)` of stream `seed`.
fn pattern_at(seed: u64, offset: u64, len: u64) -> Vec<u8> {
    let mut p = Pattern::new(seed);
    let mut skip = vec![0u8; 64 * 1024];
    let mut left = offset;
    while left > 0 {
        let n = left.min(skip.len() as u64) as usize;
        p.fill(&mut skip[..n]);
        left -= n as u64;
    }
    let mut out = vec![0u8; len as usize];
    p.fill(&mut out);
    out
}

fn send(a: &Args) -> io::Result<()> {
    let s = TcpStream::connect(&a.addr)?;
    if let Some(sz) = a.sndbuf {
        setsockopt_int(&s, libc::SOL_SOCKET, libc::SO_SNDBUF, sz)?;
    }
    if a.flags == libc::MSG_ZEROCOPY {
        setsockopt_int(&s, libc::SOL_SOCKET, libc::SO_ZEROCOPY, 1)?;
    }
    let mut pat = Pattern::new(a.seed);
    let mut h = Sha256::new();
    let mut buf = vec![0u8; a.chunk];
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
        "pattern" => {
            println!("{}", hex(&pattern_at(a.seed, a.offset, a.len)));
            Ok(())
        }
        other => {
            eprintln!("nicmem-stream: unknown command {other}");
            return ExitCode::from(2);
        }
    };
    exit_code("nicmem-stream", r)
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
    fn pattern_at_offset_matches_the_stream() {
        let mut whole = vec![0u8; 200_000];
        Pattern::new(3).fill(&mut whole);
        assert_eq!(pattern_at(3, 0, 64), whole[..64].to_vec());
        // Offsets that are multiples of 8 line up with the generator.
        assert_eq!(
            pattern_at(3, 131_072, 100),
            whole[131_072..131_172].to_vec()
        );
    }

    #[test]
    fn hex_encoding() {
        assert_eq!(hex(&[0, 0xab, 0x10]), "00ab10");
    }
}

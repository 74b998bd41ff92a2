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
//! `--flows F` (send and recv) runs F flows on the ports `port .. port+F-1`
//! in one process, flow `i` with seed `S+i`; every output line is then
//! prefixed with `port P: `, and the exit status is a failure if any flow
//! failed. Many flows cost one process start instead of many, which counts on
//! a slow (debug, emulated) test guest.
//!
//! The payload is `libnicmem::Pattern`, so a test can look for any piece of
//! a stream in the NIC memory backing file.

use libnicmem::{exit_code, send_all, setsockopt_int, Pattern, TcpNicmemInfo, MSG_NICMEM};
use sha2::{Digest, Sha256};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::thread;
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
    flows: u16,
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
        flows: 1,
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
            "--flows" => {
                a.flows = u16::try_from(num(&val()?)?)
                    .ok()
                    .filter(|f| *f > 0)
                    .ok_or("--flows must be 1 to 65535")?
            }
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

fn listen(a: &Args, addr: SocketAddr) -> io::Result<TcpListener> {
    let l = TcpListener::bind(addr)?;
    if let Some(sz) = a.rcvbuf {
        // Set on the listener, so that the window is small from the start.
        setsockopt_int(&l, libc::SOL_SOCKET, libc::SO_RCVBUF, sz)?;
    }
    Ok(l)
}

/// Accepts one connection on `l` and reads it to EOF.
fn recv_one(a: &Args, l: TcpListener) -> io::Result<Vec<String>> {
    let (mut s, _) = l.accept()?;
    drop(l);
    if a.delay_ms != 0 {
        thread::sleep(Duration::from_millis(a.delay_ms));
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
    Ok(vec![format!(
        "recv bytes={total} sha256={}",
        hex(&h.finalize())
    )])
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

/// Sends `a.bytes` of pattern `seed` to `addr` and waits for the peer's EOF.
fn send_one(a: &Args, addr: SocketAddr, seed: u64) -> io::Result<Vec<String>> {
    let s = TcpStream::connect(addr)?;
    if let Some(sz) = a.sndbuf {
        setsockopt_int(&s, libc::SOL_SOCKET, libc::SO_SNDBUF, sz)?;
    }
    if a.flags == libc::MSG_ZEROCOPY {
        setsockopt_int(&s, libc::SOL_SOCKET, libc::SO_ZEROCOPY, 1)?;
    }
    let mut pat = Pattern::new(seed);
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
    let mut out = vec![format!(
        "send bytes={} sha256={} seconds={secs:.3} mbit_s={:.1}",
        a.bytes,
        hex(&h.finalize()),
        a.bytes as f64 * 8.0 / secs / 1e6
    )];
    out.push(match info {
        Ok(i) => {
            let reasons: Vec<String> = i
                .fallback_reasons()
                .map(|(n, b)| format!("{n}={b}"))
                .collect();
            format!(
                "nicmem bytes={} fallback={} {}",
                i.bytes,
                i.fallback_bytes,
                reasons.join(" ")
            )
        }
        Err(e) => format!("nicmem unavailable ({e})"),
    });
    Ok(out)
}

/// The address of flow `i`: `a.addr` with its port moved up by `i`.
fn flow_addr(base: SocketAddr, i: u16) -> io::Result<SocketAddr> {
    let port = base
        .port()
        .checked_add(i)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "port range past 65535"))?;
    Ok(SocketAddr::new(base.ip(), port))
}

/// Runs `a.flows` flows of `cmd` in threads; one flow runs in this thread and
/// prints as the single-flow tool always has.
fn run(a: &Args) -> io::Result<()> {
    let base = a.addr.to_socket_addrs()?.next().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, "address resolves to nothing")
    })?;
    let receiving = a.cmd == "recv";
    let mut listeners = Vec::new();
    if receiving {
        // Every port listens before the first line is printed.
        for i in 0..a.flows {
            let l = listen(a, flow_addr(base, i)?)?;
            println!("listening {}", l.local_addr()?);
            listeners.push(l);
        }
        io::stdout().flush()?;
    }
    if a.flows == 1 {
        let out = match listeners.pop() {
            Some(l) => recv_one(a, l)?,
            None => send_one(a, base, a.seed)?,
        };
        out.iter().for_each(|l| println!("{l}"));
        return Ok(());
    }
    let t0 = Instant::now();
    type Flow = (u16, io::Result<Vec<String>>, Duration);
    let results: Vec<Flow> = thread::scope(|sc| {
        let mut handles = Vec::new();
        let mut listeners = listeners.into_iter();
        for i in 0..a.flows {
            let addr = flow_addr(base, i)?;
            let l = listeners.next();
            let seed = a.seed.wrapping_add(u64::from(i));
            handles.push((
                addr.port(),
                sc.spawn(move || {
                    let r = match l {
                        Some(l) => recv_one(a, l),
                        None => send_one(a, addr, seed),
                    };
                    (r, t0.elapsed())
                }),
            ));
        }
        Ok::<_, io::Error>(
            handles
                .into_iter()
                .map(|(port, h)| {
                    let (r, t) = h.join().unwrap_or_else(|_| {
                        (Err(io::Error::other("flow thread panicked")), t0.elapsed())
                    });
                    (port, r, t)
                })
                .collect(),
        )
    })?;
    let mut failed = 0;
    for (port, r, t) in results {
        match r {
            Ok(lines) => lines.iter().for_each(|l| println!("port {port}: {l}")),
            Err(e) => {
                println!("port {port}: nicmem-stream: {e}");
                failed += 1;
            }
        }
        // When each flow ended tells where a slow run spent its time.
        println!("port {port}: ended after {:.3} s", t.as_secs_f64());
    }
    if failed > 0 {
        return Err(io::Error::other(format!(
            "{failed} of {} flows failed",
            a.flows
        )));
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
        "send" | "recv" => run(&a),
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
    fn flow_ports_count_up_and_stop_at_the_top() {
        let base: SocketAddr = "10.0.0.2:7400".parse().unwrap();
        assert_eq!(flow_addr(base, 63).unwrap().to_string(), "10.0.0.2:7463");
        let top: SocketAddr = "[::1]:65535".parse().unwrap();
        assert!(flow_addr(top, 0).is_ok());
        assert!(flow_addr(top, 1).is_err());
    }

    #[test]
    fn hex_encoding() {
        assert_eq!(hex(&[0, 0xab, 0x10]), "00ab10");
    }
}

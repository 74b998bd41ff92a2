// SPDX-License-Identifier: GPL-2.0
//! `nicmem-kv-load`: GET load on a memcached-protocol server (the real
//! memcached or `nicmem-kv-server`), every value compared with what was
//! stored.
//!
//! ```text
//! nicmem-kv-load ADDR:PORT --value-size S [--keys K] [--conns C]
//!                [--seconds T | --requests N] [--seed X] [--no-set] [--markers]
//! ```
//! First `set`s keys `kv:0` .. `kv:K-1` (default 64) to S-byte values
//! (libnicmem's pattern, seed X+i) unless `--no-set`, then C connections
//! (default 1) each send one GET at a time of a key drawn at random
//! (seeded) for T seconds (default 5) or N requests in all. Prints one line:
//!
//! ```text
//! gets=R misses=M mismatches=B seconds=T rps=X p50_us=A p99_us=B value_bytes=V
//! ```
//! and fails if a GET missed or returned other bytes, or a connection broke.
//! `--markers` brackets the GETs (connections made, values set) with the
//! markers that the benchmark's instruction counter counts between.

use libnicmem::{exit_code, marker, Pattern};
use nicmem_kv::client::Client;
use std::io;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Barrier;
use std::time::{Duration, Instant};

struct Args {
    addr: String,
    size: usize,
    keys: usize,
    conns: usize,
    seconds: f64,
    requests: Option<u64>,
    seed: u64,
    set: bool,
    markers: bool,
}

fn usage() -> io::Error {
    io::Error::other(
        "usage: nicmem-kv-load ADDR:PORT --value-size S [--keys K] [--conns C] [--seconds T | --requests N] [--seed X] [--no-set] [--markers]",
    )
}

fn parse_args() -> io::Result<Args> {
    let mut a = Args {
        addr: String::new(),
        size: 0,
        keys: 64,
        conns: 1,
        seconds: 5.0,
        requests: None,
        seed: 1,
        set: true,
        markers: false,
    };
    let mut size = None;
    let mut it = std::env::args().skip(1);
    while let Some(x) = it.next() {
        let mut val = || it.next().ok_or_else(usage);
        fn bad<E>(_: E) -> io::Error {
            usage()
        }
        match x.as_str() {
            "--value-size" => size = Some(val()?.parse().map_err(bad)?),
            "--keys" => a.keys = val()?.parse().map_err(bad)?,
            "--conns" => a.conns = val()?.parse().map_err(bad)?,
            "--seconds" => a.seconds = val()?.parse().map_err(bad)?,
            "--requests" => a.requests = Some(val()?.parse().map_err(bad)?),
            "--seed" => a.seed = val()?.parse().map_err(bad)?,
            "--no-set" => a.set = false,
            "--markers" => a.markers = true,
            s if !s.starts_with('-') && a.addr.is_empty() => a.addr = s.to_string(),
            _ => return Err(usage()),
        }
    }
    a.size = size.ok_or_else(usage)?;
    if a.addr.is_empty() || a.keys == 0 || a.conns == 0 {
        return Err(usage());
    }
    Ok(a)
}

fn key(i: usize) -> String {
    format!("kv:{i}")
}

/// The value of key `i`.
fn value(seed: u64, i: usize, size: usize) -> Vec<u8> {
    let mut v = vec![0u8; size];
    Pattern::new(seed.wrapping_add(i as u64)).fill(&mut v);
    v
}

/// xorshift64: which key each GET asks for.
fn next(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

/// The `p`-th percentile of sorted `v`.
fn percentile(v: &[u64], p: f64) -> u64 {
    if v.is_empty() {
        return 0;
    }
    let i = ((v.len() as f64 * p / 100.0).ceil() as usize).clamp(1, v.len()) - 1;
    v[i]
}

struct Totals {
    misses: AtomicU64,
    mismatches: AtomicU64,
    value_bytes: AtomicU64,
}

/// One connection's closed loop, started when all are connected (`go`:
/// everyone connected, then the main thread's start marker); returns its
/// latencies in nanoseconds.
fn conn(
    a: &Args,
    values: &[Vec<u8>],
    n: usize,
    quota: Option<u64>,
    t: &Totals,
    go: &Barrier,
) -> io::Result<Vec<u64>> {
    let c = Client::connect(&a.addr);
    go.wait();
    go.wait();
    let mut c = c?;
    let mut rng = a.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (n as u64 + 1);
    let mut lat = Vec::with_capacity(1 << 16);
    let deadline = Instant::now() + Duration::from_secs_f64(a.seconds);
    let keys: Vec<String> = (0..a.keys).map(key).collect();
    loop {
        if quota.map_or(Instant::now() >= deadline, |q| lat.len() as u64 >= q) {
            return Ok(lat);
        }
        let i = (next(&mut rng) % a.keys as u64) as usize;
        let t0 = Instant::now();
        let got = c.get(&[keys[i].as_bytes()])?;
        lat.push(t0.elapsed().as_nanos() as u64);
        match got.as_slice() {
            [v] if v.key == keys[i].as_bytes() && v.data == values[i] => {
                t.value_bytes.fetch_add(v.data.len() as u64, Relaxed);
            }
            [] => {
                t.misses.fetch_add(1, Relaxed);
            }
            _ => {
                t.mismatches.fetch_add(1, Relaxed);
            }
        }
    }
}

fn run() -> io::Result<()> {
    let a = parse_args()?;
    let values: Vec<Vec<u8>> = (0..a.keys).map(|i| value(a.seed, i, a.size)).collect();
    if a.set {
        let mut c = Client::connect(&a.addr)?;
        for (i, v) in values.iter().enumerate() {
            if !c.set(key(i).as_bytes(), 0, v)? {
                return Err(io::Error::other(format!(
                    "set {} ({} bytes) not stored",
                    key(i),
                    v.len()
                )));
            }
        }
    }
    let t = Totals {
        misses: AtomicU64::new(0),
        mismatches: AtomicU64::new(0),
        value_bytes: AtomicU64::new(0),
    };
    let go = Barrier::new(a.conns + 1);
    let mut start = Instant::now();
    let results: Vec<io::Result<Vec<u64>>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..a.conns)
            .map(|n| {
                let quota = a
                    .requests
                    .map(|r| r / a.conns as u64 + u64::from((n as u64) < r % a.conns as u64));
                let (a, values, t, go) = (&a, &values, &t, &go);
                s.spawn(move || conn(a, values, n, quota, t, go))
            })
            .collect();
        go.wait();
        if a.markers {
            marker::start();
        }
        start = Instant::now();
        go.wait();
        let r = hs
            .into_iter()
            .map(|h| h.join().expect("connection thread"))
            .collect();
        if a.markers {
            marker::end();
        }
        r
    });
    let secs = start.elapsed().as_secs_f64();
    let mut lat = Vec::new();
    for r in results {
        lat.extend(r?);
    }
    lat.sort_unstable();
    let (misses, mismatches) = (t.misses.load(Relaxed), t.mismatches.load(Relaxed));
    println!(
        "gets={} misses={misses} mismatches={mismatches} seconds={secs:.3} rps={:.0} p50_us={:.1} p99_us={:.1} value_bytes={}",
        lat.len(),
        lat.len() as f64 / secs,
        percentile(&lat, 50.0) as f64 / 1e3,
        percentile(&lat, 99.0) as f64 / 1e3,
        t.value_bytes.load(Relaxed)
    );
    if misses + mismatches > 0 {
        return Err(io::Error::other(format!(
            "{misses} misses, {mismatches} wrong values"
        )));
    }
    Ok(())
}

fn main() -> ExitCode {
    exit_code("nicmem-kv-load", run())
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn percentiles_of_a_known_list() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), 50);
        assert_eq!(percentile(&v, 99.0), 99);
        assert_eq!(percentile(&v, 100.0), 100);
        assert_eq!(percentile(&[7], 99.0), 7);
        assert_eq!(percentile(&[], 50.0), 0);
    }
}

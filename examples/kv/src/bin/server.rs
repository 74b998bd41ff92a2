// SPDX-License-Identifier: GPL-2.0
//! `nicmem-kv-server`: a memcached-protocol key-value server whose GET
//! replies leave with plain send, MSG_NICMEM or MSG_ZEROCOPY.
//!
//! ```text
//! nicmem-kv-server [--listen ADDR:PORT] [--send plain|nicmem|zerocopy|resident]
//!                  [--memory MiB] [--max-item BYTES] [--max-conns N]
//!                  [--resident-dev IFACE] [--resident-kib KiB]
//! ```
//! Defaults: `[::]:11211`, plain, 64 MiB, 1 MiB, 1024 (as memcached's `-m`,
//! `-I`, `-c`). `--send resident` keeps values in an arena of IFACE's NIC
//! memory (`--resident-kib`, 4096 by default) while it has room, and sends
//! them from there by reference.
//! One thread per connection. It prints `listening on ADDR` once ready.

use nicmem_kv::resident::Pool;
use nicmem_kv::{spawn_conn, Config, Mode, Store};
use std::io;
use std::net::TcpListener;
use std::process::ExitCode;
use std::sync::Arc;

fn usage() -> io::Error {
    io::Error::other(
        "usage: nicmem-kv-server [--listen ADDR:PORT] [--send plain|nicmem|zerocopy|resident] [--memory MiB] [--max-item BYTES] [--max-conns N] [--resident-dev IFACE] [--resident-kib KiB]",
    )
}

fn run() -> io::Result<()> {
    let mut cfg = Config::default();
    let mut listen = "[::]:11211".to_string();
    let mut resident_dev = None;
    let mut resident_kib = 4096usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or_else(usage);
        match a.as_str() {
            "--listen" => listen = val()?,
            "--send" => {
                let v = val()?;
                cfg.mode = Mode::from_name(&v)
                    .ok_or_else(|| io::Error::other(format!("unknown send mode {v}")))?;
            }
            "--memory" => {
                cfg.memory = val()?.parse::<usize>().map_err(|_| usage())? << 20;
            }
            "--max-item" => cfg.max_item = val()?.parse().map_err(|_| usage())?,
            "--max-conns" => cfg.max_conns = val()?.parse().map_err(|_| usage())?,
            "--resident-dev" => resident_dev = Some(val()?),
            "--resident-kib" => resident_kib = val()?.parse().map_err(|_| usage())?,
            "-h" | "--help" => {
                println!("{}", usage());
                return Ok(());
            }
            _ => return Err(usage()),
        }
    }
    let pool = match (cfg.mode, resident_dev) {
        (Mode::Resident, Some(dev)) => Some(Pool::on_device(&dev, resident_kib << 10).map_err(|e| {
            io::Error::new(e.kind(), format!("no resident NIC memory on {dev}: {e}"))
        })?),
        (Mode::Resident, None) => {
            return Err(io::Error::other("--send resident needs --resident-dev IFACE (the device whose NIC memory holds the values)"))
        }
        _ => None,
    };
    let l = TcpListener::bind(&listen)?;
    println!(
        "listening on {} (send {}{})",
        l.local_addr()?,
        cfg.mode.name(),
        pool.as_ref().map_or(String::new(), |p| format!(
            ", {} KiB of resident NIC memory",
            p.len() >> 10
        ))
    );
    let store = Arc::new(Store::with_pool(cfg, pool));
    for s in l.incoming() {
        let s = match s {
            Ok(s) => s,
            Err(e) => {
                eprintln!("nicmem-kv-server: accept: {e}");
                continue;
            }
        };
        spawn_conn(&store, s);
    }
    Ok(())
}

fn main() -> ExitCode {
    libnicmem::exit_code("nicmem-kv-server", run())
}

// SPDX-License-Identifier: GPL-2.0
//! Echo client: `nicmem-echo-client <addr:port> [message]` sends the message
//! with MSG_NICMEM, reads the echo back, checks it, and prints the socket's
//! NIC memory counters.

use libnicmem::{send_all, TcpNicmemInfo, MSG_NICMEM};
use std::io::Read;
use std::net::TcpStream;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(addr) = args.next() else {
        eprintln!("usage: nicmem-echo-client <addr:port> [message]");
        return ExitCode::from(2);
    };
    let msg = args
        .next()
        .unwrap_or_else(|| "hello from NIC memory".into());
    match run(&addr, msg.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nicmem-echo-client: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(addr: &str, msg: &[u8]) -> std::io::Result<()> {
    let mut s = TcpStream::connect(addr)?;
    send_all(&s, msg, MSG_NICMEM)?;
    let mut echo = vec![0u8; msg.len()];
    s.read_exact(&mut echo)?;
    if echo != msg {
        return Err(std::io::Error::other("echo differs from what was sent"));
    }
    println!("echoed: {}", String::from_utf8_lossy(&echo));
    let info = TcpNicmemInfo::of(&s)?;
    println!(
        "socket counters: nicmem_bytes={} fallback_bytes={}",
        info.bytes, info.fallback_bytes
    );
    for (reason, bytes) in info.fallback_reasons() {
        println!("  fallback {reason}: {bytes} bytes");
    }
    Ok(())
}

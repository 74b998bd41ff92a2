// SPDX-License-Identifier: GPL-2.0
//! Echo server: `nicmem-echo-server [addr:port]` echoes every connection back
//! (sending with MSG_NICMEM too, so the echo also leaves from NIC memory when
//! the server's NIC has some; elsewhere it is a plain send).

use libnicmem::{send_all, MSG_NICMEM};
use std::io::Read;
use std::net::{TcpListener, TcpStream};

fn serve(mut s: TcpStream) -> std::io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = s.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        send_all(&s, &buf[..n], MSG_NICMEM)?;
    }
}

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "[::]:7777".into());
    let l = TcpListener::bind(&addr)?;
    println!("echo server on {}", l.local_addr()?);
    for s in l.incoming() {
        let s = s?;
        std::thread::spawn(move || {
            if let Err(e) = serve(s) {
                eprintln!("echo server: {e}");
            }
        });
    }
    Ok(())
}

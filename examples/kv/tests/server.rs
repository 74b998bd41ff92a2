// SPDX-License-Identifier: GPL-2.0
//! The server against its own client over loopback, in every send mode
//! (on loopback MSG_NICMEM falls back to host memory and MSG_ZEROCOPY
//! copies: what is checked here is the protocol and the bytes).

use nicmem_kv::client::{Client, Value};
use nicmem_kv::resident::Pool;
use nicmem_kv::{spawn_conn, Config, Mode, Store};
use std::net::TcpListener;
use std::sync::Arc;

/// Resident mode on a host without NIC memory: a pool of host memory of
/// this many bytes stands in for the arena.
const POOL: usize = 2 << 20;

fn server_with(cfg: Config) -> String {
    server_pool(cfg, POOL)
}

fn server_pool(cfg: Config, pool: usize) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let pool = (cfg.mode == Mode::Resident).then(|| Pool::on_heap(pool));
    let store = Arc::new(Store::with_pool(cfg, pool));
    std::thread::spawn(move || {
        for s in l.incoming() {
            spawn_conn(&store, s.unwrap());
        }
    });
    addr
}

fn server(mode: Mode) -> String {
    server_with(Config {
        mode,
        max_item: 1 << 20,
        memory: 8 << 20,
        ..Config::default()
    })
}

const MODES: [Mode; 4] = [Mode::Plain, Mode::Nicmem, Mode::Zerocopy, Mode::Resident];

fn value(seed: u64, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    libnicmem::Pattern::new(seed).fill(&mut v);
    v
}

#[test]
fn set_then_get_returns_the_same_bytes() {
    for mode in MODES {
        let mut c = Client::connect(&server(mode)).unwrap();
        for (i, len) in [0, 1, 64, 1000, 16 << 10, 1 << 20].into_iter().enumerate() {
            let key = format!("k{i}");
            let v = value(i as u64, len);
            assert!(
                c.set(key.as_bytes(), i as u32, &v).unwrap(),
                "{mode:?} set {len}"
            );
            let got = c.get(&[key.as_bytes()]).unwrap();
            assert_eq!(
                got,
                vec![Value {
                    key: key.into_bytes(),
                    flags: i as u32,
                    data: v
                }],
                "{mode:?} value of {len} bytes"
            );
        }
        // Several keys in one GET, a miss among them.
        let got = c.get(&[b"k1", b"nope", b"k2"]).unwrap();
        assert_eq!(
            got.iter().map(|v| &v.key[..]).collect::<Vec<_>>(),
            [b"k1", b"k2"]
        );
    }
}

#[test]
fn a_set_replaces_and_delete_removes() {
    let mut c = Client::connect(&server(Mode::Zerocopy)).unwrap();
    assert!(c.set(b"a", 0, b"one").unwrap());
    assert!(c.set(b"a", 0, b"two!").unwrap());
    assert_eq!(c.get(&[b"a"]).unwrap()[0].data, b"two!");
    assert!(c.delete(b"a").unwrap());
    assert!(!c.delete(b"a").unwrap());
    assert!(c.get(&[b"a"]).unwrap().is_empty());
}

#[test]
fn pipelined_commands_get_their_replies_in_order() {
    let mut c = Client::connect(&server(Mode::Nicmem)).unwrap();
    c.send(b"set x 5 0 2 noreply\r\nhi\r\nget x\r\nbogus\r\nset y 0 0 1\r\nz\r\nget x y\r\n")
        .unwrap();
    assert_eq!(
        c.values().unwrap(),
        vec![Value {
            key: b"x".to_vec(),
            flags: 5,
            data: b"hi".to_vec()
        }]
    );
    assert_eq!(c.line().unwrap(), b"ERROR");
    assert_eq!(c.line().unwrap(), b"STORED");
    assert_eq!(c.values().unwrap().len(), 2);
}

#[test]
fn errors_are_memcacheds() {
    let addr = server(Mode::Plain);
    let mut c = Client::connect(&addr).unwrap();
    // Too large: refused, its data read past, the connection still works.
    let big = vec![b'x'; (1 << 20) + 1];
    assert!(!c.set(b"big", 0, &big).unwrap());
    assert!(c.set(b"small", 0, b"ok").unwrap());
    // Past the memory limit (8 MiB): refused.
    let mib = vec![b'y'; 1 << 20];
    let stored = (0..10)
        .filter(|i| c.set(format!("m{i}").as_bytes(), 0, &mib).unwrap())
        .count();
    assert_eq!(stored, 7);
    // Expired at once.
    c.send(b"set gone 0 -1 1\r\nx\r\n").unwrap();
    assert_eq!(c.line().unwrap(), b"STORED");
    assert!(c.get(&[b"gone"]).unwrap().is_empty());
    c.send(b"stats\r\n").unwrap();
    let mut stats = Vec::new();
    loop {
        let l = c.line().unwrap();
        if l == b"END" {
            break;
        }
        stats.push(String::from_utf8(l).unwrap());
    }
    assert!(
        stats.contains(&"STAT curr_items 9".to_string()),
        "{stats:?}"
    );
    // A data block without its CRLF: an error, then the server closes.
    c.send(b"set k 0 0 1\r\nxy\r\n").unwrap();
    assert_eq!(c.line().unwrap(), b"CLIENT_ERROR bad data chunk");
    assert!(c.line().is_err());
    // A line that never ends: the same.
    let mut c = Client::connect(&addr).unwrap();
    c.send(&[b'g'; 4096]).unwrap();
    assert_eq!(c.line().unwrap(), b"CLIENT_ERROR line too long");
    assert!(c.line().is_err());
}

#[test]
fn connections_past_the_limit_are_told_and_closed() {
    let addr = server_with(Config {
        max_conns: 2,
        ..Config::default()
    });
    let mut a = Client::connect(&addr).unwrap();
    let mut b = Client::connect(&addr).unwrap();
    assert!(a.set(b"k", 0, b"v").unwrap());
    assert!(b.set(b"k", 0, b"w").unwrap());
    let mut c = Client::connect(&addr).unwrap();
    assert_eq!(c.line().unwrap(), b"SERVER_ERROR Too many open connections");
    assert!(c.line().is_err());
    // One goes, and a new one is served once the server has seen it go.
    a.send(b"quit\r\n").unwrap();
    assert!(a.line().is_err());
    drop(a);
    let served = (0..100).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(20));
        let mut d = Client::connect(&addr).unwrap();
        d.set(b"k", 0, b"x").unwrap()
    });
    assert!(served, "no connection served after one of two went");
}

/// The value of `STAT <name>` from a `stats` command.
fn stat(c: &mut Client, name: &str) -> u64 {
    c.send(b"stats\r\n").unwrap();
    let mut v = None;
    loop {
        let l = String::from_utf8(c.line().unwrap()).unwrap();
        if l == "END" {
            return v.unwrap();
        }
        if let Some(x) = l.strip_prefix(&format!("STAT {name} ")) {
            v = x.parse().ok();
        }
    }
}

#[test]
fn a_zerocopy_connection_ends_when_its_client_goes() {
    let addr = server(Mode::Zerocopy);
    let mut c = Client::connect(&addr).unwrap();
    let v = value(7, 4096);
    assert!(c.set(b"z", 0, &v).unwrap());
    for _ in 0..500 {
        assert_eq!(c.get(&[b"z"]).unwrap()[0].data, v);
    }
    drop(c);
    // Its completions come once the client has acknowledged everything:
    // the server's thread for it must end soon after, not wait (or spin)
    // on a socket that poll() reports hung up.
    let mut s = Client::connect(&addr).unwrap();
    let t0 = std::time::Instant::now();
    while stat(&mut s, "curr_connections") > 1 {
        assert!(
            t0.elapsed().as_secs() < 5,
            "the zerocopy connection is still served 5 s after its client went"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn a_resident_value_is_not_overwritten_while_a_reply_may_still_send_it() {
    // Room for two 20000-byte values (and END) in the pool.
    let addr = server_pool(
        Config {
            mode: Mode::Resident,
            ..Config::default()
        },
        2 * 20032 + 64,
    );
    let mut a = Client::connect(&addr).unwrap();
    let (v1, v2, v3) = (
        value(1, 20000 - 24),
        value(2, 20000 - 24),
        value(3, 20000 - 24),
    );
    assert!(a.set(b"key", 0, &v1).unwrap());
    assert_eq!(stat(&mut a, "resident_items"), 1);
    // A GET on another connection: the kernel may send its reply again
    // (retransmit) until the client acknowledged it, so the connection
    // keeps the item, and its NIC memory, until it knows.
    let mut b = Client::connect(&addr).unwrap();
    assert_eq!(b.get(&[b"key"]).unwrap()[0].data, v1);
    assert!(a.set(b"key", 0, &v2).unwrap());
    assert!(a.set(b"key", 0, &v3).unwrap());
    assert_eq!(
        stat(&mut a, "resident_items"),
        2,
        "v1's memory was reused while a reply still referred to it"
    );
    assert_eq!(a.get(&[b"key"]).unwrap()[0].data, v3, "v3 from host memory");
    // Once that connection ends (its replies acknowledged), it is free.
    drop(b);
    let t0 = std::time::Instant::now();
    loop {
        assert!(a.set(b"key", 0, &v1).unwrap());
        if stat(&mut a, "resident_items") == 3 {
            break;
        }
        assert!(t0.elapsed().as_secs() < 5, "v1's memory never came back");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(a.get(&[b"key"]).unwrap()[0].data, v1);
}

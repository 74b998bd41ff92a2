// SPDX-License-Identifier: GPL-2.0
//! A key-value server speaking the memcached text protocol, whose GET
//! replies leave with plain `send()`, `MSG_NICMEM` or `MSG_ZEROCOPY`, so that
//! the three can be compared on one workload against the real memcached.
//!
//! Items are immutable once stored: a `set` makes a new item and the old one
//! lives on while a reply (or a MSG_ZEROCOPY transmit) still uses it, so a
//! GET never sends bytes that change under it. In resident mode, values live
//! in NIC memory ([`resident`]) and GETs send them from there by reference.

pub mod client;
pub mod protocol;
pub mod resident;

use libnicmem::zerocopy::Completions;
use libnicmem::MSG_NICMEM;
use protocol::{parse, Cmd, Parse};
use resident::{Pool, Slot};
use std::collections::{HashMap, VecDeque};
use std::io::{self, Read};
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

/// How GET replies are sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `sendmsg()` of the item's memory, as memcached does.
    Plain,
    /// `sendmsg(..., MSG_NICMEM)`: the kernel copies the reply into NIC
    /// memory (host memory where the route has none, counted).
    Nicmem,
    /// `sendmsg(..., MSG_ZEROCOPY)`: the NIC reads the item's pages; the
    /// item is kept until the kernel reports the send complete.
    Zerocopy,
    /// Values live in NIC memory (an arena) and GETs send them from there
    /// with `MSG_NICMEM`, by reference; values that do not fit are sent from
    /// host memory as in `Nicmem` mode.
    Resident,
}

impl Mode {
    /// The mode called `name` (`plain`, `nicmem`, `zerocopy`).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "plain" => Some(Mode::Plain),
            "nicmem" => Some(Mode::Nicmem),
            "zerocopy" => Some(Mode::Zerocopy),
            "resident" => Some(Mode::Resident),
            _ => None,
        }
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Plain => "plain",
            Mode::Nicmem => "nicmem",
            Mode::Zerocopy => "zerocopy",
            Mode::Resident => "resident",
        }
    }

    fn flags(self) -> i32 {
        match self {
            Mode::Plain => 0,
            Mode::Nicmem | Mode::Resident => MSG_NICMEM,
            Mode::Zerocopy => libc::MSG_ZEROCOPY,
        }
    }
}

/// Server settings.
#[derive(Clone, Debug)]
pub struct Config {
    /// How GET replies are sent.
    pub mode: Mode,
    /// Largest value a `set` may store (memcached's `-I`, 1 MiB by default).
    pub max_item: usize,
    /// Bytes of values the store may hold (memcached's `-m`); a `set` past
    /// it is refused (no eviction).
    pub memory: usize,
    /// Most connections served at once (memcached's `-c`); more are told
    /// so and closed.
    pub max_conns: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            mode: Mode::Plain,
            max_item: 1 << 20,
            memory: 64 << 20,
            max_conns: 1024,
        }
    }
}

/// One stored value, with its reply header made once.
pub struct Item {
    /// `VALUE <key> <flags> <bytes>\r\n` (empty when resident).
    head: Box<[u8]>,
    /// The value and its trailing `\r\n` (empty when resident).
    data: Box<[u8]>,
    /// Head, value, `\r\n` and `END\r\n` in NIC memory, for a resident
    /// item.
    slot: Option<Slot>,
    /// Bytes of the value and its `\r\n`, for the memory limit.
    size: usize,
    expires: Option<Instant>,
}

impl Item {
    fn new(key: &[u8], flags: u32, exptime: i64, value: &[u8], pool: Option<&Arc<Pool>>) -> Self {
        let mut head = b"VALUE ".to_vec();
        head.extend_from_slice(key);
        head.extend_from_slice(format!(" {flags} {}\r\n", value.len()).as_bytes());
        let expires = expiry(exptime);
        let size = value.len() + 2;
        if let Some(slot) = pool.and_then(|p| p.store(&[&head, value, b"\r\nEND\r\n"])) {
            return Item {
                head: Box::default(),
                data: Box::default(),
                slot: Some(slot),
                size,
                expires,
            };
        }
        let mut data = Vec::with_capacity(size);
        data.extend_from_slice(value);
        data.extend_from_slice(b"\r\n");
        Item {
            head: head.into(),
            data: data.into(),
            slot: None,
            size,
            expires,
        }
    }

    fn live(&self, now: Instant) -> bool {
        self.expires.is_none_or(|e| now < e)
    }
}

/// memcached's expiration time: 0 never, up to 30 days relative, else a
/// Unix time; negative means already expired.
fn expiry(exptime: i64) -> Option<Instant> {
    const MONTH: i64 = 60 * 60 * 24 * 30;
    let now = Instant::now();
    let secs = match exptime {
        0 => return None,
        e if e < 0 => return Some(now),
        e if e <= MONTH => e,
        e => {
            let unix = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            (e - unix).max(0)
        }
    };
    Some(now + Duration::from_secs(secs as u64))
}

/// Counters, as `stats` reports them.
#[derive(Default)]
pub struct Stats {
    pub cmd_get: AtomicU64,
    pub get_hits: AtomicU64,
    pub get_misses: AtomicU64,
    pub cmd_set: AtomicU64,
    pub total_items: AtomicU64,
    pub curr_connections: AtomicU64,
    pub total_connections: AtomicU64,
    /// MSG_ZEROCOPY sends the kernel copied after all.
    pub zerocopy_copied: AtomicU64,
    /// Items stored in NIC memory (resident mode).
    pub resident_items: AtomicU64,
}

/// The items, shared by all connections.
pub struct Store {
    cfg: Config,
    pool: Option<Arc<Pool>>,
    items: RwLock<HashMap<Box<[u8]>, Arc<Item>>>,
    bytes: AtomicU64,
    started: Instant,
    pub stats: Stats,
}

impl Store {
    /// An empty store.
    pub fn new(cfg: Config) -> Self {
        Self::with_pool(cfg, None)
    }

    /// An empty store whose values go to `pool` while it has room (resident
    /// mode).
    pub fn with_pool(cfg: Config, pool: Option<Arc<Pool>>) -> Self {
        Store {
            cfg,
            pool,
            items: RwLock::new(HashMap::new()),
            bytes: AtomicU64::new(0),
            started: Instant::now(),
            stats: Stats::default(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    fn get(&self, key: &[u8]) -> Option<Arc<Item>> {
        let items = self.items.read().unwrap_or_else(|e| e.into_inner());
        let it = items.get(key)?;
        it.live(Instant::now()).then(|| it.clone())
    }

    fn set(&self, key: &[u8], flags: u32, exptime: i64, value: &[u8]) -> bool {
        let size = value.len() as u64 + 2;
        {
            let items = self.items.read().unwrap_or_else(|e| e.into_inner());
            let old = items.get(key).map_or(0, |o| o.size as u64);
            if self.bytes.load(Relaxed) - old + size > self.cfg.memory as u64 {
                return false;
            }
        }
        // Written (into NIC memory, in resident mode) outside the lock.
        let item = Arc::new(Item::new(key, flags, exptime, value, self.pool.as_ref()));
        let mut items = self.items.write().unwrap_or_else(|e| e.into_inner());
        let old = items.get(key).map_or(0, |o| o.size as u64);
        let used = self.bytes.load(Relaxed) - old;
        if used + size > self.cfg.memory as u64 {
            return false;
        }
        self.bytes.store(used + size, Relaxed);
        if item.slot.is_some() {
            self.stats.resident_items.fetch_add(1, Relaxed);
        }
        items.insert(key.into(), item);
        self.stats.total_items.fetch_add(1, Relaxed);
        true
    }

    fn delete(&self, key: &[u8]) -> bool {
        let mut items = self.items.write().unwrap_or_else(|e| e.into_inner());
        let Some(old) = items.remove(key) else {
            return false;
        };
        self.bytes.fetch_sub(old.size as u64, Relaxed);
        old.live(Instant::now())
    }

    fn flush(&self) {
        let mut items = self.items.write().unwrap_or_else(|e| e.into_inner());
        items.clear();
        self.bytes.store(0, Relaxed);
    }

    fn stats_text(&self) -> Vec<u8> {
        let items = self.items.read().unwrap_or_else(|e| e.into_inner()).len();
        let s = &self.stats;
        let mut t = String::new();
        for (k, v) in [
            ("pid", u64::from(std::process::id())),
            ("uptime", self.started.elapsed().as_secs()),
            ("curr_connections", s.curr_connections.load(Relaxed)),
            ("total_connections", s.total_connections.load(Relaxed)),
            ("cmd_get", s.cmd_get.load(Relaxed)),
            ("get_hits", s.get_hits.load(Relaxed)),
            ("get_misses", s.get_misses.load(Relaxed)),
            ("cmd_set", s.cmd_set.load(Relaxed)),
            ("curr_items", items as u64),
            ("total_items", s.total_items.load(Relaxed)),
            ("bytes", self.bytes.load(Relaxed)),
            ("limit_maxbytes", self.cfg.memory as u64),
            ("zerocopy_copied", s.zerocopy_copied.load(Relaxed)),
            ("resident_items", s.resident_items.load(Relaxed)),
            (
                "resident_pool_bytes",
                self.pool.as_ref().map_or(0, |p| p.len() as u64),
            ),
            (
                "resident_free_bytes",
                self.pool.as_ref().map_or(0, |p| p.free_bytes() as u64),
            ),
        ] {
            t.push_str(&format!("STAT {k} {v}\r\n"));
        }
        t.push_str(&format!(
            "STAT send_mode {}\r\nEND\r\n",
            self.cfg.mode.name()
        ));
        t.into_bytes()
    }
}

/// A piece of a reply.
#[derive(Clone)]
enum Piece {
    Static(&'static [u8]),
    Owned(Arc<[u8]>),
    Head(Arc<Item>),
    Data(Arc<Item>),
    /// A resident item's reply in NIC memory, with `END\r\n` (the last
    /// value of a GET) or without.
    Resident(Arc<Item>, bool),
}

impl Piece {
    fn bytes(&self) -> &[u8] {
        match self {
            Piece::Static(b) => b,
            Piece::Owned(v) => v,
            Piece::Head(i) => &i.head,
            Piece::Data(i) => &i.data,
            Piece::Resident(i, end) => i.slot.as_ref().map_or(&[], |s| {
                let b = s.bytes();
                &b[..b.len() - if *end { 0 } else { 5 }]
            }),
        }
    }
}

/// Most iovecs per sendmsg() (the kernel's UIO_MAXIOV).
const IOV_MAX: usize = 1024;

/// The replies of one connection, sent in batches: all replies to what one
/// read brought in go out in one `sendmsg()` (as memcached does).
struct Output {
    mode: Mode,
    pieces: Vec<Piece>,
    /// Whether the batch holds item data (else it is sent plainly).
    has_data: bool,
    zc: Completions,
    /// MSG_ZEROCOPY sends the kernel may still read: (send id, the
    /// pieces it sent, kept alive until its completion).
    pending: VecDeque<(u32, Vec<Piece>)>,
    next_id: u32,
    /// Bytes handed to the kernel on this connection.
    sent: u64,
    /// Resident mode: items whose NIC memory the kernel may still send
    /// (for a retransmit) until the peer acknowledged the byte before
    /// `.0`; kept so that their slots are not written meanwhile.
    unacked: VecDeque<(u64, Arc<Item>)>,
}

/// Resident replies kept before asking the kernel which were acknowledged.
const UNACKED_REPLIES: usize = 64;

/// SIOCOUTQ: bytes the peer has not acknowledged yet.
fn unacked_bytes(s: &TcpStream) -> io::Result<u64> {
    let mut n: libc::c_int = 0;
    // SAFETY: TIOCOUTQ (SIOCOUTQ) writes one int.
    if unsafe { libc::ioctl(s.as_raw_fd(), libc::TIOCOUTQ, &mut n) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as u64)
}

impl Output {
    fn new(mode: Mode) -> Self {
        Output {
            mode,
            pieces: Vec::new(),
            has_data: false,
            zc: Completions::for_flags(mode.flags()),
            pending: VecDeque::new(),
            next_id: 0,
            sent: 0,
            unacked: VecDeque::new(),
        }
    }

    fn push(&mut self, p: Piece) {
        self.has_data |= matches!(p, Piece::Data(_) | Piece::Resident(..));
        self.pieces.push(p);
    }

    /// Lets go of the resident items the peer acknowledged.
    fn reap_acked(&mut self, s: &TcpStream) -> io::Result<()> {
        let acked = self.sent - unacked_bytes(s)?;
        while self.unacked.front().is_some_and(|(end, _)| *end <= acked) {
            self.unacked.pop_front();
        }
        Ok(())
    }

    /// Reads completions without blocking and lets go of the items of
    /// completed sends.
    fn reap(&mut self, s: &TcpStream, stats: &Stats) -> io::Result<()> {
        let before = self.zc.copied;
        let pending = &mut self.pending;
        self.zc.drain_ranges(s, |lo, hi| {
            pending.retain(|(id, _)| id.wrapping_sub(lo) > hi.wrapping_sub(lo));
        })?;
        stats
            .zerocopy_copied
            .fetch_add(self.zc.copied - before, Relaxed);
        Ok(())
    }

    /// Sends the batch.
    fn flush(&mut self, s: &TcpStream, stats: &Stats) -> io::Result<()> {
        let flags = if self.has_data { self.mode.flags() } else { 0 };
        let zerocopy = flags & libc::MSG_ZEROCOPY != 0;
        let mut first = 0;
        let mut off = 0;
        while first < self.pieces.len() {
            let iov: Vec<libc::iovec> = self.pieces[first..]
                .iter()
                .take(IOV_MAX)
                .enumerate()
                .map(|(i, p)| {
                    let b = &p.bytes()[if i == 0 { off } else { 0 }..];
                    libc::iovec {
                        iov_base: b.as_ptr() as *mut libc::c_void,
                        iov_len: b.len(),
                    }
                })
                .collect();
            // SAFETY: an all-zero msghdr is valid.
            let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
            msg.msg_iov = iov.as_ptr() as *mut libc::iovec;
            msg.msg_iovlen = iov.len() as _;
            // SAFETY: `msg` points at `iov`, whose entries point into
            // `self.pieces`, alive and unchanged for the call; with
            // MSG_ZEROCOPY the items stay referenced in `self.pending`
            // until their completion.
            let n = unsafe { libc::sendmsg(s.as_raw_fd(), &msg, flags | libc::MSG_NOSIGNAL) };
            if n < 0 {
                let e = io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::EINTR) => continue,
                    Some(libc::ENOBUFS) if zerocopy => {
                        self.zc.wait(s)?;
                        self.reap(s, stats)?;
                        continue;
                    }
                    _ => return Err(e),
                }
            }
            self.sent += n as u64;
            if zerocopy {
                self.zc.sent();
                let sent = self.pieces[first..].iter().take(IOV_MAX).cloned().collect();
                self.pending.push_back((self.next_id, sent));
                self.next_id = self.next_id.wrapping_add(1);
            }
            let mut n = n as usize;
            while first < self.pieces.len() && n >= self.pieces[first].bytes().len() - off {
                n -= self.pieces[first].bytes().len() - off;
                first += 1;
                off = 0;
            }
            off += n;
        }
        if self.mode == Mode::Resident {
            for p in self.pieces.drain(..) {
                if let Piece::Resident(it, _) = p {
                    self.unacked.push_back((self.sent, it));
                }
            }
            if self.unacked.len() >= UNACKED_REPLIES {
                self.reap_acked(s)?;
            }
        }
        self.pieces.clear();
        self.has_data = false;
        if zerocopy {
            self.reap(s, stats)?;
        }
        Ok(())
    }

    /// At the end of a connection: waits (up to 30 s) until the kernel no
    /// longer reads any piece. Pieces of sends still not complete then are
    /// leaked rather than freed under a transmit.
    fn finish(mut self, s: &TcpStream, stats: &Stats) {
        if !self.unacked.is_empty() {
            let deadline = Instant::now() + Duration::from_secs(30);
            while self.reap_acked(s).is_ok()
                && !self.unacked.is_empty()
                && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            if !self.unacked.is_empty() {
                eprintln!(
                    "nicmem-kv: {} resident replies not acknowledged after 30 s; their NIC memory is leaked",
                    self.unacked.len()
                );
                std::mem::forget(std::mem::take(&mut self.unacked));
            }
        }
        if self.pending.is_empty() {
            return;
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.pending.is_empty() && Instant::now() < deadline {
            if self.zc.wait(s).is_err() || self.reap(s, stats).is_err() {
                break;
            }
        }
        if !self.pending.is_empty() {
            eprintln!(
                "nicmem-kv: {} MSG_ZEROCOPY sends not complete after 30 s; their buffers are leaked",
                self.pending.len()
            );
            std::mem::forget(std::mem::take(&mut self.pending));
        }
    }
}

/// What executing a command asks of the connection.
enum Next {
    Go,
    Close,
}

fn execute(store: &Store, cmd: Cmd<'_>, out: &mut Output) -> Next {
    let st = &store.stats;
    let reply = |out: &mut Output, noreply: bool, r: &'static [u8]| {
        if !noreply {
            out.push(Piece::Static(r));
        }
    };
    match cmd {
        Cmd::Get(keys) => {
            let first = out.pieces.len();
            for k in keys {
                st.cmd_get.fetch_add(1, Relaxed);
                match store.get(k) {
                    Some(it) if it.slot.is_some() => {
                        st.get_hits.fetch_add(1, Relaxed);
                        out.push(Piece::Resident(it, false));
                    }
                    Some(it) => {
                        st.get_hits.fetch_add(1, Relaxed);
                        out.push(Piece::Head(it.clone()));
                        out.push(Piece::Data(it));
                    }
                    None => {
                        st.get_misses.fetch_add(1, Relaxed);
                    }
                }
            }
            // A reply that ends with a resident value ends with the END
            // stored after it: one piece, sent by reference.
            let hit = out.pieces.len() > first;
            match out.pieces.last_mut() {
                Some(Piece::Resident(_, end)) if hit => *end = true,
                _ => out.push(Piece::Static(b"END\r\n")),
            }
        }
        Cmd::Set {
            key,
            flags,
            exptime,
            data,
            noreply,
        } => {
            st.cmd_set.fetch_add(1, Relaxed);
            if store.set(key, flags, exptime, data) {
                reply(out, noreply, b"STORED\r\n");
            } else {
                reply(
                    out,
                    noreply,
                    b"SERVER_ERROR out of memory storing object\r\n",
                );
            }
        }
        Cmd::Delete { key, noreply } => {
            let r: &[u8] = if store.delete(key) {
                b"DELETED\r\n"
            } else {
                b"NOT_FOUND\r\n"
            };
            reply(out, noreply, r);
        }
        Cmd::FlushAll { noreply } => {
            store.flush();
            reply(out, noreply, b"OK\r\n");
        }
        Cmd::Stats => out.push(Piece::Owned(store.stats_text().into())),
        Cmd::Version => out.push(Piece::Owned(
            format!("VERSION nicmem-kv {}\r\n", env!("CARGO_PKG_VERSION"))
                .into_bytes()
                .into(),
        )),
        Cmd::Quit => return Next::Close,
        Cmd::TooLarge { noreply, .. } => {
            reply(out, noreply, b"SERVER_ERROR object too large for cache\r\n")
        }
    }
    Next::Go
}

/// A connection counted in `curr_connections` while this lives.
struct ConnCount(Arc<Store>);

impl Drop for ConnCount {
    fn drop(&mut self) {
        self.0.stats.curr_connections.fetch_sub(1, Relaxed);
    }
}

/// Serves a newly accepted connection on a thread of its own, or, past
/// `max_conns` or without a thread, tells the client and closes it.
pub fn spawn_conn(store: &Arc<Store>, mut s: TcpStream) {
    let st = &store.stats;
    st.total_connections.fetch_add(1, Relaxed);
    let n = st.curr_connections.fetch_add(1, Relaxed);
    let count = ConnCount(store.clone());
    if n >= store.cfg.max_conns as u64 {
        // As memcached: no lingering here, in the accepting thread.
        let _ = std::io::Write::write_all(&mut s, b"SERVER_ERROR Too many open connections\r\n");
        return;
    }
    let _ = s.set_nodelay(true);
    let spawned = std::thread::Builder::new().spawn(move || {
        if let Err(e) = serve(&count.0, s) {
            eprintln!("nicmem-kv: connection: {e}");
        }
    });
    if let Err(e) = spawned {
        // The closure, socket and count included, was dropped.
        eprintln!("nicmem-kv: no thread for a connection: {e}");
    }
}

/// Ends what the server sends, then reads what the client still sends (up
/// to a second, 1 MiB): closing with unread input would reset the
/// connection and could destroy the last reply before the client reads it.
fn linger(mut s: &TcpStream) {
    let _ = s.shutdown(Shutdown::Write);
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    let mut buf = [0u8; 4096];
    let mut left = 1usize << 20;
    while left > 0 {
        match s.read(&mut buf) {
            Ok(n) if n > 0 => left = left.saturating_sub(n),
            _ => break,
        }
    }
}

/// Serves one client connection until it closes or quits.
pub fn serve(store: &Store, mut s: TcpStream) -> io::Result<()> {
    let st = &store.stats;
    let mut out = Output::new(store.cfg.mode);
    if store.cfg.mode == Mode::Zerocopy {
        libnicmem::setsockopt_int(&s, libc::SOL_SOCKET, libc::SO_ZEROCOPY, 1)?;
    }
    let r = serve_loop(store, &mut s, &mut out);
    linger(&s);
    out.finish(&s, st);
    r
}

fn serve_loop(store: &Store, s: &mut TcpStream, out: &mut Output) -> io::Result<()> {
    let mut buf = vec![0u8; 16 << 10];
    // buf[start..end] is read and not yet parsed.
    let (mut start, mut end) = (0, 0);
    // Bytes of a refused data block still to be read past.
    let mut skip = 0usize;
    loop {
        if start > 0 {
            buf.copy_within(start..end, 0);
            end -= start;
            start = 0;
        }
        if end == buf.len() {
            // A set's data block larger than the buffer.
            let want = (buf.len() * 2).min(store.cfg.max_item + protocol::LINE_MAX + 2);
            if want <= buf.len() {
                return Err(io::Error::other("request larger than the largest item"));
            }
            buf.resize(want, 0);
        }
        let n = match s.read(&mut buf[end..]) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        end += n;
        loop {
            if skip > 0 {
                let k = skip.min(end - start);
                skip -= k;
                start += k;
                if skip > 0 {
                    break;
                }
            }
            match parse(&buf[start..end], store.cfg.max_item) {
                Parse::Incomplete => break,
                Parse::Cmd(cmd, used) => {
                    if let Cmd::TooLarge { skip: k, .. } = cmd {
                        skip = k;
                    }
                    let next = execute(store, cmd, out);
                    start += used;
                    if let Next::Close = next {
                        return out.flush(s, &store.stats);
                    }
                }
                Parse::Error(msg, used) => {
                    out.push(Piece::Static(msg.as_bytes()));
                    start += used;
                }
                Parse::Fatal(msg) => {
                    out.push(Piece::Static(msg.as_bytes()));
                    return out.flush(s, &store.stats);
                }
            }
        }
        out.flush(s, &store.stats)?;
    }
}

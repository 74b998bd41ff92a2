// SPDX-License-Identifier: GPL-2.0
//! NIC memory state of a device, from the netdev generic netlink family.
//!
//! The kernel reports it with `nicmem-get` (Documentation/netlink/specs/
//! netdev.yaml of the series); this is the same request the in-tree YNL CLI
//! makes, in a few lines of plain netlink so that scripts can poll it cheaply.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const NETLINK_GENERIC: i32 = 16;
const GENL_ID_CTRL: u16 = 0x10;
const CTRL_CMD_GETFAMILY: u8 = 3;
const CTRL_ATTR_FAMILY_ID: u16 = 1;
const CTRL_ATTR_FAMILY_NAME: u16 = 2;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_DUMP: u16 = 0x300;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLA_TYPE_MASK: u16 = 0x3fff;

/// `NETDEV_CMD_NICMEM_GET` (include/uapi/linux/netdev.h).
const NETDEV_CMD_NICMEM_GET: u8 = 17;

/// The attributes of `nicmem-get`, in the order of `NETDEV_A_NICMEM_*`.
pub const FIELDS: [&str; 15] = [
    "ifindex",
    "enabled",
    "size",
    "chunk-size",
    "chunks",
    "in-use",
    "peak",
    "tx-bytes",
    "allocs",
    "alloc-fail-nomem",
    "alloc-fail-quota",
    "arenas",
    "arena-chunks",
    "arena-freed-in-flight",
    "resident-tx-bytes",
];

/// What `nicmem-get` reports for one device.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DeviceState {
    /// The values, indexed like [`FIELDS`].
    pub values: [u64; FIELDS.len()],
}

impl DeviceState {
    /// The value of a field of [`FIELDS`] (`None` for an unknown name).
    pub fn get(&self, field: &str) -> Option<u64> {
        let field = field.replace('_', "-");
        FIELDS
            .iter()
            .position(|f| *f == field)
            .map(|i| self.values[i])
    }

    /// The device's ifindex.
    pub fn ifindex(&self) -> u32 {
        self.values[0] as u32
    }

    fn parse(attrs: &[u8]) -> Self {
        let mut s = Self::default();
        for (kind, val) in Attrs(attrs) {
            let v = match val.len() {
                4 => u32::from_ne_bytes(val.try_into().unwrap()) as u64,
                8 => u64::from_ne_bytes(val.try_into().unwrap()),
                _ => continue,
            };
            if let Some(slot) = (kind as usize)
                .checked_sub(1)
                .and_then(|i| s.values.get_mut(i))
            {
                *slot = v;
            }
        }
        s
    }
}

/// Netlink attributes of a message body: (type, payload).
struct Attrs<'a>(&'a [u8]);

impl<'a> Iterator for Attrs<'a> {
    type Item = (u16, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.0.len() < 4 {
            return None;
        }
        let len = u16::from_ne_bytes([self.0[0], self.0[1]]) as usize;
        let kind = u16::from_ne_bytes([self.0[2], self.0[3]]) & NLA_TYPE_MASK;
        if len < 4 || len > self.0.len() {
            return None;
        }
        let val = &self.0[4..len];
        self.0 = &self.0[align4(len).min(self.0.len())..];
        Some((kind, val))
    }
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

fn attr(buf: &mut Vec<u8>, kind: u16, val: &[u8]) {
    buf.extend_from_slice(&((4 + val.len()) as u16).to_ne_bytes());
    buf.extend_from_slice(&kind.to_ne_bytes());
    buf.extend_from_slice(val);
    buf.resize(align4(buf.len()), 0);
}

/// A generic netlink socket.
struct Genl {
    fd: OwnedFd,
    seq: u32,
}

impl Genl {
    fn open() -> io::Result<Self> {
        // SAFETY: plain socket(2) call; the result is checked.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                NETLINK_GENERIC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a new descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Self { fd, seq: 0 })
    }

    /// Sends one request and returns the bodies (after the genetlink header)
    /// of the answers, until the ACK or the end of the dump.
    fn request(
        &mut self,
        family: u16,
        flags: u16,
        cmd: u8,
        attrs: &[u8],
    ) -> io::Result<Vec<Vec<u8>>> {
        self.seq += 1;
        let mut msg = Vec::with_capacity(20 + attrs.len());
        msg.extend_from_slice(&((20 + attrs.len()) as u32).to_ne_bytes());
        msg.extend_from_slice(&family.to_ne_bytes());
        msg.extend_from_slice(&(NLM_F_REQUEST | flags).to_ne_bytes());
        msg.extend_from_slice(&self.seq.to_ne_bytes());
        msg.extend_from_slice(&0u32.to_ne_bytes());
        msg.extend_from_slice(&[cmd, 1, 0, 0]);
        msg.extend_from_slice(attrs);
        // SAFETY: `msg` is valid for reads of its length.
        let n = unsafe { libc::send(self.fd.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut out = Vec::new();
        let mut buf = vec![0u8; 65536];
        loop {
            // SAFETY: `buf` is valid for writes of its length.
            let n =
                unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            let mut rest = &buf[..n as usize];
            while rest.len() >= 16 {
                let len = u32::from_ne_bytes(rest[0..4].try_into().unwrap()) as usize;
                let kind = u16::from_ne_bytes([rest[4], rest[5]]);
                if len < 16 || len > rest.len() {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "truncated netlink message",
                    ));
                }
                let body = &rest[16..len];
                match kind {
                    NLMSG_ERROR => {
                        let err = i32::from_ne_bytes(body[0..4].try_into().unwrap());
                        if err != 0 {
                            return Err(io::Error::from_raw_os_error(-err));
                        }
                        return Ok(out);
                    }
                    NLMSG_DONE => return Ok(out),
                    _ if body.len() >= 4 => out.push(body[4..].to_vec()),
                    _ => {}
                }
                rest = &rest[align4(len).min(rest.len())..];
            }
        }
    }

    fn family(&mut self, name: &str) -> io::Result<u16> {
        let mut attrs = Vec::new();
        let mut cname = name.as_bytes().to_vec();
        cname.push(0);
        attr(&mut attrs, CTRL_ATTR_FAMILY_NAME, &cname);
        for body in self.request(GENL_ID_CTRL, NLM_F_ACK, CTRL_CMD_GETFAMILY, &attrs)? {
            for (kind, val) in Attrs(&body) {
                if kind == CTRL_ATTR_FAMILY_ID && val.len() >= 2 {
                    return Ok(u16::from_ne_bytes([val[0], val[1]]));
                }
            }
        }
        Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no generic netlink family {name}"),
        ))
    }
}

/// The NIC memory state of the device `ifindex`; `Ok(None)` if it has no
/// NIC memory provider (the kernel answers ENODEV).
pub fn state(ifindex: u32) -> io::Result<Option<DeviceState>> {
    let mut nl = Genl::open()?;
    let family = nl.family("netdev")?;
    let mut attrs = Vec::new();
    attr(&mut attrs, 1, &ifindex.to_ne_bytes());
    match nl.request(family, NLM_F_ACK, NETDEV_CMD_NICMEM_GET, &attrs) {
        Ok(bodies) => Ok(bodies.first().map(|b| DeviceState::parse(b))),
        Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The NIC memory state of every device with a provider in this network
/// namespace.
pub fn dump() -> io::Result<Vec<DeviceState>> {
    let mut nl = Genl::open()?;
    let family = nl.family("netdev")?;
    let bodies = nl.request(family, NLM_F_DUMP, NETDEV_CMD_NICMEM_GET, &[])?;
    Ok(bodies.iter().map(|b| DeviceState::parse(b)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_u32_and_u64_attributes_and_skips_unknown_ones() {
        let mut body = Vec::new();
        attr(&mut body, 1, &7u32.to_ne_bytes());
        attr(&mut body, 3, &(16u64 << 20).to_ne_bytes());
        attr(&mut body, 6, &5u32.to_ne_bytes());
        attr(&mut body, 40, &1u32.to_ne_bytes());
        attr(&mut body, 8, &[1, 2, 3]);
        let s = DeviceState::parse(&body);
        assert_eq!(s.ifindex(), 7);
        assert_eq!(s.get("size"), Some(16 << 20));
        assert_eq!(s.get("in_use"), Some(5));
        assert_eq!(s.get("tx-bytes"), Some(0));
        assert_eq!(s.get("nonsense"), None);
    }

    #[test]
    fn stops_at_a_truncated_attribute() {
        let mut body = Vec::new();
        attr(&mut body, 1, &7u32.to_ne_bytes());
        body.extend_from_slice(&[200, 0, 2, 0, 1]);
        assert_eq!(Attrs(&body).count(), 1);
    }
}

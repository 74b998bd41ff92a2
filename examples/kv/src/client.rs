// SPDX-License-Identifier: GPL-2.0
//! A blocking memcached text-protocol client, enough for the load generator
//! and the tests: `set`, `get`, `delete` and raw commands.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;

/// One connection to a memcached-protocol server.
pub struct Client {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

/// A value as a GET returns it.
#[derive(Debug, PartialEq, Eq)]
pub struct Value {
    pub key: Vec<u8>,
    pub flags: u32,
    pub data: Vec<u8>,
}

fn bad(what: &str, line: &[u8]) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{what}: {:?}", String::from_utf8_lossy(line)),
    )
}

impl Client {
    /// Connects to `addr`.
    pub fn connect(addr: &str) -> io::Result<Self> {
        let w = TcpStream::connect(addr)?;
        w.set_nodelay(true)?;
        Ok(Client {
            r: BufReader::with_capacity(64 << 10, w.try_clone()?),
            w,
        })
    }

    /// The socket.
    pub fn stream(&self) -> &TcpStream {
        &self.w
    }

    /// Reads one reply line, without its CRLF.
    pub fn line(&mut self) -> io::Result<Vec<u8>> {
        let mut l = Vec::new();
        if self.r.read_until(b'\n', &mut l)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        if l.ends_with(b"\r\n") {
            l.truncate(l.len() - 2);
        } else {
            return Err(bad("reply line without CRLF", &l));
        }
        Ok(l)
    }

    /// Sends raw bytes.
    pub fn send(&mut self, b: &[u8]) -> io::Result<()> {
        self.w.write_all(b)
    }

    /// `set`; true when STORED.
    pub fn set(&mut self, key: &[u8], flags: u32, value: &[u8]) -> io::Result<bool> {
        let mut req = format!(
            "set {} {flags} 0 {}\r\n",
            String::from_utf8_lossy(key),
            value.len()
        )
        .into_bytes();
        req.extend_from_slice(value);
        req.extend_from_slice(b"\r\n");
        self.send(&req)?;
        let l = self.line()?;
        Ok(l == b"STORED")
    }

    /// `delete`; true when DELETED.
    pub fn delete(&mut self, key: &[u8]) -> io::Result<bool> {
        self.send(&[b"delete ", key, b"\r\n"].concat())?;
        Ok(self.line()? == b"DELETED")
    }

    /// `get` of `keys`: the values found, in reply order.
    pub fn get(&mut self, keys: &[&[u8]]) -> io::Result<Vec<Value>> {
        let mut req = b"get".to_vec();
        for k in keys {
            req.push(b' ');
            req.extend_from_slice(k);
        }
        req.extend_from_slice(b"\r\n");
        self.send(&req)?;
        self.values()
    }

    /// Reads the VALUE blocks of a GET reply up to its END.
    pub fn values(&mut self) -> io::Result<Vec<Value>> {
        let mut out = Vec::new();
        loop {
            let l = self.line()?;
            if l == b"END" {
                return Ok(out);
            }
            let w: Vec<&[u8]> = l.split(|&c| c == b' ').collect();
            let num = |b: &[u8]| {
                std::str::from_utf8(b)
                    .ok()
                    .and_then(|s| s.parse::<u64>().ok())
            };
            let (true, Some(flags), Some(n)) = (
                w.len() >= 4 && w[0] == b"VALUE",
                w.get(2).and_then(|b| num(b)),
                w.get(3).and_then(|b| num(b)),
            ) else {
                return Err(bad("not a VALUE line", &l));
            };
            let mut data = vec![0u8; n as usize + 2];
            self.r.read_exact(&mut data)?;
            if !data.ends_with(b"\r\n") {
                return Err(bad("value without CRLF", &data[n as usize..]));
            }
            data.truncate(n as usize);
            out.push(Value {
                key: w[1].to_vec(),
                flags: flags as u32,
                data,
            });
        }
    }
}

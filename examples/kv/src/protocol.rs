// SPDX-License-Identifier: GPL-2.0
//! The part of the memcached text protocol the server speaks
//! (memcached's doc/protocol.txt): `get`/`gets` of one or more keys, `set`,
//! `delete`, `flush_all`, `stats`, `version`, `quit`.

/// Longest key memcached accepts.
pub const KEY_MAX: usize = 250;
/// Longest command line read before the connection is refused.
pub const LINE_MAX: usize = 2048;

/// One parsed command; keys and data borrow from the input buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Cmd<'a> {
    /// `get <key>*` (and `gets`, answered without a CAS value).
    Get(Vec<&'a [u8]>),
    /// `set <key> <flags> <exptime> <bytes> [noreply]` and its data block.
    Set {
        key: &'a [u8],
        flags: u32,
        exptime: i64,
        data: &'a [u8],
        noreply: bool,
    },
    /// `delete <key> [noreply]`.
    Delete { key: &'a [u8], noreply: bool },
    /// `flush_all [noreply]` (a delay argument is accepted and ignored).
    FlushAll { noreply: bool },
    /// `stats`.
    Stats,
    /// `version`.
    Version,
    /// `quit`.
    Quit,
    /// A `set` whose data block is larger than the server stores: answered
    /// with an error once its `skip` bytes (data and CRLF) are read past.
    TooLarge { skip: usize, noreply: bool },
}

/// What [`parse`] found at the start of a buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Parse<'a> {
    /// Not a whole command yet: read more.
    Incomplete,
    /// A command, and the number of bytes it took.
    Cmd(Cmd<'a>, usize),
    /// A malformed command: the reply to send, and the bytes it took.
    Error(&'static str, usize),
    /// The client sent something the server cannot resynchronise after:
    /// the reply to send before closing.
    Fatal(&'static str),
}

fn num<T: std::str::FromStr>(w: &[u8]) -> Option<T> {
    std::str::from_utf8(w).ok()?.parse().ok()
}

fn key_ok(k: &[u8]) -> bool {
    !k.is_empty() && k.len() <= KEY_MAX && k.iter().all(|&c| c > b' ' && c != 0x7f)
}

const BAD_FORMAT: &str = "CLIENT_ERROR bad command line format\r\n";

/// Parses the command at the start of `buf`; `max_item` is the largest
/// data block a `set` may store.
pub fn parse(buf: &[u8], max_item: usize) -> Parse<'_> {
    let Some(nl) = buf.iter().take(LINE_MAX).position(|&c| c == b'\n') else {
        return if buf.len() >= LINE_MAX {
            Parse::Fatal("CLIENT_ERROR line too long\r\n")
        } else {
            Parse::Incomplete
        };
    };
    let line_len = nl + 1;
    let line = buf[..nl].strip_suffix(b"\r").unwrap_or(&buf[..nl]);
    let mut words = line.split(|&c| c == b' ').filter(|w| !w.is_empty());
    let Some(cmd) = words.next() else {
        return Parse::Error("ERROR\r\n", line_len);
    };
    let args: Vec<&[u8]> = words.collect();
    let noreply = args.last() == Some(&&b"noreply"[..]);
    let cmd = match cmd {
        b"get" | b"gets" => {
            if args.is_empty() || !args.iter().all(|k| key_ok(k)) {
                return Parse::Error(BAD_FORMAT, line_len);
            }
            Cmd::Get(args)
        }
        b"set" => {
            let n = args.len() - usize::from(noreply);
            if n != 4 || !key_ok(args[0]) {
                return Parse::Error(BAD_FORMAT, line_len);
            }
            let (Some(flags), Some(exptime), Some(bytes)) = (
                num::<u32>(args[1]),
                num::<i64>(args[2]),
                num::<usize>(args[3]),
            ) else {
                return Parse::Error(BAD_FORMAT, line_len);
            };
            if bytes > max_item {
                return Parse::Cmd(
                    Cmd::TooLarge {
                        skip: bytes.saturating_add(2),
                        noreply,
                    },
                    line_len,
                );
            }
            let end = line_len + bytes + 2;
            if buf.len() < end {
                return Parse::Incomplete;
            }
            if &buf[end - 2..end] != b"\r\n" {
                // memcached closes here too: where the next command
                // starts is unknown.
                return Parse::Fatal("CLIENT_ERROR bad data chunk\r\n");
            }
            return Parse::Cmd(
                Cmd::Set {
                    key: args[0],
                    flags,
                    exptime,
                    data: &buf[line_len..end - 2],
                    noreply,
                },
                end,
            );
        }
        b"delete" => {
            let n = args.len() - usize::from(noreply);
            if n != 1 || !key_ok(args[0]) {
                return Parse::Error(BAD_FORMAT, line_len);
            }
            Cmd::Delete {
                key: args[0],
                noreply,
            }
        }
        b"flush_all" => Cmd::FlushAll { noreply },
        b"stats" if args.is_empty() => Cmd::Stats,
        b"version" => Cmd::Version,
        b"quit" => Cmd::Quit,
        _ => return Parse::Error("ERROR\r\n", line_len),
    };
    Parse::Cmd(cmd, line_len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_of_several_keys() {
        let b = b"get a bb ccc\r\nget";
        assert_eq!(
            parse(b, 100),
            Parse::Cmd(Cmd::Get(vec![b"a", b"bb", b"ccc"]), 14)
        );
        assert_eq!(parse(&b[14..], 100), Parse::Incomplete);
    }

    #[test]
    fn set_waits_for_its_data_block() {
        let b = b"set k 7 0 5\r\nhello\r\nversion\r\n";
        for cut in 0..20 {
            assert_eq!(parse(&b[..cut], 100), Parse::Incomplete, "cut at {cut}");
        }
        assert_eq!(
            parse(b, 100),
            Parse::Cmd(
                Cmd::Set {
                    key: b"k",
                    flags: 7,
                    exptime: 0,
                    data: b"hello",
                    noreply: false
                },
                20
            )
        );
        assert_eq!(parse(&b[20..], 100), Parse::Cmd(Cmd::Version, 9));
    }

    #[test]
    fn bad_input_gets_the_errors_memcached_gives() {
        assert_eq!(
            parse(b"set k 0 0 3\r\nabcd\r\n", 100),
            Parse::Fatal("CLIENT_ERROR bad data chunk\r\n")
        );
        assert_eq!(parse(b"set k x 0 3\r\n", 100), Parse::Error(BAD_FORMAT, 13));
        assert_eq!(parse(b"bogus\r\n", 100), Parse::Error("ERROR\r\n", 7));
        assert_eq!(parse(b"\r\n", 100), Parse::Error("ERROR\r\n", 2));
        let long_key = format!("get {}\r\n", "k".repeat(KEY_MAX + 1));
        assert_eq!(
            parse(long_key.as_bytes(), 100),
            Parse::Error(BAD_FORMAT, long_key.len())
        );
        assert_eq!(
            parse(&[b'a'; LINE_MAX], 100),
            Parse::Fatal("CLIENT_ERROR line too long\r\n")
        );
        assert_eq!(
            parse(b"set k 0 0 1000 noreply\r\n", 100),
            Parse::Cmd(
                Cmd::TooLarge {
                    skip: 1002,
                    noreply: true
                },
                24
            )
        );
    }

    #[test]
    fn noreply_and_bare_newlines() {
        assert_eq!(
            parse(b"delete k noreply\n", 100),
            Parse::Cmd(
                Cmd::Delete {
                    key: b"k",
                    noreply: true
                },
                17
            )
        );
        assert_eq!(
            parse(b"flush_all 0\r\n", 100),
            Parse::Cmd(Cmd::FlushAll { noreply: false }, 13)
        );
    }
}

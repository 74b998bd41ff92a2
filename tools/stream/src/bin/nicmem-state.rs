// SPDX-License-Identifier: GPL-2.0
//! Prints the NIC memory state of devices, as the kernel reports it over the
//! netdev netlink family (`nicmem-get`), for scripts that poll it.
//!
//! ```text
//! nicmem-state                  one line per device with a provider
//! nicmem-state IFACE            that device's line
//! nicmem-state IFACE FIELD      one value (for example in-use, tx-bytes)
//! ```
//!
//! A line is `IFACE field=value ...`. Exit status 2: the device has no NIC
//! memory provider (nothing printed); 1: any other error.

use std::ffi::{CStr, CString};
use std::process::exit;

use libnicmem::device::{self, DeviceState, FIELDS};

fn ifname(ifindex: u32) -> String {
    let mut buf = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: `buf` has room for IF_NAMESIZE bytes, as if_indextoname() needs.
    let p = unsafe { libc::if_indextoname(ifindex, buf.as_mut_ptr()) };
    if p.is_null() {
        return format!("if{ifindex}");
    }
    // SAFETY: if_indextoname() wrote a NUL-terminated name into `buf`.
    unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

fn line(s: &DeviceState) -> String {
    let mut out = ifname(s.ifindex());
    for (f, v) in FIELDS.iter().zip(s.values.iter()) {
        out.push_str(&format!(" {f}={v}"));
    }
    out
}

fn die(msg: &str) -> ! {
    eprintln!("nicmem-state: {msg}");
    exit(1)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        for s in device::dump().unwrap_or_else(|e| die(&format!("nicmem-get dump: {e}"))) {
            println!("{}", line(&s));
        }
        return;
    }
    if args.len() > 2 || args[0].starts_with('-') {
        eprintln!(
            "usage: nicmem-state [IFACE [FIELD]]; fields: {}",
            FIELDS.join(" ")
        );
        exit(1);
    }
    let name = CString::new(args[0].as_str()).unwrap_or_else(|_| die("bad interface name"));
    // SAFETY: `name` is a NUL-terminated string.
    let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if ifindex == 0 {
        die(&format!("no interface {}", args[0]));
    }
    let state = match device::state(ifindex) {
        Ok(Some(s)) => s,
        Ok(None) => exit(2),
        Err(e) => die(&format!("nicmem-get {}: {e}", args[0])),
    };
    match args.get(1) {
        None => println!("{}", line(&state)),
        Some(f) => match state.get(f) {
            Some(v) => println!("{v}"),
            None => die(&format!("no field {f}; fields: {}", FIELDS.join(" "))),
        },
    }
}

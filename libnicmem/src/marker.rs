// SPDX-License-Identifier: GPL-2.0
//! Markers for the instruction-counting QEMU plugin (`bench/insn/nicmem-insn.c`).
//!
//! A marker is `nopl 0x4e4dTTTT(%rax)`: a 7-byte no-op whose displacement
//! carries "NM" and a tag. It reads no memory and changes no register or
//! flag, so outside the plugin (or on hardware) it costs one instruction.

macro_rules! marker {
    ($(#[$doc:meta])* $name:ident, $tag:literal) => {
        $(#[$doc])*
        pub fn $name() {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: a no-op: NOP with a memory operand does not access
            // memory, and it changes no register or flag.
            unsafe {
                core::arch::asm!(
                    concat!(".byte 0x0f, 0x1f, 0x80, ", $tag, ", 0x00, 0x4d, 0x4e"),
                    options(nomem, nostack, preserves_flags)
                );
            }
        }
    };
}

marker!(
    /// Marks the start of the measured work (tag 1).
    start,
    "0x01"
);
marker!(
    /// Marks the end of the measured work (tag 2).
    end,
    "0x02"
);

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    /// The markers are the bytes the plugin looks for: find them in the
    /// code of this very binary.
    #[test]
    fn markers_are_the_plugin_s_no_ops() {
        let exe = std::fs::read("/proc/self/exe").unwrap();
        for tag in [1u8, 2] {
            let want = [0x0f, 0x1f, 0x80, tag, 0x00, 0x4d, 0x4e];
            assert!(
                exe.windows(7).any(|w| w == want),
                "marker {tag} not in the binary"
            );
        }
        super::start();
        super::end();
    }
}

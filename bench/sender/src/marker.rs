// SPDX-License-Identifier: GPL-2.0
//! Markers for the instruction-counting QEMU plugin (`bench/insn/nicmem-insn.c`).
//!
//! A marker is `nopl 0x4e4dTTTT(%rax)`: a 7-byte no-op whose displacement
//! carries "NM" and a tag. It reads no memory and changes no register or
//! flag, so outside the plugin (or on hardware) it costs one instruction.

/// Marks the start of the measured work (tag 1).
pub fn start() {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a no-op: NOP with a memory operand does not access memory.
    unsafe {
        core::arch::asm!(
            ".byte 0x0f, 0x1f, 0x80, 0x01, 0x00, 0x4d, 0x4e",
            options(nomem, nostack, preserves_flags)
        );
    }
}

/// Marks the end of the measured work (tag 2).
pub fn end() {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: as in `start()`.
    unsafe {
        core::arch::asm!(
            ".byte 0x0f, 0x1f, 0x80, 0x02, 0x00, 0x4d, 0x4e",
            options(nomem, nostack, preserves_flags)
        );
    }
}

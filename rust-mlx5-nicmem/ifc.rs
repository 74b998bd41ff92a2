// SPDX-License-Identifier: GPL-2.0

//! mlx5 firmware layouts: reading and writing fields of command mailboxes
//! and capability pages, as `MLX5_SET()`/`MLX5_GET()` do in C.
//!
//! `include/linux/mlx5/mlx5_ifc.h` describes each layout as a struct with
//! one `u8` per bit (`struct mlx5_ifc_alloc_memic_in_bits`, ...). Its
//! bindings keep that shape, so `offset_of!()` of a field is its bit offset
//! and the size of the field is its width: [`ifc_field!`] takes both from
//! the same header the C code uses, never from numbers copied by hand.
//!
//! A layout is an array of big-endian 32-bit words. Bits are numbered from
//! the most significant bit of word 0, so a field of width `w` at bit `o`
//! occupies bits `31 - o % 32` downwards of word `o / 32` and on (see
//! `__mlx5_dw_bit_off()` in `include/linux/mlx5/device.h`).

use core::mem::size_of;
use kernel::prelude::*;

/// A field of an mlx5 layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Field {
    /// Offset in bits from the start of the layout.
    pub(crate) off: usize,
    /// Width in bits, at most 64.
    pub(crate) width: usize,
}

/// The width in bits of the field that `_field` selects in a `_bits`
/// struct: its size, as each bit is one byte there.
pub(crate) fn width_of<T, F>(_field: impl Fn(&T) -> &F) -> usize {
    size_of::<F>()
}

/// The [`Field`] `$($f).+` of `bindings::$ty` (an `mlx5_ifc_*_bits`
/// struct): `ifc_field!(mlx5_ifc_alloc_memic_in_bits, range_start_addr)`.
macro_rules! ifc_field {
    ($ty:ident, $($f:ident).+) => {
        $crate::ifc::Field {
            off: ::core::mem::offset_of!(::kernel::bindings::$ty, $($f).+),
            width: $crate::ifc::width_of(|s: &::kernel::bindings::$ty| &s.$($f).+),
        }
    };
}
pub(crate) use ifc_field;

/// The number of 32-bit words of the layout `T` (an `mlx5_ifc_*_bits`
/// struct), as `MLX5_ST_SZ_DW()`.
pub(crate) const fn dwords<T>() -> usize {
    size_of::<T>() / 32
}

/// Writes `value` into `field` of the layout `buf`; bits of `value` beyond
/// the field's width are ignored, as in `MLX5_SET()`. Bits outside `buf`
/// are not written.
pub(crate) fn set(buf: &mut [u32], field: Field, value: u64) {
    for i in 0..field.width.min(64) {
        let bit = field.off + i;
        let Some(word) = buf.get_mut(bit / 32) else {
            return;
        };
        let mask = 1u32 << (31 - bit % 32);
        let mut host = u32::from_be(*word);
        if (value >> (field.width - 1 - i)) & 1 != 0 {
            host |= mask;
        } else {
            host &= !mask;
        }
        *word = host.to_be();
    }
}

/// A layout of `N` words with each `(field, value)` of `fields` written
/// into it, the rest zero: a firmware command mailbox.
pub(crate) fn encode<const N: usize>(fields: &[(Field, u64)]) -> [u32; N] {
    let mut buf = [0u32; N];
    for &(field, value) in fields {
        set(&mut buf, field, value);
    }
    buf
}

/// Reads `field` of the layout `buf`, as `MLX5_GET()`/`MLX5_GET64()`; bits
/// outside `buf` read as zero.
pub(crate) fn get(buf: &[u32], field: Field) -> u64 {
    let mut value = 0u64;
    for i in 0..field.width.min(64) {
        let bit = field.off + i;
        let word = buf.get(bit / 32).map_or(0, |w| u32::from_be(*w));
        value = (value << 1) | u64::from((word >> (31 - bit % 32)) & 1);
    }
    value
}

#[kunit_tests(nicmem_mlx5_ifc)]
pub(crate) mod tests {
    use super::*;
    use kernel::bindings;

    /// Host-order view of a layout, for comparing with the PRM's words.
    pub(crate) fn words(buf: &[u32]) -> KVec<u32> {
        let mut v = KVec::new();
        for w in buf {
            v.push(u32::from_be(*w), GFP_KERNEL).unwrap();
        }
        v
    }

    #[test]
    fn field_positions_match_mlx5_ifc() {
        // The offsets in the names of the reserved fields around them.
        let f = ifc_field!(mlx5_ifc_alloc_memic_in_bits, range_start_addr);
        assert_eq!(
            f,
            Field {
                off: 0x80,
                width: 64
            }
        );
        let f = ifc_field!(mlx5_ifc_alloc_memic_in_bits, log_memic_addr_alignment);
        assert_eq!(
            f,
            Field {
                off: 0x78,
                width: 8
            }
        );
        let f = ifc_field!(mlx5_ifc_device_mem_cap_bits, memic_bar_size);
        assert_eq!(
            f,
            Field {
                off: 0x80,
                width: 32
            }
        );
        let f = ifc_field!(mlx5_ifc_create_mkey_in_bits, memory_key_mkey_entry.pd);
        assert_eq!(
            f,
            Field {
                off: 0xe8,
                width: 24
            }
        );
        assert_eq!(dwords::<bindings::mlx5_ifc_alloc_memic_in_bits>(), 8);
        assert_eq!(dwords::<bindings::mlx5_ifc_alloc_memic_out_bits>(), 4);
    }

    #[test]
    fn set_and_get_like_mlx5_set() {
        let mut buf = [0u32; 4];
        // A 16-bit field at bit 0 is the top half of word 0.
        set(&mut buf, Field { off: 0, width: 16 }, 0x205);
        // A 64-bit field spans two words, high word first.
        set(
            &mut buf,
            Field { off: 64, width: 64 },
            0x1122_3344_5566_7788,
        );
        // Bits past the width are dropped.
        set(&mut buf, Field { off: 16, width: 4 }, 0xff);
        assert_eq!(
            &words(&buf)[..],
            &[0x0205_f000, 0, 0x1122_3344, 0x5566_7788]
        );
        assert_eq!(get(&buf, Field { off: 0, width: 16 }), 0x205);
        assert_eq!(get(&buf, Field { off: 16, width: 4 }), 0xf);
        assert_eq!(
            get(&buf, Field { off: 64, width: 64 }),
            0x1122_3344_5566_7788
        );
        // Overwriting clears the old bits.
        set(&mut buf, Field { off: 16, width: 4 }, 0x1);
        assert_eq!(words(&buf)[0], 0x0205_1000);
        // Nothing is written or read outside the buffer.
        set(
            &mut buf,
            Field {
                off: 120,
                width: 16,
            },
            0xabcd,
        );
        assert_eq!(words(&buf)[3], 0x5566_77ab);
        assert_eq!(
            get(
                &buf,
                Field {
                    off: 120,
                    width: 16
                }
            ),
            0xab00
        );
    }
}

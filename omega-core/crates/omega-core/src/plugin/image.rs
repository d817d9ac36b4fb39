//! What a plugin hands over, given as a byte image: safe entry points that lay an arbitrary byte
//! string out as plugin memory and run the core's own validators over it, for the fuzz targets
//! (`fuzz/`, docs/runbook.md "Fuzzing") and for tests.
//!
//! An image is a fixed-size head (a plugin table, or a `SignalOut` followed by an `ErrorOut`)
//! followed by a data area. Every pointer field of a view is relocated into the data area before
//! the validator sees it: `0` stays NULL, any other value `v` points at byte `(v - 1) mod
//! (data_len + 1)` of the data (array pointers at the 16-byte chunk holding that byte, or one byte
//! past it when bit 63 of `v` is set, i.e. misaligned). The data area is followed by zeroed padding
//! at least as long as every cap ([`MAX_TEXT_LEN`] bytes, [`MAX_ITEMS`] entries), so that a view
//! whose length is within its cap stays in bounds wherever it starts. A view whose length exceeds
//! its cap points at the same memory and is in bounds only if the validator refuses it before
//! reading, which is exactly what the validators promise and what the fuzz targets check: in a
//! `cargo fuzz` build, AddressSanitizer turns a read past the padding into a crash.
//! Function slots are never called: the validated handle is dropped before returning.

use std::mem::{offset_of, size_of};

use super::abi::{ErrorOut, PluginTable, SignalOut, StrView, TableHeader, MAX_ITEMS, MAX_TEXT_LEN};
use super::handle::PluginHandle;
use crate::error::Result;
use crate::types::TradeSignal;

/// Largest plugin table an image lays out; a declared `struct_size` beyond it still reads as
/// declared, but only this many bytes back it (the validator reads at most a `PluginTable`).
pub const MAX_TABLE_IMAGE: usize = 4096;
/// Zeroed bytes after the data area: covers any view within its cap.
const PADDING: usize = if MAX_TEXT_LEN > MAX_ITEMS * 16 { MAX_TEXT_LEN } else { MAX_ITEMS * 16 };
/// Bit of a relocated array pointer that asks for a misaligned address.
const MISALIGN_BIT: u64 = 1 << 63;

// The relocation below writes pointer-sized words at fixed offsets of the head.
const _: () = assert!(size_of::<usize>() == 8 && PADDING >= MAX_TEXT_LEN && PADDING >= MAX_ITEMS * 16);

/// What a plugin table image declares, once the core's validator accepted it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeclaredTable {
    pub name: String,
    pub version: String,
    pub core_version: String,
    pub abi_minor: u32,
    pub panic_unwind: Option<bool>,
}

/// An 8-byte aligned, zero-initialised buffer of at least `len` bytes.
struct Aligned(Vec<u64>);

impl Aligned {
    fn zeroed(len: usize) -> Self {
        Aligned(vec![0u64; len.div_ceil(8)])
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: a `Vec<u64>` of `n` elements is `8 n` initialised bytes; `u8` has no alignment
        // or validity requirement, and the borrow of `self` keeps the vector alive.
        unsafe { std::slice::from_raw_parts(self.0.as_ptr().cast::<u8>(), self.0.len() * 8) }
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`; the mutable borrow of `self` makes this the only view.
        unsafe { std::slice::from_raw_parts_mut(self.0.as_mut_ptr().cast::<u8>(), self.0.len() * 8) }
    }

    fn base(&self) -> *const u8 {
        self.0.as_ptr().cast()
    }

    /// The word at `byte_off` (callers stay 8 bytes inside the buffer).
    fn word(&self, byte_off: usize) -> u64 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&self.bytes()[byte_off..byte_off + 8]);
        u64::from_ne_bytes(w)
    }

    fn set_word(&mut self, byte_off: usize, v: u64) {
        self.bytes_mut()[byte_off..byte_off + 8].copy_from_slice(&v.to_ne_bytes());
    }
}

/// The data area of an image: its bytes, then [`PADDING`] zeroed bytes.
struct DataArea {
    buf: Aligned,
    len: usize,
}

impl DataArea {
    fn new(data: &[u8]) -> Self {
        let mut buf = Aligned::zeroed(data.len().next_multiple_of(16) + PADDING);
        buf.bytes_mut()[..data.len()].copy_from_slice(data);
        DataArea { buf, len: data.len() }
    }

    fn offset(&self, v: u64) -> usize {
        // `len + 1` positions: any byte of the data, or its end.
        ((v - 1) % (self.len as u64 + 1)) as usize
    }

    /// Where a byte pointer `v` points (see the module docs).
    fn bytes_at(&self, v: u64) -> u64 {
        if v == 0 {
            return 0;
        }
        self.buf.base().wrapping_add(self.offset(v)) as u64
    }

    /// Where an array pointer `v` points: a 16-byte chunk, misaligned on request.
    fn array_at(&self, v: u64) -> u64 {
        let (target, misaligned) = (v & !MISALIGN_BIT, v & MISALIGN_BIT != 0);
        if target == 0 {
            return 0;
        }
        let chunk = self.offset(target) / 16 * 16;
        let extra = usize::from(misaligned);
        self.buf.base().wrapping_add(chunk + extra) as u64
    }

    /// Relocate the pointer of every `StrView` an array `(v, len)` (as the head declares it) covers:
    /// an array starts on a 16-byte chunk and each of its entries is one chunk. Chunks no array
    /// covers keep their bytes (texts); a chunk two arrays share is relocated once. An array the
    /// validator refuses unread (over [`MAX_ITEMS`], misaligned) needs nothing.
    fn relocate_arrays(&mut self, arrays: &[(u64, u64)]) {
        let chunks = self.len.div_ceil(16);
        let mut done = vec![false; chunks];
        for &(v, len) in arrays {
            if v == 0 || v & MISALIGN_BIT != 0 || len > MAX_ITEMS as u64 {
                continue;
            }
            let first = self.offset(v) / 16;
            let end = (first + len as usize).min(chunks);
            for (chunk, seen) in done.iter_mut().enumerate().take(end).skip(first) {
                if !std::mem::replace(seen, true) {
                    let moved = self.bytes_at(self.buf.word(chunk * 16));
                    self.buf.set_word(chunk * 16, moved);
                }
            }
        }
    }
}

/// Lay `image` out as a plugin table followed by its data area and validate it exactly as
/// [`PluginHandle::from_raw`] validates a table from a capsule (E4007 listing every problem).
/// The table occupies the first `struct_size` bytes (its own header field, at least the header,
/// at most [`MAX_TABLE_IMAGE`]), zero-padded when the image is shorter.
pub fn check_table_image(image: &[u8]) -> Result<DeclaredTable> {
    // The header as the validator will read it: the image's first 16 bytes, zero-padded.
    let mut header = [0u8; size_of::<TableHeader>()];
    let n = header.len().min(image.len());
    header[..n].copy_from_slice(&image[..n]);
    let at = offset_of!(TableHeader, struct_size);
    let declared = u32::from_ne_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]]) as usize;
    let table_len = declared.clamp(size_of::<TableHeader>(), MAX_TABLE_IMAGE);
    let mut table = Aligned::zeroed(table_len);
    let copied = table_len.min(image.len());
    table.bytes_mut()[..copied].copy_from_slice(&image[..copied]);
    let data = DataArea::new(&image[copied..]);
    for off in [
        offset_of!(PluginTable, core_version),
        offset_of!(PluginTable, strategy_name),
        offset_of!(PluginTable, strategy_version),
    ] {
        if off + 8 <= table_len {
            let moved = data.bytes_at(table.word(off));
            table.set_word(off, moved);
        }
    }
    // SAFETY: `table` holds at least `min(struct_size, MAX_TABLE_IMAGE)` (and at least 16) readable
    // bytes, more than the validator ever reads (`min(struct_size, size_of::<PluginTable>())`); its
    // string views point into `data`, which outlives the call, as described in the module docs.
    // Function slots hold arbitrary non-null bits, which is a valid (never called) `Option<fn>`.
    let handle = unsafe { PluginHandle::from_raw(table.base().cast::<PluginTable>(), "fuzz-image") }?;
    Ok(DeclaredTable {
        name: handle.name().to_string(),
        version: handle.version().to_string(),
        core_version: handle.core_version().to_string(),
        abi_minor: handle.abi_minor(),
        panic_unwind: handle.panic_unwind(),
    })
}

/// Size of the head of an out-struct image: a `SignalOut`, then an `ErrorOut`.
pub const OUT_IMAGE_HEAD: usize = size_of::<SignalOut>() + size_of::<ErrorOut>();

/// Lay `image` out as what a plugin's `evaluate` writes (a `SignalOut`, then the `ErrorOut` of a
/// failed call) followed by their data area, and read both as the core does: the signal through
/// [`read_signal`](super::foreign::read_signal) (only when `has_signal` is set), the error through
/// [`read_error`](super::read_error).
pub fn check_out_image(image: &[u8]) -> (Option<Result<TradeSignal>>, crate::StrategyError) {
    let mut head = Aligned::zeroed(OUT_IMAGE_HEAD);
    let copied = OUT_IMAGE_HEAD.min(image.len());
    head.bytes_mut()[..copied].copy_from_slice(&image[..copied]);
    let mut data = DataArea::new(&image[copied..]);
    let (tags, keys) = (offset_of!(SignalOut, tags), offset_of!(SignalOut, meta_keys));
    let (tags_len, meta_len) = (offset_of!(SignalOut, tags_len), offset_of!(SignalOut, meta_len));
    data.relocate_arrays(&[(head.word(tags), head.word(tags_len)), (head.word(keys), head.word(meta_len))]);
    let e = size_of::<SignalOut>();
    for off in [offset_of!(SignalOut, reason), e + offset_of!(ErrorOut, subject), e + offset_of!(ErrorOut, message)] {
        let moved = data.bytes_at(head.word(off));
        head.set_word(off, moved);
    }
    for off in [offset_of!(SignalOut, tags), offset_of!(SignalOut, meta_keys), offset_of!(SignalOut, meta_values)] {
        let moved = data.array_at(head.word(off));
        head.set_word(off, moved);
    }
    // SAFETY: `head` is `OUT_IMAGE_HEAD` initialised, 8-aligned bytes; `SignalOut` and `ErrorOut`
    // are `#[repr(C)]` plain data (integers, floats, raw pointers) for which any bits are valid.
    let (signal, error) = unsafe {
        let base = head.base();
        (base.cast::<SignalOut>().read(), base.add(e).cast::<ErrorOut>().read())
    };
    // SAFETY: every view points into `data` (alive until the end of this function) with the
    // padding covering any length within its cap; see the module docs.
    let read = (signal.has_signal != 0).then(|| unsafe { super::foreign::read_signal(&signal) });
    // SAFETY: as above.
    let err = unsafe { super::read_error(&error) };
    (read, err)
}

// Keeps the relocation above in step with the views it must cover.
const _: () = {
    assert!(size_of::<StrView>() == 16);
    assert!(offset_of!(PluginTable, core_version) == 16 && offset_of!(PluginTable, strategy_version) == 48);
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::abi::{ABI_MAJOR, ABI_MINOR, FLAG_PANIC_UNWIND, PLUGIN_TABLE_SIZE};

    /// A v1.1 table image with every slot set and its strings in the data area.
    fn table_image(name: &str, version: &str) -> Vec<u8> {
        let mut t = vec![0u8; PLUGIN_TABLE_SIZE];
        let put32 = |t: &mut Vec<u8>, at: usize, v: u32| t[at..at + 4].copy_from_slice(&v.to_ne_bytes());
        let put64 = |t: &mut Vec<u8>, at: usize, v: u64| t[at..at + 8].copy_from_slice(&v.to_ne_bytes());
        put32(&mut t, 0, ABI_MAJOR);
        put32(&mut t, 4, ABI_MINOR);
        put32(&mut t, 8, PLUGIN_TABLE_SIZE as u32);
        let core = "0.1.0";
        let data = format!("{name}{version}{core}");
        // Pointer values are data offsets + 1.
        put64(&mut t, 16, (name.len() + version.len() + 1) as u64);
        put64(&mut t, 24, core.len() as u64);
        put64(&mut t, 32, 1);
        put64(&mut t, 40, name.len() as u64);
        put64(&mut t, 48, (name.len() + 1) as u64);
        put64(&mut t, 56, version.len() as u64);
        for slot in 0..7 {
            put64(&mut t, 64 + 8 * slot, 0xdead_0000 + slot as u64);
        }
        put64(&mut t, 120, FLAG_PANIC_UNWIND);
        t.extend_from_slice(data.as_bytes());
        t
    }

    #[test]
    fn a_table_image_validates_like_a_table() {
        let d = check_table_image(&table_image("probe", "1.2.3")).unwrap();
        assert_eq!(d.name, "probe");
        assert_eq!(d.version, "1.2.3");
        assert_eq!(d.core_version, "0.1.0");
        assert_eq!((d.abi_minor, d.panic_unwind), (ABI_MINOR, Some(true)));

        let mut huge = table_image("probe", "1");
        huge[40..48].copy_from_slice(&(1u64 << 45).to_ne_bytes());
        let e = check_table_image(&huge).unwrap_err();
        assert_eq!(e.code(), "E4007");
        assert!(e.to_string().contains("length 35184372088832 exceeds the limit of 128"), "{e}");

        let mut null = table_image("probe", "1");
        null[32..40].fill(0);
        assert!(check_table_image(&null).unwrap_err().to_string().contains("NULL pointer with length 5"));

        let e = check_table_image(&table_image("9lives", "1")).unwrap_err();
        assert!(e.to_string().contains("not a valid name"), "{e}");

        for short in [&[][..], &[1, 0, 0, 0], &[2, 0, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255]] {
            assert_eq!(check_table_image(short).unwrap_err().code(), "E4007");
        }
    }

    #[test]
    fn an_out_image_reads_like_a_signal() {
        let mut head = vec![0u8; OUT_IMAGE_HEAD];
        head[0..4].copy_from_slice(&1u32.to_ne_bytes()); // has_signal
        head[8..16].copy_from_slice(&1.1f64.to_ne_bytes());
        head[16..24].copy_from_slice(&1.0f64.to_ne_bytes());
        head[48..56].copy_from_slice(&33u64.to_ne_bytes()); // reason at data byte 32
        head[56..64].copy_from_slice(&3u64.to_ne_bytes());
        head[64..72].copy_from_slice(&1u64.to_ne_bytes()); // tags: chunk 0
        head[72..80].copy_from_slice(&2u64.to_ne_bytes());
        let mut data = vec![0u8; 48];
        data[0..8].copy_from_slice(&33u64.to_ne_bytes()); // tag 0 -> "why"
        data[8..16].copy_from_slice(&3u64.to_ne_bytes());
        data[16..24].copy_from_slice(&34u64.to_ne_bytes()); // tag 1 -> "hy"
        data[24..32].copy_from_slice(&2u64.to_ne_bytes());
        data[32..35].copy_from_slice(b"why");
        head.extend_from_slice(&data);
        let (signal, err) = check_out_image(&head);
        let s = signal.unwrap().unwrap();
        assert_eq!(s.parts().reason, "why");
        assert_eq!(s.parts().tags, ["why", "hy"]);
        assert_eq!(err.code(), "E4009", "an ErrorOut without a code");

        let mut misaligned = head.clone();
        misaligned[64..72].copy_from_slice(&(1u64 | MISALIGN_BIT).to_ne_bytes());
        let e = check_out_image(&misaligned).0.unwrap().unwrap_err();
        assert!(e.to_string().contains("misaligned"), "{e}");

        let mut many = head;
        many[72..80].copy_from_slice(&(MAX_ITEMS as u64 + 1).to_ne_bytes());
        assert_eq!(check_out_image(&many).0.unwrap().unwrap_err().code(), "E4007");
        assert!(check_out_image(&[]).0.is_none());
    }
}

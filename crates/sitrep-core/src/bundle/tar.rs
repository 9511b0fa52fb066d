//! The archive format: ustar members, read and written byte for byte.

use super::*;

/// Writes `value` right-aligned as zero-padded octal, followed by a NUL, filling `field`.
pub(super) fn octal(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let text = format!("{value:0digits$o}");
    field[..digits].copy_from_slice(&text.as_bytes()[text.len() - digits..]);
    field[digits] = 0;
}

/// The one header a bundle member may have: a ustar regular file, mode 0644, owner 0:0, time 0,
/// no user or group names; the size in octal, or (from 8 GiB) base-256 as GNU tar and the `tar`
/// crate write it. `None` for a name that does not fit the 100-byte name field.
pub fn tar_header(name: &str, size: u64) -> Option<[u8; BLOCK]> {
    if name.is_empty() || name.len() > 100 || name.as_bytes().contains(&0) {
        return None;
    }
    let mut header = [0u8; BLOCK];
    header[..name.len()].copy_from_slice(name.as_bytes());
    octal(&mut header[100..108], 0o644);
    octal(&mut header[108..116], 0);
    octal(&mut header[116..124], 0);
    if size < 1 << 33 {
        octal(&mut header[124..136], size);
    } else {
        header[128..136].copy_from_slice(&size.to_be_bytes());
        header[124] = 0x80;
    }
    octal(&mut header[136..148], 0);
    header[156] = b'0';
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    // The checksum counts its own field as eight spaces.
    let sum: u64 = header.iter().map(|&b| u64::from(b)).sum::<u64>() + 8 * u64::from(b' ');
    octal(&mut header[148..156], sum);
    Some(header)
}

/// Zero bytes after a member of `size` bytes, up to the next block.
pub fn padding(size: u64) -> usize {
    ((BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64) as usize
}

/// The size of the whole archive: each member's header, contents and padding, then the two
/// zero blocks that end it.
pub fn archive_size(sizes: impl IntoIterator<Item = u64>) -> u64 {
    sizes.into_iter().map(|size| BLOCK as u64 + size + padding(size) as u64).sum::<u64>() + 2 * BLOCK as u64
}

/// Reads a header's size field (octal, or base-256 when its first byte has the high bit set).
pub(super) fn header_size(field: &[u8]) -> Option<u64> {
    if field[0] & 0x80 != 0 {
        let bytes: [u8; 8] = field[4..12].try_into().ok()?;
        return Some(u64::from_be_bytes(bytes));
    }
    let digits = &field[..11];
    if field[11] != 0 || !digits.iter().all(|b| (b'0'..=b'7').contains(b)) {
        return None;
    }
    u64::from_str_radix(std::str::from_utf8(digits).ok()?, 8).ok()
}

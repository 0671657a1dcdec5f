//! CRC-32C (Castagnoli) of stored records and segment data.

/// CRC-32C (Castagnoli, the "iSCSI" CRC: every checksum on disk) by the `crc-fast`
/// crate, which picks at run time the fastest code the CPU has (VPCLMULQDQ with AVX-512,
/// PCLMULQDQ with SSE4.2, ... and a table where none). Measured on the development VM
/// (AMD EPYC, AVX-512) against the hand-written carry-less code it replaced and the
/// `crc32c` crate: 4 KiB in 0.09 µs vs 0.35 / 0.19-0.32 µs, 1 MiB in 18 µs vs 73-90 /
/// 38-54 µs.
pub fn crc32c(data: &[u8]) -> u32 {
    crc_fast::crc32_iscsi(data)
}

/// Continues a CRC-32C over more data: `crc32c_append(crc32c(a), b) == crc32c(a ++ b)`.
pub fn crc32c_append(crc: u32, data: &[u8]) -> u32 {
    if crc == 0 {
        return crc32c(data);
    }
    // The digest's state is the register before the final inversion.
    let mut d = crc_fast::Digest::new_with_init_state(crc_fast::CrcAlgorithm::Crc32Iscsi, u64::from(!crc));
    d.update(data);
    d.finalize() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bit by bit, from the definition: the oracle of the test below.
    fn crc32c_reference(crc: u32, data: &[u8]) -> u32 {
        let mut c = !crc;
        for &b in data {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 != 0 { 0x82F6_3B78 ^ (c >> 1) } else { c >> 1 };
            }
        }
        !c
    }

    #[test]
    fn crc32c_known_values() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c_reference(0, b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(b""), 0);
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
        assert_eq!(crc32c_append(crc32c(&data[..333]), &data[333..]), crc32c(&data));
        for n in [0usize, 1, 15, 16, 63, 64, 65, 79, 80, 127, 128, 129, 255, 256, 257, 1000, 4095, 4096, 4097, 8192, 12_345, 3 * 1360, 3 * 1360 + 1, 1 << 20] {
            let d: Vec<u8> = (0..n).map(|i| (i * 31 + i / 7) as u8).collect();
            assert_eq!(crc32c(&d), crc32c_reference(0, &d), "CRC of {n} bytes");
            assert_eq!(crc32c_append(5, &d), crc32c_reference(5, &d), "CRC of {n} bytes after 5");
            for cut in [0, n / 3, n] {
                assert_eq!(crc32c_append(crc32c(&d[..cut]), &d[cut..]), crc32c(&d), "{n} bytes cut at {cut}");
            }
        }
    }
}

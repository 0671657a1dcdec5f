//! CRC-32C (Castagnoli) of stored records and segment data.

/// CRC-32C (Castagnoli), hardware-accelerated where the CPU has SSE4.2
/// (and PCLMULQDQ for 64 bytes and more).
pub fn crc32c(data: &[u8]) -> u32 {
    crc32c_append(0, data)
}

/// Continues a CRC-32C over more data.
pub fn crc32c_append(crc: u32, data: &[u8]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    {
        if data.len() >= 64 && clmul_ok() {
            // SAFETY: the CPU supports SSE4.2 and PCLMULQDQ, checked just above.
            return unsafe { crc32c_clmul(crc, data) };
        }
        if std::arch::is_x86_feature_detected!("sse4.2") {
            // SAFETY: the CPU supports SSE4.2, checked just above.
            return unsafe { crc32c_sse42(crc, data) };
        }
    }
    crc32c_soft(crc, data)
}

/// Reflected CRC-32C polynomial.
const POLY: u32 = 0x82F6_3B78;

/// a(x) * b(x) modulo the CRC polynomial (reflected bit order: bit 31 is x^0).
fn mult_mod_p(a: u32, mut b: u32) -> u32 {
    let mut m = 1u32 << 31;
    let mut p = 0u32;
    loop {
        if a & m != 0 {
            p ^= b;
            if a & (m - 1) == 0 {
                break;
            }
        }
        m >>= 1;
        b = if b & 1 != 0 { (b >> 1) ^ POLY } else { b >> 1 };
        if m == 0 {
            break;
        }
    }
    p
}

/// x^n modulo the CRC polynomial (reflected).
fn xn_mod_p(n: u64) -> u32 {
    let mut result = 1u32 << 31; // x^0
    let mut sq = 1u32 << 30; // x^1
    let mut n = n;
    while n > 0 {
        if n & 1 != 0 {
            result = mult_mod_p(sq, result);
        }
        sq = mult_mod_p(sq, sq);
        n >>= 1;
    }
    result
}

#[cfg(target_arch = "x86_64")]
fn clmul_ok() -> bool {
    std::arch::is_x86_feature_detected!("sse4.2") && std::arch::is_x86_feature_detected!("pclmulqdq")
}

/// Folding constants: for a fold over `t` bits, the pair (x^(64+t-1),
/// x^(t-1)) mod P as 64-bit reflected values (the extra x^-1 cancels the one
/// bit a reflected carry-less multiply shifts by).
#[cfg(target_arch = "x86_64")]
fn fold_k(t: u64) -> (i64, i64) {
    let k = |n: u64| ((xn_mod_p(n) as u64) << 32) as i64;
    (k(64 + t - 1), k(t - 1))
}

#[cfg(target_arch = "x86_64")]
struct FoldK {
    k512: (i64, i64),
    k384: (i64, i64),
    k256: (i64, i64),
    k128: (i64, i64),
}

#[cfg(target_arch = "x86_64")]
fn fold_consts() -> &'static FoldK {
    static K: std::sync::OnceLock<FoldK> = std::sync::OnceLock::new();
    K.get_or_init(|| FoldK { k512: fold_k(512), k384: fold_k(384), k256: fold_k(256), k128: fold_k(128) })
}

/// CRC-32C by carry-less multiplication: four 16-byte lanes folded over
/// 64 bytes at a time, then into one, and the last 128 bits reduced with the
/// CRC instruction.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse4.2,pclmulqdq")]
unsafe fn crc32c_clmul(crc: u32, data: &[u8]) -> u32 {
    use std::arch::x86_64::*;
    let k = fold_consts();
    let n = data.len();
    let p = data.as_ptr();
    let load = |i: usize| _mm_loadu_si128(p.add(i) as *const __m128i);
    let kv = |c: (i64, i64)| _mm_set_epi64x(c.1, c.0);
    let fold = |x: __m128i, kk: __m128i| _mm_xor_si128(_mm_clmulepi64_si128(x, kk, 0x00), _mm_clmulepi64_si128(x, kk, 0x11));
    let mut x0 = _mm_xor_si128(load(0), _mm_cvtsi32_si128(!crc as i32));
    let (mut x1, mut x2, mut x3) = (load(16), load(32), load(48));
    let k4 = kv(k.k512);
    let mut i = 64;
    while i + 64 <= n {
        x0 = _mm_xor_si128(fold(x0, k4), load(i));
        x1 = _mm_xor_si128(fold(x1, k4), load(i + 16));
        x2 = _mm_xor_si128(fold(x2, k4), load(i + 32));
        x3 = _mm_xor_si128(fold(x3, k4), load(i + 48));
        i += 64;
    }
    let k1 = kv(k.k128);
    let mut x = _mm_xor_si128(_mm_xor_si128(fold(x0, kv(k.k384)), fold(x1, kv(k.k256))), _mm_xor_si128(fold(x2, k1), x3));
    while i + 16 <= n {
        x = _mm_xor_si128(fold(x, k1), load(i));
        i += 16;
    }
    let lo = _mm_cvtsi128_si64(x) as u64;
    let hi = _mm_extract_epi64(x, 1) as u64;
    let r = _mm_crc32_u64(_mm_crc32_u64(0, lo), hi) as u32;
    // The rest (< 16 bytes) continues from the register.
    crc32c_sse42(!r, &data[i..])
}

/// CRC-32C with the CRC instruction, 8 bytes at a time (short inputs, and
/// CPUs without carry-less multiplication).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse4.2")]
unsafe fn crc32c_sse42(crc: u32, data: &[u8]) -> u32 {
    use std::arch::x86_64::{_mm_crc32_u64, _mm_crc32_u8};
    let mut c = !crc as u64;
    let mut chunks = data.chunks_exact(8);
    for ch in &mut chunks {
        let v = u64::from_le_bytes(ch.try_into().unwrap());
        c = _mm_crc32_u64(c, v);
    }
    let mut c = c as u32;
    for &b in chunks.remainder() {
        c = _mm_crc32_u8(c, b);
    }
    !c
}

fn crc32c_soft(crc: u32, data: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let t = TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (i, e) in t.iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 { 0x82F6_3B78 ^ (c >> 1) } else { c >> 1 };
            }
            *e = c;
        }
        t
    });
    let mut c = !crc;
    for &b in data {
        c = t[((c ^ b as u32) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_known_values() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c_soft(0, b"123456789"), 0xE306_9283);
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
        assert_eq!(crc32c(&data), crc32c_soft(0, &data));
        assert_eq!(crc32c_append(crc32c(&data[..333]), &data[333..]), crc32c(&data));
        for n in [0usize, 1, 15, 16, 63, 64, 65, 79, 80, 127, 128, 129, 1000, 4095, 4096, 4097, 8192, 12_345, 3 * 1360, 3 * 1360 + 1] {
            let d: Vec<u8> = (0..n).map(|i| (i * 31 + i / 7) as u8).collect();
            assert_eq!(crc32c(&d), crc32c_soft(0, &d), "CRC of {n} bytes");
            assert_eq!(crc32c_append(5, &d), crc32c_soft(5, &d));
            #[cfg(target_arch = "x86_64")]
            if n >= 64 && clmul_ok() {
                // SAFETY: the features were checked just above.
                assert_eq!(unsafe { crc32c_clmul(7, &d) }, crc32c_soft(7, &d), "carry-less CRC of {n} bytes");
            }
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("sse4.2") {
                // SAFETY: as above.
                assert_eq!(unsafe { crc32c_sse42(9, &d) }, crc32c_soft(9, &d), "CRC instruction over {n} bytes");
            }
        }
    }
}

#[cfg(test)]
mod perf {
    #[test]
    #[ignore]
    fn crc_speed() {
        let d = vec![7u8; 4096];
        let t = std::time::Instant::now();
        let mut x = 0;
        for _ in 0..100_000 {
            x ^= super::crc32c(&d);
        }
        eprintln!("crc32c 4 KiB: {:?} each ({x})", t.elapsed() / 100_000);
    }
}

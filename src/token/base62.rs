//! Fixed-width base62 (`0-9A-Za-z`) encoding of big-endian numbers, as the token format needs.
//!
//! General-purpose base-x crates treat leading zero bytes specially (one digit per zero byte,
//! as Base58Check does); the token format instead wants the plain number left-padded to a fixed
//! width, which is a few lines of long division.

/// The base62 digits in ascending order.
pub const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Width of 32 random bytes in base62: 62^43 > 2^256 > 62^42.
pub const BODY_LEN: usize = 43;

/// Width of a CRC32 in base62: 62^6 > 2^32 > 62^5.
pub const CHECKSUM_LEN: usize = 6;

/// Encodes 32 bytes, read as one big-endian number, as exactly [`BODY_LEN`] digits.
pub fn encode_body(bytes: &[u8; 32]) -> [u8; BODY_LEN] {
    let mut number = *bytes;
    let mut out = [b'0'; BODY_LEN];
    for slot in out.iter_mut().rev() {
        // Divide the whole number by 62 in place; the remainder is the next digit.
        let mut remainder: u32 = 0;
        for byte in number.iter_mut() {
            let acc = (remainder << 8) | u32::from(*byte);
            *byte = (acc / 62) as u8;
            remainder = acc % 62;
        }
        *slot = ALPHABET[remainder as usize];
    }
    out
}

/// Encodes a CRC32 value as exactly [`CHECKSUM_LEN`] digits.
pub fn encode_checksum(mut value: u32) -> [u8; CHECKSUM_LEN] {
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(value % 62) as usize];
        value /= 62;
    }
    out
}

/// Whether `byte` is a base62 digit.
pub fn is_digit(byte: u8) -> bool {
    byte.is_ascii_alphanumeric()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_is_all_zero_digits() {
        assert_eq!(&encode_body(&[0; 32]), b"0000000000000000000000000000000000000000000");
        assert_eq!(&encode_checksum(0), b"000000");
    }

    #[test]
    fn small_numbers_are_left_padded() {
        let mut one = [0u8; 32];
        one[31] = 61;
        assert_eq!(&encode_body(&one)[40..], b"00z");
        one[31] = 62;
        assert_eq!(&encode_body(&one)[40..], b"010");
        assert_eq!(&encode_checksum(62 * 62 + 1), b"000101");
    }

    #[test]
    fn largest_values_fit_the_fixed_width() {
        let max = encode_body(&[0xff; 32]);
        // 2^256 - 1 in base62 starts with a non-zero digit because it needs all 43 places.
        assert_ne!(max[0], b'0');
        assert_eq!(&encode_checksum(u32::MAX), b"4gfFC3");
    }
}

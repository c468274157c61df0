//! Byte classes as lookup tables, for the parsers on the request path: one load per byte
//! instead of a search through a list of punctuation.

/// The class of ASCII letters and digits plus the bytes of `extra`.
pub const fn alphanumeric_and(extra: &[u8]) -> [bool; 256] {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        table[byte] = (byte as u8).is_ascii_alphanumeric();
        byte += 1;
    }
    let mut i = 0;
    while i < extra.len() {
        table[extra[i] as usize] = true;
        i += 1;
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_class_holds_exactly_the_letters_digits_and_extras() {
        let class = alphanumeric_and(b"-._~");
        for byte in 0..=255u8 {
            let expected = byte.is_ascii_alphanumeric() || b"-._~".contains(&byte);
            assert_eq!(class[usize::from(byte)], expected, "byte {byte:#04x}");
        }
    }
}

//! A small, defensive protobuf wire-format reader (and the few encoding
//! helpers [`super::with_extra_outputs`] needs).
//!
//! Safety properties, all by construction:
//! - no panics: every read is bounds-checked and every failure is a
//!   [`DecodeError`] with the absolute byte offset and what was expected;
//! - no unbounded allocation: the reader never allocates; a length field is
//!   checked against the bytes actually left in the enclosing message before
//!   anything is sliced, so a claimed length of 2^60 is an error, not an
//!   allocation;
//! - no recursion: skipping an unknown length-delimited field is O(1) (its
//!   bytes are never looked at), and groups (wire types 3 and 4, unused by
//!   ONNX) are rejected rather than walked.

use std::fmt;

/// A decoding failure: where (absolute byte offset in the file), what went
/// wrong, and the chain of message fields that led there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DecodeError {
    /// Absolute byte offset in the decoded buffer.
    pub offset: usize,
    /// What was expected and what was found.
    pub message: String,
    /// Innermost first: e.g. `["NodeProto.name", "GraphProto.node[3]", "ModelProto.graph"]`.
    context: Vec<String>,
}

impl DecodeError {
    pub(crate) fn new(offset: usize, message: impl Into<String>) -> Self {
        DecodeError {
            offset,
            message: message.into(),
            context: Vec::new(),
        }
    }

    /// Adds an enclosing field to the context (call from the inside out).
    pub(crate) fn within(mut self, field: impl Into<String>) -> Self {
        self.context.push(field.into());
        self
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte {}", self.offset)?;
        if !self.context.is_empty() {
            f.write_str(" (in ")?;
            for (i, c) in self.context.iter().rev().enumerate() {
                if i > 0 {
                    f.write_str(" > ")?;
                }
                f.write_str(c)?;
            }
            f.write_str(")")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Result of a decoding step.
pub(crate) type DResult<T> = std::result::Result<T, DecodeError>;

/// A borrowed byte range together with its absolute offset in the file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slice<'a> {
    /// The bytes.
    pub bytes: &'a [u8],
    /// Absolute offset of `bytes[0]`.
    pub offset: usize,
}

impl<'a> Slice<'a> {
    /// The whole buffer, starting at offset 0.
    pub(crate) fn whole(bytes: &'a [u8]) -> Self {
        Slice { bytes, offset: 0 }
    }
}

/// The payload of one field, by wire type.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Value<'a> {
    /// Wire type 0.
    Varint(u64),
    /// Wire type 1 (its 8 bytes are skipped: no ONNX field Luigi reads is fixed64).
    Fixed64,
    /// Wire type 2: strings, bytes, sub-messages, packed repeated scalars.
    Bytes(Slice<'a>),
    /// Wire type 5.
    Fixed32(u32),
}

impl Value<'_> {
    fn kind(&self) -> &'static str {
        match self {
            Value::Varint(_) => "a varint (wire type 0)",
            Value::Fixed64 => "a fixed64 (wire type 1)",
            Value::Bytes(_) => "a length-delimited value (wire type 2)",
            Value::Fixed32(_) => "a fixed32 (wire type 5)",
        }
    }
}

/// One decoded field: its number, where its tag starts, and its payload.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field<'a> {
    /// Field number (1 ..= 2^29 - 1).
    pub number: u32,
    /// Absolute offset of the field's tag.
    pub offset: usize,
    /// The payload.
    pub value: Value<'a>,
}

impl<'a> Field<'a> {
    fn mismatch(&self, name: &str, expected: &str) -> DecodeError {
        DecodeError::new(
            self.offset,
            format!(
                "field {} ({name}) should be {expected}, found {}",
                self.number,
                self.value.kind()
            ),
        )
    }

    /// A length-delimited payload (sub-message or bytes).
    pub(crate) fn bytes(&self, name: &str) -> DResult<Slice<'a>> {
        match self.value {
            Value::Bytes(s) => Ok(s),
            _ => Err(self.mismatch(name, "a length-delimited value (wire type 2)")),
        }
    }

    /// A UTF-8 string (a protobuf `string` field).
    pub(crate) fn string(&self, name: &str) -> DResult<String> {
        let s = self.bytes(name)?;
        match std::str::from_utf8(s.bytes) {
            Ok(text) => Ok(text.to_owned()),
            Err(e) => Err(DecodeError::new(
                s.offset + e.valid_up_to(),
                format!(
                    "field {} ({name}) should be UTF-8 text, found an invalid byte",
                    self.number
                ),
            )),
        }
    }

    /// A protobuf `bytes` field read as text, invalid UTF-8 replaced by U+FFFD.
    pub(crate) fn lossy_string(&self, name: &str) -> DResult<String> {
        let s = self.bytes(name)?;
        Ok(String::from_utf8_lossy(s.bytes).into_owned())
    }

    /// An `int64` (two's complement in a varint).
    pub(crate) fn int64(&self, name: &str) -> DResult<i64> {
        match self.value {
            // Reinterpreting the 64 bits is how protobuf encodes negative int64.
            Value::Varint(v) => Ok(v as i64),
            _ => Err(self.mismatch(name, "a varint (wire type 0)")),
        }
    }

    /// An `int32`/enum (sign-extended varint, truncated to 32 bits as protobuf does).
    pub(crate) fn int32(&self, name: &str) -> DResult<i32> {
        self.int64(name).map(|v| v as i32)
    }

    /// A `float` (fixed32).
    pub(crate) fn float(&self, name: &str) -> DResult<f32> {
        match self.value {
            Value::Fixed32(v) => Ok(f32::from_bits(v)),
            _ => Err(self.mismatch(name, "a fixed32 (wire type 5)")),
        }
    }

    /// One element of a `repeated int64`, or a packed run of them; appended to `out`.
    pub(crate) fn push_int64s(&self, name: &str, out: &mut Vec<i64>) -> DResult<()> {
        match self.value {
            Value::Varint(v) => {
                out.push(v as i64);
                Ok(())
            }
            Value::Bytes(s) => {
                let mut r = Reader::new(s);
                while !r.at_end() {
                    let v = r.varint().map_err(|e| {
                        DecodeError::new(
                            e.offset,
                            format!("packed field {} ({name}): {}", self.number, e.message),
                        )
                    })?;
                    out.push(v as i64);
                }
                Ok(())
            }
            _ => Err(self.mismatch(name, "a varint or a packed run of varints")),
        }
    }

    /// One element of a `repeated float`, or a packed run of them; appended to `out`.
    pub(crate) fn push_floats(&self, name: &str, out: &mut Vec<f32>) -> DResult<()> {
        match self.value {
            Value::Fixed32(v) => {
                out.push(f32::from_bits(v));
                Ok(())
            }
            Value::Bytes(s) => {
                if s.bytes.len() % 4 != 0 {
                    return Err(DecodeError::new(
                        s.offset,
                        format!(
                            "packed field {} ({name}) should hold whole 4-byte floats, found {} bytes",
                            self.number,
                            s.bytes.len()
                        ),
                    ));
                }
                out.extend(
                    s.bytes
                        .chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
                );
                Ok(())
            }
            _ => Err(self.mismatch(name, "a fixed32 or a packed run of fixed32")),
        }
    }
}

/// Iterates over the fields of one message, in order.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Reader<'a> {
    /// A reader over one message's bytes.
    pub(crate) fn new(slice: Slice<'a>) -> Self {
        Reader {
            bytes: slice.bytes,
            pos: 0,
            base: slice.offset,
        }
    }

    /// Absolute offset of the next unread byte: after [`Reader::next_field`],
    /// the end of the field it returned.
    pub(crate) fn position(&self) -> usize {
        self.base + self.pos
    }

    fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    fn varint(&mut self) -> DResult<u64> {
        let start = self.pos;
        let mut value: u64 = 0;
        for i in 0..10u32 {
            let Some(&b) = self.bytes.get(self.pos) else {
                return Err(DecodeError::new(
                    self.base + start,
                    format!(
                        "expected a varint, but the data ends after {} of its bytes",
                        self.pos - start
                    ),
                ));
            };
            self.pos += 1;
            if i == 9 && b > 1 {
                return Err(DecodeError::new(
                    self.base + start,
                    "expected a varint of at most 64 bits, found a longer one",
                ));
            }
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        // Unreachable in practice: the 10th byte either ends the varint or errs above.
        Err(DecodeError::new(
            self.base + start,
            "expected a varint of at most 10 bytes",
        ))
    }

    fn take(&mut self, n: usize, what: &str) -> DResult<&'a [u8]> {
        let start = self.pos;
        match self.bytes.get(start..start.saturating_add(n)) {
            Some(s) if n <= self.remaining() => {
                self.pos += n;
                Ok(s)
            }
            _ => Err(DecodeError::new(
                self.base + start,
                format!(
                    "expected {n} bytes of {what}, but only {} remain",
                    self.remaining()
                ),
            )),
        }
    }

    /// The next field, or `None` at the end of the message.
    pub(crate) fn next_field(&mut self) -> DResult<Option<Field<'a>>> {
        if self.at_end() {
            return Ok(None);
        }
        let offset = self.base + self.pos;
        let tag = self.varint().map_err(|e| DecodeError {
            message: format!("field tag: {}", e.message),
            ..e
        })?;
        let number = tag >> 3;
        if number == 0 || number > (1 << 29) - 1 {
            return Err(DecodeError::new(
                offset,
                format!(
                    "expected a field tag with a field number in 1..=536870911, found {number} \
                     (the data is corrupt or not protobuf)"
                ),
            ));
        }
        // Checked above: fits in 29 bits.
        let number = number as u32;
        let value = match tag & 7 {
            0 => Value::Varint(self.varint().map_err(|e| DecodeError {
                message: format!("value of field {number}: {}", e.message),
                ..e
            })?),
            1 => {
                self.take(8, "a fixed64 value")?;
                Value::Fixed64
            }
            2 => {
                let len_at = self.base + self.pos;
                let len = self.varint().map_err(|e| DecodeError {
                    message: format!("length of field {number}: {}", e.message),
                    ..e
                })?;
                let remaining = self.remaining();
                if len > remaining as u64 {
                    return Err(DecodeError::new(
                        len_at,
                        format!(
                            "field {number} claims a length of {len} bytes, but only {remaining} \
                             remain in the enclosing message (truncated or corrupt file)"
                        ),
                    ));
                }
                // Checked above: len <= remaining, which is a usize.
                let start = self.pos;
                let bytes = self.take(len as usize, "a length-delimited value")?;
                Value::Bytes(Slice {
                    bytes,
                    offset: self.base + start,
                })
            }
            5 => {
                let b = self.take(4, "a fixed32 value")?;
                Value::Fixed32(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            }
            w => {
                return Err(DecodeError::new(
                    offset,
                    format!(
                        "field {number} has wire type {w}; expected 0, 1, 2 or 5 \
                         (groups and unknown wire types do not occur in ONNX files)"
                    ),
                ))
            }
        };
        Ok(Some(Field {
            number,
            offset,
            value,
        }))
    }
}

/// Appends a varint.
pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends a length-delimited field (`number`, wire type 2) holding `payload`.
pub(crate) fn put_bytes_field(out: &mut Vec<u8>, number: u32, payload: &[u8]) {
    put_varint(out, (u64::from(number) << 3) | 2);
    put_varint(out, payload.len() as u64);
    out.extend_from_slice(payload);
}

/// Test-only encoders for hand-built messages.
#[cfg(test)]
pub(crate) mod enc {
    pub(crate) use super::{put_bytes_field, put_varint};

    /// A varint field.
    pub(crate) fn varint_field(out: &mut Vec<u8>, number: u32, v: u64) {
        put_varint(out, u64::from(number) << 3);
        put_varint(out, v);
    }

    /// A fixed32 field.
    pub(crate) fn fixed32_field(out: &mut Vec<u8>, number: u32, v: u32) {
        put_varint(out, (u64::from(number) << 3) | 5);
        out.extend_from_slice(&v.to_le_bytes());
    }

    /// A message field built by `f`.
    pub(crate) fn msg(out: &mut Vec<u8>, number: u32, f: impl FnOnce(&mut Vec<u8>)) {
        let mut inner = Vec::new();
        f(&mut inner);
        put_bytes_field(out, number, &inner);
    }

    /// A string field.
    pub(crate) fn string(out: &mut Vec<u8>, number: u32, s: &str) {
        put_bytes_field(out, number, s.as_bytes());
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::enc::*;
    use super::*;

    fn fields(bytes: &[u8]) -> DResult<Vec<(u32, usize)>> {
        let mut r = Reader::new(Slice::whole(bytes));
        let mut out = Vec::new();
        while let Some(f) = r.next_field()? {
            out.push((f.number, f.offset));
        }
        Ok(out)
    }

    #[test]
    fn varints_round_trip_including_negative_int64() {
        for v in [
            0u64,
            1,
            127,
            128,
            300,
            u64::from(u32::MAX),
            u64::MAX,
            (-5i64) as u64,
        ] {
            let mut b = Vec::new();
            varint_field(&mut b, 3, v);
            let mut r = Reader::new(Slice::whole(&b));
            let f = r.next_field().unwrap().unwrap();
            assert_eq!(f.number, 3);
            assert_eq!(f.int64("x").unwrap(), v as i64);
            assert!(r.next_field().unwrap().is_none());
        }
    }

    #[test]
    fn overlong_varint_is_rejected() {
        let mut b = vec![0x08];
        b.extend_from_slice(&[0xff; 10]);
        b.push(0x01);
        let e = fields(&b).unwrap_err();
        assert_eq!(e.offset, 1);
        assert!(e.message.contains("at most 64 bits"), "{e}");
    }

    #[test]
    fn huge_length_is_an_error_not_an_allocation() {
        let mut b = Vec::new();
        put_varint(&mut b, (7 << 3) | 2);
        put_varint(&mut b, 1u64 << 60);
        b.extend_from_slice(b"abc");
        let e = fields(&b).unwrap_err();
        assert_eq!(e.offset, 1);
        assert!(e.message.contains("1152921504606846976"), "{e}");
        assert!(e.message.contains("only 3 remain"), "{e}");
    }

    #[test]
    fn truncated_fixed_values_and_groups_are_errors() {
        let e = fields(&[0x0d, 1, 2]).unwrap_err();
        assert!(e.message.contains("expected 4 bytes"), "{e}");
        let e = fields(&[0x09, 1, 2, 3]).unwrap_err();
        assert!(e.message.contains("expected 8 bytes"), "{e}");
        let e = fields(&[0x0b]).unwrap_err();
        assert!(e.message.contains("wire type 3"), "{e}");
        let e = fields(&[0x00]).unwrap_err();
        assert!(e.message.contains("field number"), "{e}");
        let e = fields(&[0x80]).unwrap_err();
        assert!(e.message.contains("field tag"), "{e}");
    }

    #[test]
    fn packed_and_unpacked_repeated_scalars() {
        let mut packed = Vec::new();
        for v in [1u64, 300, (-2i64) as u64] {
            put_varint(&mut packed, v);
        }
        let mut b = Vec::new();
        put_bytes_field(&mut b, 8, &packed);
        varint_field(&mut b, 8, 9);
        let mut r = Reader::new(Slice::whole(&b));
        let mut ints = Vec::new();
        while let Some(f) = r.next_field().unwrap() {
            f.push_int64s("ints", &mut ints).unwrap();
        }
        assert_eq!(ints, vec![1, 300, -2, 9]);

        let mut b = Vec::new();
        let fl: Vec<u8> = [1.5f32, -2.0]
            .iter()
            .flat_map(|f| f.to_le_bytes())
            .collect();
        put_bytes_field(&mut b, 7, &fl);
        fixed32_field(&mut b, 7, 0.25f32.to_bits());
        let mut r = Reader::new(Slice::whole(&b));
        let mut floats = Vec::new();
        while let Some(f) = r.next_field().unwrap() {
            f.push_floats("floats", &mut floats).unwrap();
        }
        assert_eq!(floats, vec![1.5, -2.0, 0.25]);

        let mut b = Vec::new();
        put_bytes_field(&mut b, 7, &[0, 0, 0]);
        let f = Reader::new(Slice::whole(&b)).next_field().unwrap().unwrap();
        let e = f.push_floats("floats", &mut floats).unwrap_err();
        assert!(e.message.contains("whole 4-byte floats"), "{e}");
    }

    #[test]
    fn wire_type_mismatch_names_the_field_and_expectation() {
        let mut b = Vec::new();
        varint_field(&mut b, 3, 5);
        let f = Reader::new(Slice::whole(&b)).next_field().unwrap().unwrap();
        let e = f.string("NodeProto.name").unwrap_err();
        assert_eq!(
            e.to_string(),
            "at byte 0: field 3 (NodeProto.name) should be a length-delimited value \
             (wire type 2), found a varint (wire type 0)"
        );
        let e = e.within("GraphProto.node[0]").within("ModelProto.graph");
        assert!(e
            .to_string()
            .contains("(in ModelProto.graph > GraphProto.node[0])"));
    }

    #[test]
    fn invalid_utf8_in_a_string_field_points_at_the_byte() {
        let mut b = Vec::new();
        put_bytes_field(&mut b, 1, &[b'o', b'k', 0xff]);
        let f = Reader::new(Slice::whole(&b)).next_field().unwrap().unwrap();
        let e = f.string("ValueInfoProto.name").unwrap_err();
        assert_eq!(e.offset, 4);
        assert_eq!(f.lossy_string("s").unwrap(), "ok\u{fffd}");
    }
}

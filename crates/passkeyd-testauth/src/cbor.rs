//! A tiny CBOR writer that owns the exact bytes of every structure this authenticator emits.
//!
//! A hand-written writer is used instead of a generic serializer because tests need to splice
//! raw, possibly malformed, bytes into the middle of otherwise valid structures, and because
//! the canonical (CTAP2) encoding must be byte-for-byte predictable.

/// One CBOR data item to be written.
///
/// Maps keep the order in which entries are given: callers are responsible for giving them in
/// canonical CTAP2 order, which every constructor in this crate does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Item {
    /// A signed integer, written as major type 0 or 1 in its shortest form.
    Int(i64),
    /// A byte string (major type 2).
    Bytes(Vec<u8>),
    /// A UTF-8 text string (major type 3).
    Text(String),
    /// An array (major type 4).
    Array(Vec<Item>),
    /// A map (major type 5) whose entries are written in the given order.
    Map(Vec<(Item, Item)>),
    /// Bytes copied verbatim, so a test can inject anything, valid CBOR or not.
    Raw(Vec<u8>),
}

impl Item {
    /// Shorthand for a text item, because most map keys in WebAuthn are text.
    pub(crate) fn text(s: &str) -> Self {
        Item::Text(s.to_owned())
    }

    /// Encodes the item into a fresh buffer.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write(&mut out);
        out
    }

    /// Appends the encoding of the item to `out`.
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        match self {
            Item::Int(v) if *v >= 0 => write_head(out, 0, v.unsigned_abs()),
            // CBOR stores a negative integer n as the unsigned value -1 - n.
            Item::Int(v) => write_head(out, 1, (-1 - *v).unsigned_abs()),
            Item::Bytes(b) => {
                write_head(out, 2, b.len() as u64);
                out.extend_from_slice(b);
            }
            Item::Text(s) => {
                write_head(out, 3, s.len() as u64);
                out.extend_from_slice(s.as_bytes());
            }
            Item::Array(items) => {
                write_head(out, 4, items.len() as u64);
                for item in items {
                    item.write(out);
                }
            }
            Item::Map(entries) => {
                write_head(out, 5, entries.len() as u64);
                for (k, v) in entries {
                    k.write(out);
                    v.write(out);
                }
            }
            Item::Raw(bytes) => out.extend_from_slice(bytes),
        }
    }
}

/// Writes a CBOR initial byte plus argument in the shortest form, as canonical CBOR requires.
fn write_head(out: &mut Vec<u8>, major: u8, value: u64) {
    let mt = major << 5;
    if value < 24 {
        out.push(mt | value as u8);
    } else if let Ok(v) = u8::try_from(value) {
        out.push(mt | 24);
        out.push(v);
    } else if let Ok(v) = u16::try_from(value) {
        out.push(mt | 25);
        out.extend_from_slice(&v.to_be_bytes());
    } else if let Ok(v) = u32::try_from(value) {
        out.push(mt | 26);
        out.extend_from_slice(&v.to_be_bytes());
    } else {
        out.push(mt | 27);
        out.extend_from_slice(&value.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::Item;

    #[test]
    fn integers_use_shortest_form() {
        assert_eq!(Item::Int(1).encode(), [0x01]);
        assert_eq!(Item::Int(-1).encode(), [0x20]);
        assert_eq!(Item::Int(-7).encode(), [0x26]);
        assert_eq!(Item::Int(-257).encode(), [0x39, 0x01, 0x00]);
        assert_eq!(Item::Int(24).encode(), [0x18, 24]);
        assert_eq!(Item::Int(70000).encode(), [0x1a, 0x00, 0x01, 0x11, 0x70]);
    }

    #[test]
    fn strings_and_containers_match_ciborium() {
        let item = Item::Map(vec![
            (Item::text("fmt"), Item::text("none")),
            (Item::text("attStmt"), Item::Map(vec![])),
            (
                Item::text("x"),
                Item::Array(vec![Item::Bytes(vec![0; 300])]),
            ),
        ]);
        let decoded: ciborium::Value = ciborium::from_reader(item.encode().as_slice()).unwrap();
        let mut reencoded = Vec::new();
        ciborium::into_writer(&decoded, &mut reencoded).unwrap();
        assert_eq!(reencoded, item.encode());
    }
}

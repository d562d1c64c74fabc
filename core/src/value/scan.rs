//! A reader for JSON exactly as cairn writes it: compact, in its own field order.
//!
//! Why: a no-op plan reads the whole state, and through serde a third of its time went to
//! serde's general machinery (keys matched as identifiers, whitespace skipped around every
//! token, a visitor call per value) rather than to the bytes. This reader walks the bytes
//! of the one layout cairn writes and builds the same values, maps and lists as serde's
//! reader: lists at their exact size ([`super::read`]), maps with their names shared
//! ([`super::names`]), found for most maps by comparing the text with the names the last
//! map at the same depth had.
//!
//! Its contract is to say `None` rather than guess: whitespace, a float, a number outside
//! what it reads, anything not where cairn would put it, and the caller reads the same text
//! with serde instead, which gives the same result or words the error. What is rare (a
//! tagged value, a string with escapes, a list of pending operations) it hands to
//! serde_json as a slice, so those mean what serde says by construction.

use super::attrs::sorted_unique;
use super::names::{intern_strs, Names};
use super::read::exact;
use super::{Attrs, Text, Value};
use std::borrow::Cow;
use std::sync::Arc;

/// A position in a text being read, with the buffers its maps and lists are read into
/// (one per nesting depth, kept from one map to the next).
#[derive(Debug, Default)]
pub(crate) struct Scan<'a> {
    text: &'a str,
    pos: usize,
    /// How many maps the position is inside.
    depth: usize,
    /// A map's names as they stand in the text: no string is made for a name that only
    /// finds the map's shared list of names.
    names: Vec<Vec<Cow<'a, str>>>,
    /// A map's values.
    values: Vec<Vec<Value>>,
    /// The list of names the last map at each depth had: the next one mostly has it too
    /// (every security group's rules), found with no lookup.
    last_names: Vec<Option<Arc<Names>>>,
    /// A list's items.
    items: Vec<Vec<Value>>,
    /// A list of strings' items.
    texts: Vec<Text>,
    /// The text holds no backslash and no control character: every string in it ends at
    /// its next quote (most states; any other is read the careful way throughout).
    plain: bool,
}

impl<'a> Scan<'a> {
    /// At the start of `text`.
    pub(crate) fn new(text: &'a str) -> Self {
        // By blocks, each folded without a branch, which the compiler vectorises.
        let plain = text.as_bytes().chunks(64).all(|block| {
            !block
                .iter()
                .fold(false, |seen, &b| seen | (b < 0x20) | (b == b'\\'))
        });
        Scan {
            text,
            plain,
            ..Scan::default()
        }
    }

    /// Whether all of the text has been read.
    pub(crate) fn at_end(&self) -> bool {
        self.pos == self.text.len()
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    #[inline]
    fn next_byte(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    /// Read `expected` exactly.
    #[inline]
    pub(crate) fn lit(&mut self, expected: &str) -> Option<()> {
        self.eat(expected).then_some(())
    }

    /// Read `expected` if it comes next.
    #[inline]
    pub(crate) fn eat(&mut self, expected: &str) -> bool {
        let found = self.text.as_bytes()[self.pos..].starts_with(expected.as_bytes());
        if found {
            self.pos += expected.len();
        }
        found
    }

    /// A string as it stands between its quotes, and whether it holds an escape (then with
    /// its quotes, for serde to decode).
    #[inline]
    fn raw_str(&mut self) -> Option<(&'a str, bool)> {
        let bytes = self.text.as_bytes();
        if bytes.get(self.pos) != Some(&b'"') {
            return None;
        }
        let start = self.pos + 1;
        if self.plain {
            let end = start + next_quote(&bytes[start..])?;
            self.pos = end + 1;
            return Some((self.text.get(start..end)?, false));
        }
        let mut i = start + plain_run(&bytes[start..]);
        loop {
            match *bytes.get(i)? {
                b'"' => {
                    self.pos = i + 1;
                    return Some((self.text.get(start..i)?, false));
                }
                b'\\' => break,
                // Raw control characters are not JSON; serde refuses them.
                c if c < 0x20 => return None,
                _ => i += 1,
            }
        }
        loop {
            match *bytes.get(i)? {
                b'\\' => i += 2,
                b'"' => break,
                c if c < 0x20 => return None,
                _ => i += 1,
            }
        }
        self.pos = i + 1;
        Some((self.text.get(start - 1..i + 1)?, true))
    }

    /// A string.
    #[inline]
    pub(crate) fn text(&mut self) -> Option<Text> {
        match self.raw_str()? {
            (s, false) => Some(Text::new(s)),
            (quoted, true) => serde_json::from_str::<String>(quoted).ok().map(Text::from),
        }
    }

    /// A string, borrowed from the text when it holds no escape.
    #[inline]
    fn name(&mut self) -> Option<Cow<'a, str>> {
        match self.raw_str()? {
            (s, false) => Some(Cow::Borrowed(s)),
            (quoted, true) => serde_json::from_str::<String>(quoted).ok().map(Cow::Owned),
        }
    }

    /// A string, as a `String`.
    pub(crate) fn string(&mut self) -> Option<String> {
        match self.raw_str()? {
            (s, false) => Some(s.to_string()),
            (quoted, true) => serde_json::from_str(quoted).ok(),
        }
    }

    /// An integer as serde_json writes one: `-`, then digits with no leading zero, no
    /// fraction or exponent. `-0` is left to serde: serde_json reads it as a float, which
    /// a [`Value`] refuses.
    pub(crate) fn int(&mut self) -> Option<i64> {
        let negative = self.eat("-");
        let n = self.digits()?;
        if negative {
            (n != 0).then(|| 0i64.checked_sub_unsigned(n)).flatten()
        } else {
            i64::try_from(n).ok()
        }
    }

    /// A non-negative integer (see [`Scan::int`]).
    pub(crate) fn uint(&mut self) -> Option<u64> {
        self.digits()
    }

    fn digits(&mut self) -> Option<u64> {
        let bytes = self.text.as_bytes();
        let mut i = self.pos;
        let first = *bytes.get(i)?;
        if !first.is_ascii_digit() {
            return None;
        }
        let mut n = u64::from(first - b'0');
        i += 1;
        if first != b'0' {
            while let Some(&c) = bytes.get(i).filter(|c| c.is_ascii_digit()) {
                n = n.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
                i += 1;
            }
        }
        // A fraction, an exponent or a leading zero: not an integer as serde_json writes one.
        if matches!(bytes.get(i), Some(b'.' | b'e' | b'E' | b'0'..=b'9')) {
            return None;
        }
        self.pos = i;
        Some(n)
    }

    /// `true` or `false`.
    pub(crate) fn bool(&mut self) -> Option<bool> {
        if self.eat("true") {
            Some(true)
        } else if self.eat("false") {
            Some(false)
        } else {
            None
        }
    }

    /// Any attribute value, as [`Value`]'s serde form reads it.
    pub(crate) fn value(&mut self) -> Option<Value> {
        Some(match self.peek()? {
            b'"' => Value::Str(self.text()?),
            b'-' | b'0'..=b'9' => Value::Int(self.int()?),
            b't' | b'f' => Value::Bool(self.bool()?),
            b'n' => {
                self.lit("null")?;
                Value::Null
            }
            b'[' => Value::List(self.list()?),
            b'{' => self.map_value()?,
            _ => return None,
        })
    }

    fn list(&mut self) -> Option<Vec<Value>> {
        self.lit("[")?;
        if self.eat("]") {
            return Some(Vec::new());
        }
        let mut buf = self.items.pop().unwrap_or_default();
        let list = self.items_into(&mut buf, Self::value);
        self.items.push(buf);
        list
    }

    /// A list's items after its first `[`, each read by `item`, through `buf` (left empty
    /// with its room) into a vector of exactly their number.
    fn items_into<T>(
        &mut self,
        buf: &mut Vec<T>,
        mut item: impl FnMut(&mut Self) -> Option<T>,
    ) -> Option<Vec<T>> {
        let list = loop {
            let Some(x) = item(self) else {
                break None;
            };
            buf.push(x);
            match self.next_byte() {
                Some(b',') => {}
                Some(b']') => break Some(exact(buf)),
                _ => break None,
            }
        };
        buf.clear();
        list
    }

    /// A map value: tagged forms (a first name starting with `$`) go to serde.
    fn map_value(&mut self) -> Option<Value> {
        let start = self.pos;
        self.lit("{")?;
        if self.eat("}") {
            return Some(Value::Map(Attrs::new()));
        }
        let tagged = self.name()?.starts_with('$');
        self.pos = start;
        if tagged {
            return self.serde::<Value>();
        }
        self.attrs().map(Value::Map)
    }

    /// A map of attributes (names taken as they are, as [`Attrs`]' serde form does).
    pub(crate) fn attrs(&mut self) -> Option<Attrs> {
        self.lit("{")?;
        if self.eat("}") {
            return Some(Attrs::default());
        }
        let depth = self.depth;
        if self.names.len() <= depth {
            self.names.resize_with(depth + 1, Vec::new);
            self.values.resize_with(depth + 1, Vec::new);
            self.last_names.resize_with(depth + 1, || None);
        }
        let mut names = std::mem::take(&mut self.names[depth]);
        let mut values = std::mem::take(&mut self.values[depth]);
        self.depth += 1;
        let start = self.pos;
        // Mostly the map has the names the last one at its depth had: each is then found
        // by comparing the text with it, no string read. Exact only where no string holds
        // an escape (else a name's text and the name differ); on any other name, read the
        // map again the general way.
        let expected = self.last_names[depth].clone().filter(|_| self.plain);
        if let Some(expected) = expected {
            match self.entries_named(&expected, &mut values) {
                Some(true) => {
                    self.depth -= 1;
                    let attrs = Attrs::from_parts(expected, values.drain(..).collect());
                    self.names[depth] = names;
                    self.values[depth] = values;
                    return Some(attrs);
                }
                // Another name, or text the general way refuses too (and says where).
                Some(false) | None => {
                    values.clear();
                    self.pos = start;
                }
            }
        }
        let read = self.entries(&mut names, &mut values);
        self.depth -= 1;
        let attrs = read.map(|()| {
            let last = &mut self.last_names[depth];
            let shared = match last {
                // The last map's names (sorted and unique, so these are too).
                Some(l) if l.0.iter().map(Text::as_str).eq(names.iter().map(|n| &**n)) => l.clone(),
                _ if names.windows(2).all(|w| w[0] < w[1]) => {
                    last.insert(intern_strs(&names)).clone()
                }
                _ => {
                    // Not as cairn writes them: made as serde's reader makes it.
                    let entries = names.drain(..).map(Text::from).zip(values.drain(..));
                    return Attrs::from_sorted(sorted_unique(entries.collect()));
                }
            };
            Attrs::from_parts(shared, values.drain(..).collect())
        });
        names.clear();
        values.clear();
        self.names[depth] = names;
        self.values[depth] = values;
        attrs
    }

    /// A map's entries, after its `{`, if their names are exactly `expected`, in order:
    /// `Some(true)` with the values read and the `}` too, `Some(false)` at the first name
    /// that differs (or a count that does), `None` where the text is not JSON cairn writes.
    fn entries_named(&mut self, expected: &Names, values: &mut Vec<Value>) -> Option<bool> {
        for (i, name) in expected.0.iter().enumerate() {
            if !self.eat_name(name) {
                return Some(false);
            }
            values.push(self.value()?);
            match self.next_byte()? {
                b',' if i + 1 < expected.0.len() => {}
                b'}' if i + 1 == expected.0.len() => return Some(true),
                b',' | b'}' => return Some(false),
                _ => return None,
            }
        }
        Some(false)
    }

    /// `"name":` if it comes next.
    #[inline]
    fn eat_name(&mut self, name: &str) -> bool {
        let rest = &self.text.as_bytes()[self.pos..];
        let n = name.len();
        let found = rest.len() > n + 2
            && rest[0] == b'"'
            && rest[n + 1] == b'"'
            && rest[n + 2] == b':'
            && &rest[1..n + 1] == name.as_bytes();
        if found {
            self.pos += n + 3;
        }
        found
    }

    /// A map's entries, after its `{`, up to and with its `}`.
    fn entries(&mut self, names: &mut Vec<Cow<'a, str>>, values: &mut Vec<Value>) -> Option<()> {
        loop {
            names.push(self.name()?);
            self.lit(":")?;
            values.push(self.value()?);
            match self.next_byte()? {
                b',' => {}
                b'}' => return Some(()),
                _ => return None,
            }
        }
    }

    /// A list of strings, at its exact size.
    pub(crate) fn texts(&mut self) -> Option<Vec<Text>> {
        self.lit("[")?;
        if self.eat("]") {
            return Some(Vec::new());
        }
        let mut buf = std::mem::take(&mut self.texts);
        let list = self.items_into(&mut buf, Self::text);
        self.texts = buf;
        list
    }

    /// The next value, whatever it is, read by serde_json: for what is rare enough that
    /// serde's speed does not matter and its meaning must be serde's.
    pub(crate) fn serde<T: serde::Deserialize<'a>>(&mut self) -> Option<T> {
        let slice = self.skip_value()?;
        serde_json::from_str(slice).ok()
    }

    /// Step over one value and give its text. Only its extent is found here; serde checks
    /// the text itself.
    fn skip_value(&mut self) -> Option<&'a str> {
        let start = self.pos;
        match self.peek()? {
            b'"' => {
                self.raw_str()?;
            }
            b'{' | b'[' => {
                let mut depth = 0usize;
                loop {
                    match self.peek()? {
                        b'"' => {
                            self.raw_str()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.pos += 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                    self.pos += 1;
                }
            }
            _ => {
                while !matches!(self.peek(), None | Some(b',' | b'}' | b']')) {
                    self.pos += 1;
                }
            }
        }
        self.text.get(start..self.pos)
    }
}

/// How many bytes at the start of `bytes` a string holds as they are: up to the first
/// quote, backslash or control character (or near the end). Eight bytes at a time, as
/// strings in state are mostly ids and names a byte loop would walk one by one.
fn plain_run(bytes: &[u8]) -> usize {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    // Flags (the high bit) each byte of `w` below `n`; the lowest flag is exact, those
    // above it may be false (a borrow), and bytes of 0x80 and above are never flagged.
    let below = |w: u64, n: u8| w.wrapping_sub(ONES * u64::from(n)) & !w & HIGH;
    let mut done = 0;
    for chunk in bytes.chunks_exact(8) {
        let w = u64::from_le_bytes([
            chunk[0], chunk[1], chunk[2], chunk[3], chunk[4], chunk[5], chunk[6], chunk[7],
        ]);
        let special = below(w ^ (ONES * u64::from(b'"')), 1)
            | below(w ^ (ONES * u64::from(b'\\')), 1)
            | below(w, 0x20);
        if special != 0 {
            return done + (special.trailing_zeros() / 8) as usize;
        }
        done += 8;
    }
    done
}

/// Where the first quote in `bytes` is, eight bytes at a time (see [`plain_run`]).
fn next_quote(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    let mut chunks = bytes.chunks_exact(8);
    let mut done = 0;
    for chunk in &mut chunks {
        let w = u64::from_le_bytes([
            chunk[0], chunk[1], chunk[2], chunk[3], chunk[4], chunk[5], chunk[6], chunk[7],
        ]) ^ (ONES * u64::from(b'"'));
        let quote = w.wrapping_sub(ONES) & !w & HIGH;
        if quote != 0 {
            return Some(done + (quote.trailing_zeros() / 8) as usize);
        }
        done += 8;
    }
    let rest = chunks.remainder().iter().position(|&b| b == b'"')?;
    Some(done + rest)
}

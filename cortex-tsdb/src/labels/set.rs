//! The label set: an immutable, sorted, packed list of `name="value"` pairs.
//!
//! A [`Labels`] keeps all names and values in one shared buffer, each string prefixed with
//! its length as a uvarint, pairs sorted by name (byte order) and names unique. One
//! allocation per series keeps the head small and makes cloning a reference-count bump.
//! Building and validating sets lives here; matching lives in `matcher.rs`, printing in
//! `format.rs`.

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

use super::LabelError;

/// The reserved label that holds the metric name.
pub const METRIC_NAME: &str = "__name__";

/// Largest packed set [`Labels::stable_hash`] hashes in one pass from a stack buffer.
const STABLE_HASH_BUF: usize = 512;

/// One label of a set, borrowed from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Label<'a> {
    /// The label name.
    pub name: &'a str,
    /// The label value.
    pub value: &'a str,
}

/// An immutable set of labels sorted by name, with unique names.
///
/// Cloning is cheap (the buffer is shared). Equality, ordering and hashing follow
/// Prometheus: sets compare label by label, name first, then value.
#[derive(Clone)]
pub struct Labels {
    /// Invariant: a sequence of `uvarint(len) bytes` strings, alternating name and value,
    /// every string valid UTF-8, names strictly increasing in byte order.
    data: Arc<[u8]>,
}

impl Labels {
    /// The empty label set.
    pub fn empty() -> Labels {
        Labels {
            data: Arc::from(&[][..]),
        }
    }

    /// Builds a set from pairs in any order. Fails on a duplicate name; empty values are
    /// dropped, as Prometheus treats `a=""` as the absence of `a`.
    pub fn from_pairs<N, V, I>(pairs: I) -> Result<Labels, LabelError>
    where
        N: AsRef<str>,
        V: AsRef<str>,
        I: IntoIterator<Item = (N, V)>,
    {
        let mut b = LabelsBuilder::new();
        for (n, v) in pairs {
            b.push(n.as_ref(), v.as_ref());
        }
        b.build()
    }

    /// Builds a set from pairs that are already sorted by name with unique names (empty
    /// values are dropped). Returns [`LabelError::Unsorted`] or [`LabelError::DuplicateName`]
    /// when they are not (this is how decoders of untrusted data should build sets).
    pub fn from_sorted<'a, I>(pairs: I) -> Result<Labels, LabelError>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let mut data = Packer::new();
        let mut prev: Option<&str> = None;
        for (n, v) in pairs {
            if let Some(p) = prev {
                match p.cmp(n) {
                    Ordering::Less => {}
                    Ordering::Equal => return Err(LabelError::DuplicateName(n.to_string())),
                    Ordering::Greater => {
                        return Err(LabelError::Unsorted {
                            previous: p.to_string(),
                            name: n.to_string(),
                        });
                    }
                }
            }
            prev = Some(n);
            if v.is_empty() {
                continue;
            }
            data.put_str(n);
            data.put_str(v);
        }
        Ok(Labels {
            data: Arc::from(data.bytes()),
        })
    }

    /// Iterates over the labels in name order.
    pub fn iter(&self) -> Iter<'_> {
        Iter { rest: &self.data }
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// True when the set has no labels.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The value of `name`, if the set has it.
    pub fn get(&self, name: &str) -> Option<&str> {
        for l in self.iter() {
            match l.name.cmp(name) {
                Ordering::Less => continue,
                Ordering::Equal => return Some(l.value),
                Ordering::Greater => return None,
            }
        }
        None
    }

    /// The metric name (`__name__`), if any.
    pub fn metric_name(&self) -> Option<&str> {
        self.get(METRIC_NAME)
    }

    /// True when the set has a label called `name`.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Prometheus' label-set hash: xxHash64 (seed 0) over `name 0xff value 0xff` for every
    /// label in order. Equal sets hash equally, on every platform and in every release.
    pub fn stable_hash(&self) -> u64 {
        // The hashed bytes are never longer than the packed set (each string's length
        // prefix, at least one byte, becomes one separator), so most sets are laid out in
        // a stack buffer and hashed in one pass, as Prometheus does; larger ones stream.
        let mut buf = [0u8; STABLE_HASH_BUF];
        if self.data.len() > buf.len() {
            return self.stable_hash_streaming();
        }
        let mut n = 0;
        for l in self.iter() {
            for s in [l.name, l.value] {
                let end = n + s.len();
                buf[n..end].copy_from_slice(s.as_bytes());
                buf[end] = 0xff;
                n = end + 1;
            }
        }
        xxhash_rust::xxh64::xxh64(&buf[..n], 0)
    }

    /// [`Labels::stable_hash`] fed piece by piece, for sets too large for its buffer.
    /// True when the set holds exactly `pairs`, in order, compared without building a
    /// set. A pair with an empty value never matches (a set holds none), so pairs that
    /// [`Labels::from_sorted`] would have to clean up or refuse never match.
    pub fn eq_pairs<'a, I>(&self, pairs: I) -> bool
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let mut mine = self.iter();
        for (n, v) in pairs {
            match mine.next() {
                Some(l) if short_eq(l.name, n) && short_eq(l.value, v) => {}
                _ => return false,
            }
        }
        mine.next().is_none()
    }

    fn stable_hash_streaming(&self) -> u64 {
        let mut h = xxhash_rust::xxh64::Xxh64::new(0);
        for l in self.iter() {
            h.update(l.name.as_bytes());
            h.update(&[0xff]);
            h.update(l.value.as_bytes());
            h.update(&[0xff]);
        }
        h.digest()
    }

    /// Appends to `out` bytes that compare, as byte strings, the way the set compares
    /// ([`Ord`]): every name and value in turn, with each zero byte written as `00 FF`
    /// and the string ended by `00 01`. The ending sorts below any byte that could
    /// follow it, so a string sorts before the strings it is a prefix of, and a set
    /// before the sets it is a prefix of. Sorting many sets by these keys compares flat
    /// bytes once instead of walking two sets per comparison.
    pub fn sort_key_into(&self, out: &mut Vec<u8>) {
        for l in self.iter() {
            for s in [l.name, l.value] {
                let b = s.as_bytes();
                if b.contains(&0) {
                    for &c in b {
                        out.push(c);
                        if c == 0 {
                            out.push(0xff);
                        }
                    }
                } else {
                    out.extend_from_slice(b);
                }
                out.extend_from_slice(&[0, 1]);
            }
        }
    }

    /// The packed bytes of the set (length-prefixed names and values), for prefetching.
    pub(crate) fn packed(&self) -> &[u8] {
        &self.data
    }

    /// Bytes of memory the set owns (its shared buffer), for accounting.
    pub fn byte_size(&self) -> usize {
        self.data.len()
    }

    /// A builder seeded with this set, to add, replace or remove labels.
    pub fn to_builder(&self) -> LabelsBuilder {
        let mut b = LabelsBuilder::new();
        for l in self.iter() {
            b.push(l.name, l.value);
        }
        b
    }

    /// A new set without the labels named in `names`.
    pub fn without(&self, names: &[&str]) -> Labels {
        self.filter(|l| !names.contains(&l.name))
    }

    /// A new set with only the labels named in `names`.
    pub fn keep_only(&self, names: &[&str]) -> Labels {
        self.filter(|l| names.contains(&l.name))
    }

    /// A new set with the labels for which `keep` is true (order is preserved, so the
    /// result needs no sorting).
    pub fn filter(&self, mut keep: impl FnMut(&Label<'_>) -> bool) -> Labels {
        let mut data = Vec::with_capacity(self.data.len());
        for l in self.iter() {
            if keep(&l) {
                put_str(&mut data, l.name);
                put_str(&mut data, l.value);
            }
        }
        Labels {
            data: Arc::from(data),
        }
    }
}

impl Default for Labels {
    fn default() -> Self {
        Labels::empty()
    }
}

impl PartialEq for Labels {
    fn eq(&self, other: &Self) -> bool {
        // Equal sets encode to equal bytes: the encoding is canonical.
        self.data == other.data
    }
}

impl Eq for Labels {}

impl std::hash::Hash for Labels {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.data.hash(state);
    }
}

impl PartialOrd for Labels {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Labels {
    /// Prometheus' `labels.Compare`: label by label, name then value; a set that is a
    /// prefix of another sorts first.
    fn cmp(&self, other: &Self) -> Ordering {
        let mut a = self.iter();
        let mut b = other.iter();
        loop {
            match (a.next(), b.next()) {
                (None, None) => return Ordering::Equal,
                (None, Some(_)) => return Ordering::Less,
                (Some(_), None) => return Ordering::Greater,
                (Some(x), Some(y)) => match x.name.cmp(y.name).then(x.value.cmp(y.value)) {
                    Ordering::Equal => continue,
                    o => return o,
                },
            }
        }
    }
}

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl<'a> IntoIterator for &'a Labels {
    type Item = Label<'a>;
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// Iterator over the labels of a [`Labels`].
#[derive(Clone)]
pub struct Iter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Iter<'a> {
    type Item = Label<'a>;

    #[inline]
    fn next(&mut self) -> Option<Label<'a>> {
        if self.rest.is_empty() {
            return None;
        }
        let name = take_str(&mut self.rest);
        let value = take_str(&mut self.rest);
        Some(Label { name, value })
    }
}

/// String equality that compares the short strings label sets are made of inline, with
/// a few overlapping word loads, instead of calling `memcmp` (a lookup compares a
/// couple of dozen strings, and the calls cost more than the comparing).
#[inline(always)]
fn short_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let n = a.len();
    if n != b.len() {
        return false;
    }
    #[inline(always)]
    fn word<const W: usize>(s: &[u8], i: usize) -> [u8; W] {
        let mut w = [0u8; W];
        w.copy_from_slice(&s[i..i + W]);
        w
    }
    match n {
        0 => true,
        1..=3 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        4..=7 => word::<4>(a, 0) == word::<4>(b, 0) && word::<4>(a, n - 4) == word::<4>(b, n - 4),
        8..=16 => word::<8>(a, 0) == word::<8>(b, 0) && word::<8>(a, n - 8) == word::<8>(b, n - 8),
        _ => a == b,
    }
}

/// Collects labels in any order and builds a validated [`Labels`].
#[derive(Debug, Default, Clone)]
pub struct LabelsBuilder {
    pairs: Vec<(String, String)>,
}

impl LabelsBuilder {
    /// An empty builder.
    pub fn new() -> LabelsBuilder {
        LabelsBuilder::default()
    }

    /// Adds a label; a later `set` of the same name replaces it, a second `push` of the same
    /// name is a [`LabelError::DuplicateName`] at `build`.
    pub fn push(&mut self, name: &str, value: &str) -> &mut Self {
        self.pairs.push((name.to_string(), value.to_string()));
        self
    }

    /// Sets `name` to `value`, replacing any earlier value; an empty value removes it.
    pub fn set(&mut self, name: &str, value: &str) -> &mut Self {
        self.pairs.retain(|(n, _)| n != name);
        if !value.is_empty() {
            self.pairs.push((name.to_string(), value.to_string()));
        }
        self
    }

    /// Removes `name`.
    pub fn del(&mut self, name: &str) -> &mut Self {
        self.pairs.retain(|(n, _)| n != name);
        self
    }

    /// Sorts, drops empty values and checks names are unique.
    pub fn build(&self) -> Result<Labels, LabelError> {
        let mut refs: Vec<(&str, &str)> = self
            .pairs
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        refs.sort_unstable_by(|a, b| a.0.cmp(b.0));
        Labels::from_sorted(refs)
    }
}

/// [`Labels::stable_hash`] of the set `pairs` make (sorted by name with unique names;
/// pairs with an empty value are skipped, as a set drops them), without building it.
pub fn stable_hash_of<'a, I>(pairs: I) -> u64
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
    I::IntoIter: Clone,
{
    let pairs = pairs.into_iter().filter(|(_, v)| !v.is_empty());
    let mut buf = [0u8; STABLE_HASH_BUF];
    let mut n = 0;
    for (name, value) in pairs.clone() {
        for s in [name, value] {
            let end = n + s.len();
            let Some(dst) = buf.get_mut(n..end + 1) else {
                // Too long for one pass: stream the same bytes.
                let mut h = xxhash_rust::xxh64::Xxh64::new(0);
                for (name, value) in pairs {
                    h.update(name.as_bytes());
                    h.update(&[0xff]);
                    h.update(value.as_bytes());
                    h.update(&[0xff]);
                }
                return h.digest();
            };
            dst[..s.len()].copy_from_slice(s.as_bytes());
            dst[s.len()] = 0xff;
            n = end + 1;
        }
    }
    xxhash_rust::xxh64::xxh64(&buf[..n], 0)
}

/// Bytes of a set being packed by [`Labels::from_sorted`]: on the stack while they fit,
/// so the set costs one allocation of exactly its size.
struct Packer {
    stack: [u8; PACK_STACK],
    len: usize,
    /// Everything, once it outgrew the stack.
    heap: Vec<u8>,
}

/// Packed sets up to this size are built on the stack.
const PACK_STACK: usize = 512;

impl Packer {
    fn new() -> Packer {
        Packer {
            stack: [0; PACK_STACK],
            len: 0,
            heap: Vec::new(),
        }
    }

    fn put_str(&mut self, s: &str) {
        let mut varint = [0u8; 10];
        let mut n = s.len() as u64;
        let mut i = 0;
        while n >= 0x80 {
            varint[i] = (n as u8) | 0x80;
            n >>= 7;
            i += 1;
        }
        varint[i] = n as u8;
        self.extend(&varint[..=i]);
        self.extend(s.as_bytes());
    }

    fn extend(&mut self, b: &[u8]) {
        if self.heap.is_empty() {
            if let Some(dst) = self.stack.get_mut(self.len..self.len + b.len()) {
                dst.copy_from_slice(b);
                self.len += b.len();
                return;
            }
            self.heap.reserve(2 * (self.len + b.len()));
            self.heap.extend_from_slice(&self.stack[..self.len]);
        }
        self.heap.extend_from_slice(b);
    }

    fn bytes(&self) -> &[u8] {
        if self.heap.is_empty() {
            &self.stack[..self.len]
        } else {
            &self.heap
        }
    }
}

fn put_str(buf: &mut Vec<u8>, s: &str) {
    let mut n = s.len() as u64;
    while n >= 0x80 {
        buf.push((n as u8) | 0x80);
        n >>= 7;
    }
    buf.push(n as u8);
    buf.extend_from_slice(s.as_bytes());
}

/// Reads one string written by `put_str`. Only ever called on a buffer built by this module.
#[inline]
fn take_str<'a>(rest: &mut &'a [u8]) -> &'a str {
    let buf = *rest;
    let mut len = 0usize;
    let mut shift = 0;
    let mut i = 0;
    loop {
        let b = buf[i];
        i += 1;
        len |= ((b & 0x7f) as usize) << shift;
        if b < 0x80 {
            break;
        }
        shift += 7;
    }
    let bytes = &buf[i..i + len];
    *rest = &buf[i + len..];
    // SAFETY: the buffer only ever holds strings copied from `&str` by `put_str`, each
    // preceded by its exact byte length, so every string slice is valid UTF-8.
    unsafe { std::str::from_utf8_unchecked(bytes) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_keys_order_sets_as_they_compare() {
        let strings = [
            "", "a", "a\0", "a\0b", "a\u{1}", "ab", "b", "\0", "\u{ff}", "é",
        ];
        let mut sets = vec![Labels::empty()];
        for n in ["a", "b", "ab"] {
            for v in strings.iter().filter(|v| !v.is_empty()) {
                sets.push(ls(&[(n, v)]));
                for v2 in ["a", "a\0", "b"] {
                    sets.push(ls(&[(n, v), ("c", v2)]));
                    sets.push(ls(&[(n, v), ("c\0", v2)]));
                }
            }
        }
        let key = |l: &Labels| {
            let mut k = Vec::new();
            l.sort_key_into(&mut k);
            k
        };
        for a in &sets {
            for b in &sets {
                assert_eq!(key(a).cmp(&key(b)), a.cmp(b), "{a:?} vs {b:?}");
            }
        }
    }

    #[test]
    fn short_eq_agrees_with_str_eq_at_every_length() {
        for n in 0..40usize {
            let a: String = (0..n).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
            assert!(short_eq(&a, &a.clone()));
            for i in 0..n {
                // One byte different at each position, and a different length.
                let mut b = a.clone().into_bytes();
                b[i] = b'#';
                let b = String::from_utf8(b).unwrap();
                assert!(!short_eq(&a, &b), "{a} vs {b}");
            }
            assert!(!short_eq(&a, &format!("{a}x")));
        }
    }

    fn ls(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs.iter().copied()).unwrap()
    }

    #[test]
    fn pairs_are_sorted_and_empty_values_dropped() {
        let l = ls(&[
            ("job", "api"),
            ("__name__", "up"),
            ("empty", ""),
            ("a", "1"),
        ]);
        let got: Vec<_> = l.iter().map(|l| (l.name, l.value)).collect();
        assert_eq!(got, vec![("__name__", "up"), ("a", "1"), ("job", "api")]);
        assert_eq!(l.len(), 3);
        assert_eq!(l.get("job"), Some("api"));
        assert_eq!(l.get("empty"), None);
        assert_eq!(l.metric_name(), Some("up"));
    }

    #[test]
    fn duplicate_names_are_rejected() {
        let err = Labels::from_pairs([("a", "1"), ("a", "2")]).unwrap_err();
        assert_eq!(err, LabelError::DuplicateName("a".into()));
    }

    #[test]
    fn from_sorted_rejects_unsorted_input() {
        assert!(matches!(
            Labels::from_sorted([("b", "1"), ("a", "2")]),
            Err(LabelError::Unsorted { .. })
        ));
    }

    #[test]
    fn from_sorted_packs_sets_of_every_size_like_from_pairs() {
        // Sizes around the stack buffer, including strings that cross its end and one
        // longer than the buffer on its own.
        for value_len in [0usize, 1, 60, 127, 128, 200, 250, 300, 511, 512, 513, 2000] {
            let v = "v".repeat(value_len);
            let pairs = [("__name__", "m"), ("a", v.as_str()), ("b", "x"), ("c", &v)];
            let sorted = Labels::from_sorted(pairs).unwrap();
            assert_eq!(sorted, Labels::from_pairs(pairs).unwrap(), "{value_len}");
            assert_eq!(sorted.get("c"), (value_len > 0).then_some(v.as_str()));
        }
    }

    #[test]
    fn pairs_hash_and_compare_like_the_set_they_make() {
        for value_len in [0usize, 1, 100, 250, 251, 300, 600] {
            let v = "v".repeat(value_len);
            let pairs = [("__name__", "m"), ("a", v.as_str()), ("b", ""), ("c", "x")];
            let set = Labels::from_sorted(pairs).unwrap();
            assert_eq!(stable_hash_of(pairs), set.stable_hash(), "{value_len}");
            let kept: Vec<_> = pairs.into_iter().filter(|(_, v)| !v.is_empty()).collect();
            assert!(set.eq_pairs(kept.iter().copied()), "{value_len}");
            // With the empty value still in, the pairs are not the set's.
            assert!(!set.eq_pairs(pairs));
            assert!(!set.eq_pairs(pairs[..3].iter().copied()));
            assert!(!set.eq_pairs([("__name__", "m"), ("a", "w"), ("c", "x")]));
            let mut longer = pairs.to_vec();
            longer.push(("d", "1"));
            assert!(!set.eq_pairs(longer));
        }
        assert_eq!(stable_hash_of([("a", "")]), Labels::empty().stable_hash());
        assert!(Labels::empty().eq_pairs([]));
        assert!(!Labels::empty().eq_pairs([("a", "")]));
    }

    #[test]
    fn long_strings_round_trip() {
        let v = "x".repeat(70_000);
        let l = ls(&[("a", &v), ("b", "short")]);
        assert_eq!(l.get("a").unwrap().len(), 70_000);
        assert_eq!(l.get("b"), Some("short"));
    }

    #[test]
    fn ordering_is_label_by_label() {
        let a = ls(&[("a", "1")]);
        let ab = ls(&[("a", "1"), ("b", "1")]);
        let a2 = ls(&[("a", "2")]);
        assert!(a < ab);
        assert!(ab < a2);
        assert!(ls(&[("a", "1"), ("c", "1")]) > ab);
    }

    #[test]
    fn stable_hash_matches_prometheus() {
        // xxhash64 of "__name__\xffup\xff" computed independently.
        let l = ls(&[("__name__", "up")]);
        let expect = xxhash_rust::xxh64::xxh64(b"__name__\xffup\xff", 0);
        assert_eq!(l.stable_hash(), expect);
        assert_ne!(l.stable_hash(), ls(&[("__name__", "up2")]).stable_hash());
        // Sets beyond the one-pass buffer hash the same bytes piece by piece.
        for len in [0, 1, 100, 240, 250, 260, 600, 70_000] {
            let v = "v".repeat(len);
            let l = ls(&[("__name__", "up"), ("a", &v), ("b", "x")]);
            let mut bytes = Vec::new();
            for p in l.iter() {
                for s in [p.name, p.value] {
                    bytes.extend_from_slice(s.as_bytes());
                    bytes.push(0xff);
                }
            }
            assert_eq!(
                l.stable_hash(),
                xxhash_rust::xxh64::xxh64(&bytes, 0),
                "{len}"
            );
            assert_eq!(l.stable_hash(), l.stable_hash_streaming(), "{len}");
        }
    }

    #[test]
    fn builder_set_and_del() {
        let l = ls(&[("a", "1"), ("b", "2")]);
        let mut b = l.to_builder();
        b.set("a", "9").del("b").set("c", "3");
        let l2 = b.build().unwrap();
        assert_eq!(l2, ls(&[("a", "9"), ("c", "3")]));
        assert_eq!(l.without(&["a"]), ls(&[("b", "2")]));
        assert_eq!(l.keep_only(&["a"]), ls(&[("a", "1")]));
    }
}

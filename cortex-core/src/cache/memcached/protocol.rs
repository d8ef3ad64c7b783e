//! The part of memcached's text protocol the cache speaks (`protocol.txt` in the
//! memcached repository): encoding `get` and `set` requests, and parsing their replies
//! from untrusted bytes.
//!
//! ```text
//! get <key>*\r\n
//!   -> (VALUE <key> <flags> <bytes> [<cas unique>]\r\n<data block>\r\n)* END\r\n
//! set <key> <flags> <exptime> <bytes>\r\n<data block>\r\n
//!   -> STORED\r\n | NOT_STORED\r\n
//! any command -> ERROR\r\n | CLIENT_ERROR <msg>\r\n | SERVER_ERROR <msg>\r\n
//! ```
//!
//! The parsers never panic: a line longer than [`MAX_LINE_LEN`], a length that is not
//! a decimal number, a value longer than the caller's limit, a key that was not asked
//! for or a data block not followed by `\r\n` is a [`CacheError`]. It owns no sockets.

use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Buf, Bytes, BytesMut};

use crate::cache::error::CacheError;

/// The longest reply line accepted (a `VALUE` line with a 250-byte key is far shorter).
pub const MAX_LINE_LEN: usize = 1024;

/// memcached reads an expiry time above this many seconds (30 days) as a Unix time.
pub const MAX_RELATIVE_EXPTIME: u64 = 60 * 60 * 24 * 30;

/// Appends `get <keys...>\r\n` to `out`. The keys must be valid memcached keys.
pub fn encode_get<'a>(keys: impl IntoIterator<Item = &'a str>, out: &mut Vec<u8>) {
    out.extend_from_slice(b"get");
    for key in keys {
        out.push(b' ');
        out.extend_from_slice(key.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends `set <key> <flags> <exptime> <len>\r\n<data>\r\n` to `out`. The key must
/// be a valid memcached key.
pub fn encode_set(key: &str, flags: u32, exptime: u32, data: &[&[u8]], out: &mut Vec<u8>) {
    let len: usize = data.iter().map(|d| d.len()).sum();
    out.extend_from_slice(format!("set {key} {flags} {exptime} {len}\r\n").as_bytes());
    for d in data {
        out.extend_from_slice(d);
    }
    out.extend_from_slice(b"\r\n");
}

/// The `exptime` of a `set` for `ttl`: 0 (never) for a zero TTL, whole seconds
/// rounded up for up to 30 days, an absolute Unix time beyond.
pub fn exptime(ttl: Duration) -> u32 {
    if ttl.is_zero() {
        return 0;
    }
    let secs = ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0);
    if secs <= MAX_RELATIVE_EXPTIME {
        return secs as u32;
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    u32::try_from(now.saturating_add(secs)).unwrap_or(u32::MAX)
}

/// One `VALUE` of a `get` reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Value {
    /// The memcached key.
    pub key: String,
    /// The item's flags.
    pub flags: u32,
    /// The data block.
    pub data: Bytes,
}

/// Takes one `\r\n`-terminated line off the front of `buf`, without the terminator;
/// `None` if the line is not complete yet.
fn take_line(buf: &mut BytesMut) -> Result<Option<BytesMut>, CacheError> {
    let window = &buf[..buf.len().min(MAX_LINE_LEN + 2)];
    match window.windows(2).position(|w| w == b"\r\n") {
        Some(end) => {
            let line = buf.split_to(end);
            buf.advance(2);
            Ok(Some(line))
        }
        None if buf.len() > MAX_LINE_LEN + 1 => Err(CacheError::malformed(format!(
            "reply line longer than {MAX_LINE_LEN} bytes"
        ))),
        None => Ok(None),
    }
}

/// The error a protocol error line stands for, if `line` is one.
fn error_line(line: &[u8]) -> Option<CacheError> {
    let is_error =
        line == b"ERROR" || line.starts_with(b"CLIENT_ERROR") || line.starts_with(b"SERVER_ERROR");
    is_error.then(|| CacheError::ServerError {
        line: String::from_utf8_lossy(line).into_owned(),
    })
}

fn unexpected(line: &[u8]) -> CacheError {
    let shown = &line[..line.len().min(64)];
    CacheError::malformed(format!(
        "unexpected line {:?}",
        String::from_utf8_lossy(shown)
    ))
}

/// A decimal number of only ASCII digits (no sign, no spaces) that fits in a `u64`.
fn parse_decimal(field: &[u8], what: &str) -> Result<u64, CacheError> {
    if field.is_empty() || field.len() > 20 || !field.iter().all(u8::is_ascii_digit) {
        return Err(CacheError::malformed(format!(
            "{what} {:?} is not a decimal number",
            String::from_utf8_lossy(&field[..field.len().min(32)])
        )));
    }
    field.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(d - b'0')))
            .ok_or_else(|| CacheError::malformed(format!("{what} overflows")))
    })
}

/// The header of a `VALUE` whose data block has not fully arrived.
#[derive(Debug)]
struct Pending {
    key: String,
    flags: u32,
    len: usize,
}

/// An incremental parser of one `get` reply: feed it the bytes read so far with
/// [`GetReplyParser::parse`] until it reports the `END`.
#[derive(Debug)]
pub struct GetReplyParser<'k> {
    expected: HashSet<&'k str>,
    max_value_len: u64,
    pending: Option<Pending>,
    values: Vec<Value>,
}

impl<'k> GetReplyParser<'k> {
    /// A parser for the reply to `get` of `expected` keys, refusing values longer than
    /// `max_value_len` bytes.
    pub fn new(expected: &[&'k str], max_value_len: u64) -> GetReplyParser<'k> {
        GetReplyParser {
            expected: expected.iter().copied().collect(),
            max_value_len,
            pending: None,
            values: Vec::new(),
        }
    }

    /// Consumes every complete part of the reply at the front of `buf`. `Ok(true)`
    /// once `END` was read (the reply is complete and `buf` holds what followed it),
    /// `Ok(false)` if more bytes are needed.
    pub fn parse(&mut self, buf: &mut BytesMut) -> Result<bool, CacheError> {
        loop {
            if let Some(p) = &self.pending {
                if buf.len() < p.len + 2 {
                    return Ok(false);
                }
                let data = buf.split_to(p.len).freeze();
                if &buf[..2] != b"\r\n" {
                    return Err(CacheError::malformed(
                        "data block is not followed by \\r\\n",
                    ));
                }
                buf.advance(2);
                if let Some(p) = self.pending.take() {
                    self.values.push(Value {
                        key: p.key,
                        flags: p.flags,
                        data,
                    });
                }
                continue;
            }
            let Some(line) = take_line(buf)? else {
                return Ok(false);
            };
            if &line[..] == b"END" {
                return Ok(true);
            }
            if let Some(err) = error_line(&line) {
                return Err(err);
            }
            self.pending = Some(self.value_header(&line)?);
        }
    }

    /// Parses `VALUE <key> <flags> <bytes> [<cas>]`.
    fn value_header(&self, line: &[u8]) -> Result<Pending, CacheError> {
        let mut fields = line.split(|&b| b == b' ');
        if fields.next() != Some(b"VALUE".as_slice()) {
            return Err(unexpected(line));
        }
        let (Some(key), Some(flags), Some(len)) = (fields.next(), fields.next(), fields.next())
        else {
            return Err(unexpected(line));
        };
        if let Some(cas) = fields.next() {
            parse_decimal(cas, "cas")?;
        }
        if fields.next().is_some() {
            return Err(unexpected(line));
        }
        let Some(key) = std::str::from_utf8(key)
            .ok()
            .and_then(|k| self.expected.get(k))
        else {
            return Err(CacheError::malformed(format!(
                "reply holds key {:?} that was not asked for",
                String::from_utf8_lossy(&key[..key.len().min(64)])
            )));
        };
        let flags = u32::try_from(parse_decimal(flags, "flags")?)
            .map_err(|_| CacheError::malformed("flags exceed 32 bits"))?;
        let len = parse_decimal(len, "value length")?;
        if len > self.max_value_len {
            return Err(CacheError::ValueTooLarge {
                len,
                max: self.max_value_len,
            });
        }
        let len = usize::try_from(len).map_err(|_| CacheError::ValueTooLarge {
            len,
            max: self.max_value_len,
        })?;
        Ok(Pending {
            key: (*key).to_string(),
            flags,
            len,
        })
    }

    /// The values read so far.
    pub fn into_values(self) -> Vec<Value> {
        self.values
    }
}

/// How a server answered a `set`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreReply {
    /// `STORED`.
    Stored,
    /// `NOT_STORED`: a condition was not met (does not happen for `set`).
    NotStored,
}

/// Parses the reply to a `set` at the front of `buf`; `Ok(None)` if the line is not
/// complete yet.
pub fn parse_store_reply(buf: &mut BytesMut) -> Result<Option<StoreReply>, CacheError> {
    let Some(line) = take_line(buf)? else {
        return Ok(None);
    };
    match &line[..] {
        b"STORED" => Ok(Some(StoreReply::Stored)),
        b"NOT_STORED" => Ok(Some(StoreReply::NotStored)),
        other => Err(error_line(other).unwrap_or_else(|| unexpected(other))),
    }
}

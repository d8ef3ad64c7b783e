//! The gossip messages and their bytes. Every exchange is one request and one reply on
//! a fresh TCP connection; each message is a frame:
//!
//! ```text
//! frame   = len:u32 | body            (len = body length, at most MAX_FRAME)
//! body    = magic:"CXG1" | kind:u8 | from:str | addr:str
//!           | n_members:u32 | (name:str | addr:str)*
//!           | n_entries:u32 | (key:str | version:u64 | writer:str | present:u8 [| value:bytes])*
//! str     = len:u16 | UTF-8 bytes
//! bytes   = len:u32 | bytes
//! ```
//!
//! Integers are big-endian. `kind` is 1 for a push-pull (the reply carries the whole
//! state), 2 for a push of changed entries and 3 for a reply. Decoding checks every
//! length against what is left and never panics.

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::GossipError;

const MAGIC: &[u8; 4] = b"CXG1";

/// The largest frame accepted (the whole state travels in one frame).
pub const MAX_FRAME: usize = 64 << 20;

/// What a message asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Merge my state and reply with yours.
    PushPull = 1,
    /// Merge these changes.
    Push = 2,
    /// The answer to either.
    Reply = 3,
}

/// One key's replica as it travels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireEntry {
    /// The key.
    pub key: String,
    /// Last-writer-wins version, or the deletion epoch of a mergeable key.
    pub version: u64,
    /// The member that wrote the version.
    pub writer: String,
    /// The value; `None` for a deleted key.
    pub value: Option<Bytes>,
}

/// A gossip message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// What it asks for.
    pub kind: Kind,
    /// The sender's node name.
    pub from: String,
    /// The sender's advertised `host:port`.
    pub addr: String,
    /// Members the sender knows: (name, address).
    pub members: Vec<(String, String)>,
    /// Entries to merge.
    pub entries: Vec<WireEntry>,
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    // Names and keys longer than 64 KiB are cut at the limit (they never are).
    let b = &s.as_bytes()[..s.len().min(u16::MAX as usize)];
    out.extend_from_slice(&(b.len() as u16).to_be_bytes());
    out.extend_from_slice(b);
}

impl Message {
    /// The frame: length prefix and body.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![0; 4];
        out.extend_from_slice(MAGIC);
        out.push(self.kind as u8);
        put_str(&mut out, &self.from);
        put_str(&mut out, &self.addr);
        out.extend_from_slice(&(self.members.len() as u32).to_be_bytes());
        for (name, addr) in &self.members {
            put_str(&mut out, name);
            put_str(&mut out, addr);
        }
        out.extend_from_slice(&(self.entries.len() as u32).to_be_bytes());
        for e in &self.entries {
            put_str(&mut out, &e.key);
            out.extend_from_slice(&e.version.to_be_bytes());
            put_str(&mut out, &e.writer);
            match &e.value {
                Some(v) => {
                    out.push(1);
                    out.extend_from_slice(&(v.len() as u32).to_be_bytes());
                    out.extend_from_slice(v);
                }
                None => out.push(0),
            }
        }
        let body = (out.len() - 4) as u32;
        out[..4].copy_from_slice(&body.to_be_bytes());
        out
    }

    /// Parses a frame body (without the length prefix).
    pub fn decode(body: &[u8]) -> Result<Message, GossipError> {
        let mut r = Reader(body);
        if r.take(4)? != MAGIC {
            return Err(r.error("bad magic"));
        }
        let kind = match r.u8()? {
            1 => Kind::PushPull,
            2 => Kind::Push,
            3 => Kind::Reply,
            k => return Err(r.error(&format!("unknown message kind {k}"))),
        };
        let from = r.str()?;
        let addr = r.str()?;
        let n = r.u32()?;
        let mut members = Vec::new();
        for _ in 0..n {
            members.push((r.str()?, r.str()?));
        }
        let n = r.u32()?;
        let mut entries = Vec::new();
        for _ in 0..n {
            let key = r.str()?;
            let version = u64::from_be_bytes(r.array()?);
            let writer = r.str()?;
            let value = match r.u8()? {
                0 => None,
                1 => {
                    let len = r.u32()? as usize;
                    Some(Bytes::copy_from_slice(r.take(len)?))
                }
                f => return Err(r.error(&format!("bad presence flag {f}"))),
            };
            entries.push(WireEntry {
                key,
                version,
                writer,
                value,
            });
        }
        if !r.0.is_empty() {
            return Err(r.error("trailing bytes"));
        }
        Ok(Message {
            kind,
            from,
            addr,
            members,
            entries,
        })
    }

    /// Writes the message as one frame.
    pub async fn write_to<W: AsyncWriteExt + Unpin>(&self, w: &mut W) -> std::io::Result<()> {
        w.write_all(&self.encode()).await?;
        w.flush().await
    }

    /// Reads one frame and parses it.
    pub async fn read_from<R: AsyncReadExt + Unpin>(r: &mut R) -> Result<Message, GossipError> {
        let io = |e: std::io::Error| GossipError::Io {
            what: "reading a message".into(),
            reason: e.to_string(),
        };
        let mut len = [0u8; 4];
        r.read_exact(&mut len).await.map_err(io)?;
        let len = u32::from_be_bytes(len) as usize;
        if len > MAX_FRAME {
            return Err(GossipError::Wire(format!(
                "frame of {len} bytes exceeds the limit of {MAX_FRAME}"
            )));
        }
        let mut body = vec![0; len];
        r.read_exact(&mut body).await.map_err(io)?;
        Message::decode(&body)
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn error(&self, what: &str) -> GossipError {
        GossipError::Wire(format!("{what} ({} bytes left)", self.0.len()))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], GossipError> {
        if self.0.len() < n {
            return Err(self.error(&format!("truncated: wanted {n} bytes")));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], GossipError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn u8(&mut self) -> Result<u8, GossipError> {
        Ok(self.array::<1>()?[0])
    }

    fn u32(&mut self) -> Result<u32, GossipError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn str(&mut self) -> Result<String, GossipError> {
        let len = u16::from_be_bytes(self.array()?) as usize;
        let b = self.take(len)?;
        String::from_utf8(b.to_vec()).map_err(|_| self.error("string is not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Message {
        Message {
            kind: Kind::PushPull,
            from: "node-a".into(),
            addr: "127.0.0.1:7946".into(),
            members: vec![("node-b".into(), "10.0.0.2:7946".into())],
            entries: vec![
                WireEntry {
                    key: "collectors/ring".into(),
                    version: 7,
                    writer: "node-a".into(),
                    value: Some(Bytes::from_static(b"{}")),
                },
                WireEntry {
                    key: "gone".into(),
                    version: 9,
                    writer: "node-b".into(),
                    value: None,
                },
            ],
        }
    }

    #[test]
    fn encode_then_decode_is_identity() {
        let m = sample();
        let frame = m.encode();
        assert_eq!(
            u32::from_be_bytes(frame[..4].try_into().unwrap()) as usize,
            frame.len() - 4
        );
        assert_eq!(Message::decode(&frame[4..]).unwrap(), m);
    }

    #[test]
    fn every_truncation_and_corruption_is_an_error_not_a_panic() {
        let frame = sample().encode();
        let body = &frame[4..];
        for cut in 0..body.len() {
            assert!(Message::decode(&body[..cut]).is_err(), "cut at {cut}");
        }
        let mut extra = body.to_vec();
        extra.push(0);
        assert!(Message::decode(&extra).is_err());
        let mut bad_kind = body.to_vec();
        bad_kind[4] = 9;
        assert!(Message::decode(&bad_kind).is_err());
        for i in 0..body.len() {
            let mut flipped = body.to_vec();
            flipped[i] ^= 0xff;
            let _ = Message::decode(&flipped);
        }
    }

    #[tokio::test]
    async fn frames_round_trip_over_a_stream_and_oversized_ones_are_refused() {
        let (mut a, mut b) = tokio::io::duplex(1 << 16);
        sample().write_to(&mut a).await.unwrap();
        assert_eq!(Message::read_from(&mut b).await.unwrap(), sample());
        a.write_all(&u32::MAX.to_be_bytes()).await.unwrap();
        assert!(matches!(
            Message::read_from(&mut b).await,
            Err(GossipError::Wire(_))
        ));
    }
}

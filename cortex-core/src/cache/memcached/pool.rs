//! [`ServerPool`]: the connections to one memcached server — idle ones kept up to
//! `max_idle_connections`, new ones dialled on demand — and the two operations the
//! cache runs on a connection, a multi-key `get` and a `set`, each bounded by the
//! operation `timeout` (dialling included). A connection that failed in any way is
//! dropped, never reused: after an error nobody knows where the reply stream stands.
//! An idle connection found closed by the server is replaced once, transparently.

use std::sync::Mutex;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::protocol::{
    GetReplyParser, StoreReply, Value, encode_get, encode_set, parse_store_reply,
};
use crate::cache::error::CacheError;

/// One open connection and its read buffer.
#[derive(Debug)]
struct Conn {
    stream: TcpStream,
    buf: BytesMut,
}

/// The connections to one memcached server.
#[derive(Debug)]
pub(crate) struct ServerPool {
    address: String,
    timeout: Duration,
    max_idle: usize,
    idle: Mutex<Vec<Conn>>,
}

impl ServerPool {
    /// A pool for the server at `address` (`host:port`).
    pub(crate) fn new(address: String, timeout: Duration, max_idle: usize) -> ServerPool {
        ServerPool {
            address,
            timeout,
            max_idle,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// The server's address.
    pub(crate) fn address(&self) -> &str {
        &self.address
    }

    fn take_idle(&self) -> Option<Conn> {
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .pop()
    }

    fn put_idle(&self, conn: Conn) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < self.max_idle {
            idle.push(conn);
        }
    }

    async fn dial(&self) -> Result<Conn, CacheError> {
        let stream = TcpStream::connect(&self.address)
            .await
            .map_err(|source| self.io("connect", source))?;
        // Requests are written whole; waiting to coalesce them only adds latency.
        stream
            .set_nodelay(true)
            .map_err(|source| self.io("connect", source))?;
        Ok(Conn {
            stream,
            buf: BytesMut::with_capacity(4096),
        })
    }

    fn io(&self, op: &'static str, source: std::io::Error) -> CacheError {
        CacheError::Io {
            address: self.address.clone(),
            op,
            source,
        }
    }

    async fn with_timeout<T>(
        &self,
        op: &'static str,
        fut: impl Future<Output = Result<T, CacheError>>,
    ) -> Result<T, CacheError> {
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(result) => result,
            Err(_) => Err(CacheError::Timeout {
                address: self.address.clone(),
                op,
                timeout: self.timeout,
            }),
        }
    }

    /// Reads more bytes into the connection's buffer; a closed connection is an error.
    async fn read_more(&self, conn: &mut Conn) -> Result<(), CacheError> {
        let n = conn
            .stream
            .read_buf(&mut conn.buf)
            .await
            .map_err(|source| self.io("read", source))?;
        if n == 0 {
            return Err(CacheError::Closed {
                address: self.address.clone(),
            });
        }
        Ok(())
    }

    /// Sends `request` on `conn` and reads until `parse` returns the reply; sets
    /// `got_bytes` once any reply bytes arrived.
    async fn exchange<T>(
        &self,
        conn: &mut Conn,
        request: &[u8],
        parse: &mut (impl FnMut(&mut BytesMut) -> Result<Option<T>, CacheError> + Send),
        got_bytes: &mut bool,
    ) -> Result<T, CacheError> {
        conn.stream
            .write_all(request)
            .await
            .map_err(|source| self.io("write", source))?;
        loop {
            if let Some(reply) = parse(&mut conn.buf)? {
                if !conn.buf.is_empty() {
                    return Err(CacheError::malformed("bytes after the end of a reply"));
                }
                return Ok(reply);
            }
            self.read_more(conn).await?;
            *got_bytes = true;
        }
    }

    /// Runs one request/reply exchange within the timeout, on an idle connection if
    /// there is one. An idle connection the server has closed meanwhile (a restart, an
    /// idle timeout) fails before any reply byte; the request then goes once more over
    /// a new connection.
    async fn request<T>(
        &self,
        op: &'static str,
        request: &[u8],
        mut parse: impl FnMut(&mut BytesMut) -> Result<Option<T>, CacheError> + Send,
    ) -> Result<T, CacheError> {
        self.with_timeout(op, async {
            if let Some(mut conn) = self.take_idle() {
                let mut got_bytes = false;
                match self
                    .exchange(&mut conn, request, &mut parse, &mut got_bytes)
                    .await
                {
                    Ok(reply) => {
                        self.put_idle(conn);
                        return Ok(reply);
                    }
                    Err(CacheError::Closed { .. } | CacheError::Io { .. }) if !got_bytes => {}
                    Err(e) => return Err(e),
                }
            }
            let mut conn = self.dial().await?;
            let mut got_bytes = false;
            let reply = self
                .exchange(&mut conn, request, &mut parse, &mut got_bytes)
                .await?;
            self.put_idle(conn);
            Ok(reply)
        })
        .await
    }

    /// `get` of `keys` (valid memcached keys), refusing values longer than
    /// `max_value_len`.
    pub(crate) async fn get_multi(
        &self,
        keys: &[&str],
        max_value_len: u64,
    ) -> Result<Vec<Value>, CacheError> {
        let mut request = Vec::with_capacity(keys.iter().map(|k| k.len() + 1).sum::<usize>() + 6);
        encode_get(keys.iter().copied(), &mut request);
        let mut parser = GetReplyParser::new(keys, max_value_len);
        self.request("get", &request, |buf| Ok(parser.parse(buf)?.then_some(())))
            .await?;
        Ok(parser.into_values())
    }

    /// `set` of `key` (a valid memcached key) to the concatenation of `data`.
    pub(crate) async fn set(
        &self,
        key: &str,
        flags: u32,
        exptime: u32,
        data: &[&[u8]],
    ) -> Result<StoreReply, CacheError> {
        let mut request = Vec::with_capacity(data.iter().map(|d| d.len()).sum::<usize>() + 64);
        encode_set(key, flags, exptime, data, &mut request);
        self.request("set", &request, parse_store_reply).await
    }
}

//! A minimal HTTP/1.1 client over plain TCP for the load tools: one keep-alive connection
//! per [`Conn`], reopened when the server closes it. It reads `Content-Length`, chunked and
//! read-to-close bodies. Only `http://` URLs; no TLS, no redirects, no proxies — the tools
//! talk to servers on the same machine or network.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Where a server listens and the path prefix its API lives under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Resolved address.
    pub addr: SocketAddr,
    /// `host[:port]` as given, for the `Host` header.
    pub host: String,
    /// Path of the URL without a trailing `/` (empty for the root).
    pub path: String,
}

impl Endpoint {
    /// Parses `http://host[:port][/path]`.
    pub fn parse(url: &str) -> Result<Endpoint, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("{url}: only http:// URLs are supported"))?;
        let (host, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if host.is_empty() {
            return Err(format!("{url}: no host"));
        }
        let with_port = if host
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        {
            host.to_string()
        } else {
            format!("{host}:80")
        };
        let addr = with_port
            .to_socket_addrs()
            .map_err(|e| format!("{url}: {e}"))?
            .next()
            .ok_or_else(|| format!("{url}: host has no address"))?;
        Ok(Endpoint {
            addr,
            host: host.to_string(),
            path: path.trim_end_matches('/').to_string(),
        })
    }

    /// The endpoint of a server on loopback port `port` with no path.
    pub fn loopback(port: u16) -> Endpoint {
        Endpoint {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            host: format!("127.0.0.1:{port}"),
            path: String::new(),
        }
    }
}

/// An HTTP response: status and body.
#[derive(Debug)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Body, de-chunked.
    pub body: Vec<u8>,
}

/// One keep-alive connection to an [`Endpoint`].
pub struct Conn {
    endpoint: Endpoint,
    stream: Option<BufReader<TcpStream>>,
    head: String,
    line: String,
}

impl Conn {
    /// A connection opened on the first request.
    pub fn new(endpoint: Endpoint) -> Conn {
        Conn {
            endpoint,
            stream: None,
            head: String::new(),
            line: String::new(),
        }
    }

    /// The endpoint this connection talks to.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Sends one request to `path` (appended to the endpoint's path) and reads the answer.
    /// A request on a reused connection the server had closed is retried once on a new one.
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> std::io::Result<Response> {
        let reused = self.stream.is_some();
        match self.try_request(method, path, headers, body) {
            Ok(r) => Ok(r),
            Err(_) if reused => {
                self.stream = None;
                self.try_request(method, path, headers, body)
            }
            Err(e) => Err(e),
        }
    }

    fn try_request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> std::io::Result<Response> {
        let result = self.exchange(method, path, headers, body);
        if result.is_err() {
            self.stream = None;
        }
        result
    }

    fn exchange(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> std::io::Result<Response> {
        use std::fmt::Write as _;
        if self.stream.is_none() {
            let s = TcpStream::connect_timeout(&self.endpoint.addr, Duration::from_secs(5))?;
            s.set_read_timeout(Some(Duration::from_secs(300)))?;
            s.set_nodelay(true)?;
            self.stream = Some(BufReader::new(s));
        }
        let Some(r) = self.stream.as_mut() else {
            return Err(std::io::Error::other("no connection"));
        };
        self.head.clear();
        let _ = write!(
            self.head,
            "{method} {}{path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n",
            self.endpoint.path,
            self.endpoint.host,
            body.len()
        );
        for (k, v) in headers {
            let _ = write!(self.head, "{k}: {v}\r\n");
        }
        self.head.push_str("\r\n");
        let s = r.get_mut();
        s.write_all(self.head.as_bytes())?;
        s.write_all(body)?;

        let line = &mut self.line;
        line.clear();
        if r.read_line(line)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed before the status line",
            ));
        }
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
        let (mut chunked, mut length, mut close) = (false, None::<usize>, false);
        loop {
            line.clear();
            if r.read_line(line)? == 0 {
                return Err(std::io::Error::other("connection closed in the headers"));
            }
            let l = line.trim_end().to_ascii_lowercase();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                let v = v.trim();
                match k.trim() {
                    "transfer-encoding" => chunked |= v.contains("chunked"),
                    "content-length" => length = v.parse().ok(),
                    "connection" => close |= v == "close",
                    _ => {}
                }
            }
        }
        let mut body = Vec::new();
        // These answers have no body, whatever the headers say (RFC 9112 section 6.3).
        let bodiless = method == "HEAD" || status == 204 || status == 304 || status / 100 == 1;
        if bodiless {
        } else if chunked {
            loop {
                line.clear();
                r.read_line(line)?;
                let size = line.trim().split(';').next().unwrap_or("");
                let n = usize::from_str_radix(size, 16)
                    .map_err(|e| std::io::Error::other(format!("bad chunk size: {e}")))?;
                if n == 0 {
                    // Trailers, then the blank line that ends the message.
                    loop {
                        line.clear();
                        if r.read_line(line)? == 0 || line.trim_end().is_empty() {
                            break;
                        }
                    }
                    break;
                }
                let start = body.len();
                body.resize(start + n, 0);
                r.read_exact(&mut body[start..])?;
                let mut crlf = [0u8; 2];
                r.read_exact(&mut crlf)?;
            }
        } else if let Some(n) = length {
            body.resize(n, 0);
            r.read_exact(&mut body)?;
        } else {
            r.read_to_end(&mut body)?;
            close = true;
        }
        if close {
            self.stream = None;
        }
        Ok(Response { status, body })
    }
}

/// Percent-encodes `s` for a URL query component.
pub fn url_encode(s: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_keeps_path_prefix_without_trailing_slash() {
        let e = Endpoint::parse("http://127.0.0.1:9009/prometheus/").unwrap();
        assert_eq!(e.addr.port(), 9009);
        assert_eq!(e.path, "/prometheus");
        assert_eq!(e.host, "127.0.0.1:9009");
    }

    #[test]
    fn parse_rejects_https() {
        assert!(Endpoint::parse("https://example.com").is_err());
    }

    #[test]
    fn url_encode_escapes_promql() {
        assert_eq!(url_encode("rate(x[5m])"), "rate%28x%5B5m%5D%29");
    }
}

//! The wire-format details of the Azure fake ([`super`]): HTTP dates, `Range` headers,
//! URL path decoding, XML escaping, and the shared-key signature Azure checks.

use hyper::header::{HeaderMap, HeaderValue};

/// A `Range: bytes=a-b` or `bytes=a-` header as an inclusive range within `size`;
/// `None` when it cannot be satisfied (or is not of that form).
pub(super) fn parse_range(v: &HeaderValue, size: u64) -> Option<(u64, u64)> {
    let (a, b) = v.to_str().ok()?.strip_prefix("bytes=")?.split_once('-')?;
    let start: u64 = a.parse().ok()?;
    let end: u64 = if b.is_empty() {
        u64::MAX
    } else {
        b.parse().ok()?
    };
    (start < size && start <= end).then(|| (start, end.min(size - 1)))
}

/// The value of header `name` in a block of `Name: value` lines.
pub(super) fn header_line<'a>(block: &'a str, name: &str) -> Option<&'a str> {
    block.split("\r\n").find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Decodes `%XX` escapes in a URL path segment.
pub(super) fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    let hex = |c: u8| (c as char).to_digit(16);
    while i < b.len() {
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Escapes text for an XML element or attribute.
pub(super) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Unix seconds as an HTTP date (RFC 1123, GMT).
pub(super) fn http_date(secs: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Days since 1970-01-01 to a civil date, in 400-year eras from 0000-03-01.
    let z = days + 719_468;
    let (era, doe) = (z / 146_097, z % 146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{}, {day:02} {} {year} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        MONTHS[month as usize - 1],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The shared-key signature of a request, as Azure computes it to check
/// `Authorization: SharedKey <account>:<signature>`: base64 of HMAC-SHA256, keyed
/// with the account key, over the method, the standard headers that matter, the
/// `x-ms-*` headers and the account, path and query.
pub(super) fn shared_key_signature(
    key: &[u8],
    account: &str,
    method: &str,
    path: &str,
    query: &str,
    h: &HeaderMap,
) -> String {
    let get = |n: &str| h.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mut s = format!("{method}\n");
    for name in [
        "content-encoding",
        "content-language",
        "content-length",
        "content-md5",
    ] {
        // A zero length is signed as empty.
        let v = get(name);
        s += if name == "content-length" && v == "0" {
            ""
        } else {
            v
        };
        s.push('\n');
    }
    s += &format!("{}\n", get("content-type"));
    // `x-ms-date`, when sent, is signed among the x-ms headers instead of `Date`.
    s += &format!(
        "{}\n",
        if h.contains_key("x-ms-date") {
            ""
        } else {
            get("date")
        }
    );
    for name in [
        "if-modified-since",
        "if-match",
        "if-none-match",
        "if-unmodified-since",
        "range",
    ] {
        s += &format!("{}\n", get(name));
    }
    let mut ms: Vec<(&str, &str)> = h
        .iter()
        .filter(|(n, _)| n.as_str().starts_with("x-ms-"))
        .map(|(n, v)| (n.as_str(), v.to_str().unwrap_or("").trim()))
        .collect();
    ms.sort();
    for (n, v) in ms {
        s += &format!("{n}:{v}\n");
    }
    s += &format!("/{account}{path}");
    let mut params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.to_lowercase(), v.into_owned()))
        .collect();
    params.sort();
    let mut i = 0;
    while i < params.len() {
        let name = params[i].0.clone();
        let values: Vec<&str> = params[i..]
            .iter()
            .take_while(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .collect();
        i += values.len();
        s += &format!("\n{name}:{}", values.join(","));
    }
    let tag = aws_lc_rs::hmac::sign(
        &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key),
        s.as_bytes(),
    );
    base64(tag.as_ref())
}

/// Standard base64 with padding.
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk.iter().fold(0u32, |n, &b| n << 8 | u32::from(b)) << (8 * (3 - chunk.len()));
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn http_dates_ranges_and_base64() {
    assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
    assert_eq!(http_date(1_700_000_000), "Tue, 14 Nov 2023 22:13:20 GMT");
    assert_eq!(http_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
    let r = |s: &'static str, size| parse_range(&HeaderValue::from_static(s), size);
    assert_eq!(r("bytes=2-5", 10), Some((2, 5)));
    assert_eq!(r("bytes=8-100", 10), Some((8, 9)));
    assert_eq!(r("bytes=3-", 10), Some((3, 9)));
    assert_eq!(r("bytes=10-12", 10), None);
    assert_eq!(percent_decode("a%2Fb%20c"), "a/b c");
    assert_eq!(
        base64(b"secret-key-for-tests"),
        "c2VjcmV0LWtleS1mb3ItdGVzdHM="
    );
    assert_eq!(base64(b"ab"), "YWI=");
    assert_eq!(base64(b"a"), "YQ==");
}

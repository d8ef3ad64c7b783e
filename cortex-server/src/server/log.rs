//! Structured logs on standard error, in logfmt (`level=info ts=... msg="..." k=v`) or
//! JSON, filtered by level. The logger is a value handed to whoever logs.

use std::fmt::Write as _;
use std::io::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

/// Log levels, least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Detail for debugging.
    Debug,
    /// Normal operation.
    Info,
    /// Something unexpected that was handled.
    Warn,
    /// Something failed.
    Error,
}

impl Level {
    fn parse(s: &str) -> Level {
        match s {
            "debug" => Level::Debug,
            "warn" => Level::Warn,
            "error" => Level::Error,
            _ => Level::Info,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

/// Writes log lines at or above a level.
#[derive(Debug, Clone, Copy)]
pub struct Logger {
    min: Level,
    json: bool,
}

impl Logger {
    /// A logger for `server.log_level` and `server.log_format`.
    pub fn new(level: &str, format: &str) -> Logger {
        Logger {
            min: Level::parse(level),
            json: format == "json",
        }
    }

    /// Logs `msg` with key/value pairs at `level`.
    pub fn log(&self, level: Level, msg: &str, kv: &[(&str, &dyn std::fmt::Display)]) {
        if level < self.min {
            return;
        }
        let line = self.format(level, msg, kv);
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    /// Logs at info level.
    pub fn info(&self, msg: &str, kv: &[(&str, &dyn std::fmt::Display)]) {
        self.log(Level::Info, msg, kv);
    }

    /// Logs at warn level.
    pub fn warn(&self, msg: &str, kv: &[(&str, &dyn std::fmt::Display)]) {
        self.log(Level::Warn, msg, kv);
    }

    /// Logs at error level.
    pub fn error(&self, msg: &str, kv: &[(&str, &dyn std::fmt::Display)]) {
        self.log(Level::Error, msg, kv);
    }

    fn format(&self, level: Level, msg: &str, kv: &[(&str, &dyn std::fmt::Display)]) -> String {
        let ts = timestamp();
        let mut out = String::new();
        if self.json {
            let mut obj = serde_json::Map::new();
            obj.insert("level".into(), level.as_str().into());
            obj.insert("ts".into(), ts.into());
            obj.insert("msg".into(), msg.into());
            for (k, v) in kv {
                obj.insert((*k).into(), v.to_string().into());
            }
            out = serde_json::Value::Object(obj).to_string();
        } else {
            let _ = write!(out, "level={} ts={ts} msg={}", level.as_str(), quote(msg));
            for (k, v) in kv {
                let _ = write!(out, " {k}={}", quote(&v.to_string()));
            }
        }
        out.push('\n');
        out
    }
}

/// A logfmt value: bare when it has no spaces, quotes or `=`, else quoted.
fn quote(s: &str) -> String {
    if !s.is_empty() && !s.contains([' ', '"', '=', '\n', '\t']) {
        s.to_string()
    } else {
        format!("{s:?}")
    }
}

/// Now as RFC 3339 UTC with milliseconds.
fn timestamp() -> String {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    cortex_core::ingester::time_format::rfc3339_millis(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logfmt_quotes_only_when_needed_and_json_is_an_object() {
        let l = Logger::new("info", "logfmt");
        let line = l.format(Level::Info, "push failed", &[("tenant", &"a b"), ("n", &3)]);
        assert!(line.contains(r#"level=info"#), "{line}");
        assert!(
            line.ends_with("msg=\"push failed\" tenant=\"a b\" n=3\n"),
            "{line}"
        );
        let j = Logger::new("info", "json").format(Level::Warn, "x", &[("k", &"v")]);
        let v: serde_json::Value = serde_json::from_str(&j).unwrap();
        assert_eq!(v["level"], "warn");
        assert_eq!(v["k"], "v");
    }
}

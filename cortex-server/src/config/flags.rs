//! Command-line flags. Every option in the YAML layout is also a flag: its YAML path
//! with `-` for `_` in each segment (`-server.http-listen-port`,
//! `-blocks-storage.tsdb.dir`), the plain YAML path also works
//! (`-server.http_listen_port`), and Cortex's own flag names are accepted where they
//! differ (`-auth.enabled`, `-log.level`, `-distributor.ingestion-rate-limit`, every
//! `limits` flag). Go flag syntax: `-name=value`, `-name value`, `--name=value`, and a
//! bare `-name` for booleans.

use std::path::PathBuf;

use serde_yaml::{Mapping, Value};

use super::{Config, ConfigError};

/// Cortex flag names that are not their option's YAML path, outside `limits`.
const ALIASES: &[(&str, &str)] = &[
    ("auth.enabled", "auth_enabled"),
    ("log.level", "server.log_level"),
    ("log.format", "server.log_format"),
    ("runtime-config.reload-period", "runtime_config.period"),
    (
        "querier.split-queries-by-interval",
        "query_range.split_queries_by_interval",
    ),
    (
        "querier.align-querier-with-step",
        "query_range.align_queries_with_step",
    ),
    ("querier.cache-results", "query_range.cache_results"),
    ("server.grpc-listen-address", "server.grpc_listen_address"),
    (
        "distributor.replication-factor",
        "ingester.lifecycler.ring.replication_factor",
    ),
    ("ring.store", "ingester.lifecycler.ring.kvstore.store"),
    (
        "distributor.ha-tracker.enable",
        "distributor.ha_tracker.enable_ha_tracker",
    ),
    (
        "distributor.ha-tracker.update-timeout",
        "distributor.ha_tracker.ha_tracker_update_timeout",
    ),
    (
        "distributor.ha-tracker.update-timeout-jitter-max",
        "distributor.ha_tracker.ha_tracker_update_timeout_jitter_max",
    ),
    (
        "distributor.ha-tracker.store",
        "distributor.ha_tracker.kvstore.store",
    ),
    (
        "distributor.ha-tracker.prefix",
        "distributor.ha_tracker.kvstore.prefix",
    ),
    (
        "distributor.ha-tracker.etcd.endpoints",
        "distributor.ha_tracker.kvstore.etcd.endpoints",
    ),
    (
        "memberlist.join",
        "ingester.lifecycler.ring.kvstore.memberlist.join_members",
    ),
    (
        "memberlist.bind-addr",
        "ingester.lifecycler.ring.kvstore.memberlist.bind_addr",
    ),
    (
        "memberlist.bind-port",
        "ingester.lifecycler.ring.kvstore.memberlist.bind_port",
    ),
    (
        "memberlist.nodename",
        "ingester.lifecycler.ring.kvstore.memberlist.node_name",
    ),
    ("ring.prefix", "ingester.lifecycler.ring.kvstore.prefix"),
    (
        "etcd.endpoints",
        "ingester.lifecycler.ring.kvstore.etcd.endpoints",
    ),
    (
        "etcd.dial-timeout",
        "ingester.lifecycler.ring.kvstore.etcd.dial_timeout",
    ),
    (
        "etcd.max-retries",
        "ingester.lifecycler.ring.kvstore.etcd.max_retries",
    ),
    (
        "ring.heartbeat-timeout",
        "ingester.lifecycler.ring.heartbeat_timeout",
    ),
];

/// The command line, split into what selects the config file and the option flags.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedArgs {
    /// `-config.file`.
    pub config_file: Option<PathBuf>,
    /// `-config.expand-env`.
    pub expand_env: bool,
    /// `-help` / `-h`.
    pub help: bool,
    /// `-version`.
    pub version: bool,
    /// Option flags in order: (YAML path, flag as given, value).
    pub flags: Vec<(String, String, String)>,
}

/// Parses the arguments (without the program name).
pub fn parse_args(args: &[String]) -> Result<ParsedArgs, ConfigError> {
    let defaults = serde_yaml::to_value(Config::default()).unwrap_or(Value::Null);
    let mut out = ParsedArgs::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let Some(flag) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
            return Err(ConfigError::UnknownFlag(format!(
                "{arg} (arguments must be flags)"
            )));
        };
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (flag, None),
        };
        match name {
            "h" | "help" => {
                out.help = true;
                continue;
            }
            "version" => {
                out.version = true;
                continue;
            }
            "config.expand-env" => {
                out.expand_env = parse_bool(name, inline.as_deref().unwrap_or("true"))?;
                continue;
            }
            _ => {}
        }
        let value_of = |it: &mut std::slice::Iter<'_, String>| {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or_else(|| ConfigError::MissingValue(name.to_string()))
        };
        if name == "config.file" {
            out.config_file = Some(PathBuf::from(value_of(&mut it)?));
            continue;
        }
        let path = resolve(name, &defaults).ok_or_else(|| ConfigError::UnknownFlag(name.into()))?;
        let is_bool = matches!(lookup(&defaults, &path), Some(Value::Bool(_)));
        let value = if is_bool {
            inline.clone().unwrap_or_else(|| "true".into())
        } else {
            value_of(&mut it)?
        };
        out.flags.push((path, name.to_string(), value));
    }
    Ok(out)
}

/// The YAML path a flag sets, if it names an option.
fn resolve(flag: &str, defaults: &Value) -> Option<String> {
    if let Some((_, path)) = ALIASES.iter().find(|(f, _)| *f == flag) {
        return Some((*path).to_string());
    }
    if let Some(opt) = cortex_core::limits::option_by_flag(flag) {
        return Some(format!("limits.{}", opt.key));
    }
    let path = flag.replace('-', "_");
    match lookup(defaults, &path) {
        Some(v) if !v.is_mapping() => Some(path),
        _ => None,
    }
}

/// The value at a dotted path.
fn lookup<'v>(v: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(v, |v, seg| v.get(seg))
}

/// Go's `strconv.ParseBool`.
fn parse_bool(flag: &str, v: &str) -> Result<bool, ConfigError> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(ConfigError::FlagValue {
            flag: flag.to_string(),
            value: v.to_string(),
            reason: "not a boolean".into(),
        }),
    }
}

/// The YAML value a flag's text stands for, shaped like the option's default.
fn flag_value(flag: &str, text: &str, default: Option<&Value>) -> Result<Value, ConfigError> {
    Ok(match default {
        Some(Value::Bool(_)) => Value::Bool(parse_bool(flag, text)?),
        Some(Value::String(_)) => Value::String(text.to_string()),
        Some(Value::Sequence(_)) => Value::Sequence(
            text.split(',')
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.trim().to_string()))
                .collect(),
        ),
        _ => serde_yaml::from_str(text).unwrap_or_else(|_| Value::String(text.to_string())),
    })
}

/// Sets `path` in `root` (a mapping), creating mappings on the way.
fn set(root: &mut Value, path: &str, v: Value) {
    let mut cur = root;
    let mut segs = path.split('.').peekable();
    while let Some(seg) = segs.next() {
        if !cur.is_mapping() {
            *cur = Value::Mapping(Mapping::new());
        }
        let Value::Mapping(m) = cur else { return };
        let key = Value::String(seg.to_string());
        if segs.peek().is_none() {
            m.insert(key, v);
            return;
        }
        cur = m.entry(key).or_insert(Value::Mapping(Mapping::new()));
    }
}

/// Applies the flags over the file's `value` and builds the configuration. A flag whose
/// value does not fit its option is reported by name.
pub(super) fn apply(
    mut value: Value,
    flags: &[(String, String, String)],
) -> Result<Config, ConfigError> {
    let defaults = serde_yaml::to_value(Config::default()).unwrap_or(Value::Null);
    for (path, flag, text) in flags {
        let v = flag_value(flag, text, lookup(&defaults, path))?;
        // Each flag alone must fit its option, so a bad one is named.
        let mut alone = Value::Mapping(Mapping::new());
        set(&mut alone, path, v.clone());
        if let Err(e) = serde_yaml::from_value::<Config>(alone) {
            return Err(ConfigError::FlagValue {
                flag: flag.clone(),
                value: text.clone(),
                reason: e.to_string(),
            });
        }
        set(&mut value, path, v);
    }
    // Options not given keep the single-binary defaults, even inside a section that is
    // partly given (a section alone would fall back to its library defaults).
    let mut merged = defaults;
    overlay(&mut merged, value);
    serde_yaml::from_value::<Config>(merged).map_err(|e| ConfigError::Invalid {
        key: "(config)".into(),
        reason: e.to_string(),
    })
}

/// Lays `top` over `base`: mappings merge key by key, anything else replaces (a null
/// leaves the base value).
fn overlay(base: &mut Value, top: Value) {
    match (base, top) {
        (_, Value::Null) => {}
        (Value::Mapping(b), Value::Mapping(t)) => {
            for (k, v) in t {
                match b.get_mut(&k) {
                    Some(slot) => overlay(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

/// The flag list for `-help`: every option with its default.
pub fn usage() -> String {
    let defaults = serde_yaml::to_value(Config::default()).unwrap_or(Value::Null);
    let mut lines = vec![
        "Usage: cortex [flags]    (or: cortex tsdb <command>)".to_string(),
        String::new(),
        "  -config.file string\n    \tConfiguration file to load (YAML).".to_string(),
        "  -config.expand-env\n    \tExpand ${VAR} and ${VAR:default} in the config file."
            .to_string(),
    ];
    let mut leaves = Vec::new();
    walk(&defaults, String::new(), &mut leaves);
    for (path, v) in leaves {
        let flag = if let Some(key) = path.strip_prefix("limits.") {
            match cortex_core::limits::option_by_key(key) {
                Some(opt) => opt.flag.to_string(),
                None => path.replace('_', "-"),
            }
        } else if let Some((f, _)) = ALIASES.iter().find(|(_, p)| *p == path) {
            (*f).to_string()
        } else {
            path.replace('_', "-")
        };
        let shown = match v {
            Value::String(s) => format!("{s:?}"),
            other => serde_yaml::to_string(&other)
                .unwrap_or_default()
                .trim()
                .replace('\n', " "),
        };
        lines.push(format!("  -{flag}\n    \tYAML: {path} (default {shown})"));
    }
    lines.join("\n") + "\n"
}

fn walk(v: &Value, prefix: String, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Mapping(m) => {
            for (k, v) in m {
                if let Some(k) = k.as_str() {
                    let p = if prefix.is_empty() {
                        k.to_string()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(v, p, out);
                }
            }
        }
        other => out.push((prefix, other.clone())),
    }
}

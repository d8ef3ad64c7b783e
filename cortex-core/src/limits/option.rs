//! The option table behind [`Limits`]: one [`LimitOption`] per field, giving its YAML
//! key, its Cortex command-line flag, its help text and a typed setter, so the server
//! can offer every limit as a flag without reflection.
//!
//! [`define_limits!`] writes the struct, its `Default`, the table and the overlay
//! deserializer (used for per-tenant overrides) from one list, so the four cannot drift
//! apart. The field list itself lives in `config.rs`; this file owns the mechanism and
//! the per-type behaviour ([`LimitValue`]).

use std::fmt::Write;

use cortex_tsdb::float_format::write_go_g;

use super::{Duration, IngestionRateStrategy, Limits, LimitsError};

/// How one field type reads a flag value and prints its default.
pub trait LimitValue {
    /// The type as Cortex's configuration reference names it (`int`, `duration`, ...).
    const KIND: &'static str;

    /// Applies one command-line occurrence of the flag. Lists append (the flag may be
    /// repeated); everything else replaces.
    fn set_flag(&mut self, value: &str) -> Result<(), String>;

    /// The value as Cortex's configuration reference prints defaults.
    fn doc_text(&self) -> String;
}

impl LimitValue for f64 {
    const KIND: &'static str = "float";

    fn set_flag(&mut self, value: &str) -> Result<(), String> {
        *self = value.trim().parse().map_err(|e| format!("{e}"))?;
        Ok(())
    }

    fn doc_text(&self) -> String {
        let mut s = String::new();
        write_go_g(&mut s, *self);
        s
    }
}

impl LimitValue for usize {
    const KIND: &'static str = "int";

    fn set_flag(&mut self, value: &str) -> Result<(), String> {
        *self = value.trim().parse().map_err(|e| format!("{e}"))?;
        Ok(())
    }

    fn doc_text(&self) -> String {
        self.to_string()
    }
}

impl LimitValue for i64 {
    const KIND: &'static str = "int";

    fn set_flag(&mut self, value: &str) -> Result<(), String> {
        *self = value.trim().parse().map_err(|e| format!("{e}"))?;
        Ok(())
    }

    fn doc_text(&self) -> String {
        self.to_string()
    }
}

impl LimitValue for bool {
    const KIND: &'static str = "boolean";

    /// Go's `strconv.ParseBool` spellings, as Go flags accept them.
    fn set_flag(&mut self, value: &str) -> Result<(), String> {
        *self = match value {
            "1" | "t" | "T" | "true" | "TRUE" | "True" => true,
            "0" | "f" | "F" | "false" | "FALSE" | "False" => false,
            _ => return Err(format!("invalid boolean {value:?}")),
        };
        Ok(())
    }

    fn doc_text(&self) -> String {
        self.to_string()
    }
}

impl LimitValue for String {
    const KIND: &'static str = "string";

    fn set_flag(&mut self, value: &str) -> Result<(), String> {
        *self = value.to_string();
        Ok(())
    }

    fn doc_text(&self) -> String {
        format!("{self:?}")
    }
}

impl LimitValue for Vec<String> {
    const KIND: &'static str = "list of string";

    fn set_flag(&mut self, value: &str) -> Result<(), String> {
        self.push(value.to_string());
        Ok(())
    }

    fn doc_text(&self) -> String {
        let mut s = String::from("[");
        for (i, v) in self.iter().enumerate() {
            if i > 0 {
                s.push(' ');
            }
            s.push_str(v);
        }
        s.push(']');
        s
    }
}

impl LimitValue for Duration {
    const KIND: &'static str = "duration";

    fn set_flag(&mut self, value: &str) -> Result<(), String> {
        *self = value.parse().map_err(|e| format!("{e}"))?;
        Ok(())
    }

    fn doc_text(&self) -> String {
        self.to_string()
    }
}

impl LimitValue for IngestionRateStrategy {
    const KIND: &'static str = "string";

    fn set_flag(&mut self, value: &str) -> Result<(), String> {
        *self = match value {
            "local" => IngestionRateStrategy::Local,
            "global" => IngestionRateStrategy::Global,
            _ => return Err(format!("unknown strategy {value:?} (want local or global)")),
        };
        Ok(())
    }

    fn doc_text(&self) -> String {
        format!("{:?}", self.as_str())
    }
}

/// One limit: its YAML key, Cortex flag, help and typed accessors.
#[derive(Clone, Copy)]
pub struct LimitOption {
    /// The key under `limits:` and in per-tenant overrides (`ingestion_rate`).
    pub key: &'static str,
    /// The command-line flag without dashes (`distributor.ingestion-rate-limit`).
    pub flag: &'static str,
    /// The value type as the configuration reference names it (`int`, `duration`, ...).
    pub kind: &'static str,
    pub(super) doc: &'static [&'static str],
    pub(super) set: fn(&mut Limits, &str) -> Result<(), String>,
    pub(super) text: fn(&Limits) -> String,
}

impl LimitOption {
    /// The help text (the field's documentation as one line).
    pub fn help(&self) -> String {
        let mut out = String::new();
        for line in self.doc {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(line);
        }
        out
    }

    /// Applies a command-line value to `limits`.
    pub fn set(&self, limits: &mut Limits, value: &str) -> Result<(), LimitsError> {
        (self.set)(limits, value).map_err(|reason| LimitsError::InvalidFlagValue {
            flag: self.flag,
            value: value.to_string(),
            reason,
        })
    }

    /// The option's value in `limits`, printed as the configuration reference prints
    /// defaults (`25000`, `2w`, `"local"`, `[]`).
    pub fn value_text(&self, limits: &Limits) -> String {
        (self.text)(limits)
    }

    /// One line of a flag listing: `-flag <kind>  help (default value)`.
    pub fn usage(&self, defaults: &Limits) -> String {
        let mut s = String::new();
        let _ = write!(
            s,
            "-{} <{}>\n    {} (default {})",
            self.flag,
            self.kind,
            self.help(),
            self.value_text(defaults)
        );
        s
    }
}

impl std::fmt::Debug for LimitOption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LimitOption")
            .field("key", &self.key)
            .field("flag", &self.flag)
            .field("kind", &self.kind)
            .finish()
    }
}

/// Writes [`Limits`], its `Default`, the option table `OPTIONS` and the overlay
/// deserializer `overlay_map` from one list of
/// `/// doc` `key: Type = default, "flag";` entries.
macro_rules! define_limits {
    ($(
        $(#[doc = $doc:literal])+
        $key:ident : $ty:ty = $default:expr, $flag:literal;
    )+) => {
        /// Every per-tenant limit, with Cortex's names and defaults. Read from the
        /// `limits:` block of the configuration (unknown keys are errors, missing keys
        /// keep their defaults) and, per tenant, from the runtime configuration's
        /// `overrides:`.
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct Limits {
            $( $(#[doc = $doc])+ pub $key: $ty, )+
        }

        impl Default for Limits {
            fn default() -> Limits {
                Limits { $( $key: $default, )+ }
            }
        }

        /// The YAML keys, in declaration order.
        pub(super) const KEYS: &[&str] = &[ $( stringify!($key), )+ ];

        /// One entry per field, in declaration order.
        pub(super) static OPTIONS: &[$crate::limits::LimitOption] = &[ $(
            $crate::limits::LimitOption {
                key: stringify!($key),
                flag: $flag,
                kind: <$ty as $crate::limits::LimitValue>::KIND,
                doc: &[ $($doc),+ ],
                set: |l, v| $crate::limits::LimitValue::set_flag(&mut l.$key, v),
                text: |l| $crate::limits::LimitValue::doc_text(&l.$key),
            },
        )+ ];

        /// Reads a YAML mapping of limits over `base`: keys present replace, keys
        /// absent keep `base`'s value, unknown keys are errors.
        pub(super) fn overlay_map<'de, A: serde::de::MapAccess<'de>>(
            mut base: Limits,
            mut map: A,
        ) -> Result<Limits, A::Error> {
            while let Some(key) = map.next_key::<String>()? {
                match key.as_str() {
                    $( stringify!($key) => base.$key = map.next_value()?, )+
                    other => return Err(serde::de::Error::unknown_field(other, KEYS)),
                }
            }
            Ok(base)
        }
    };
}

pub(super) use define_limits;

//! `-config.expand-env`: replaces `${VAR}`, `${VAR:default}` and `$VAR` in the config
//! file's text with environment values before parsing. `$$` is a literal `$`.

/// Expands the references in `text`, looking variables up with `lookup`. A `${VAR}`
/// without a value and without a default is an error naming it; an unset `$VAR` expands
/// to nothing, as Go's `os.ExpandEnv` does.
pub fn expand_env(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(stripped) = after.strip_prefix('$') {
            out.push('$');
            rest = stripped;
        } else if let Some(body) = after.strip_prefix('{') {
            let Some(end) = body.find('}') else {
                return Err(format!("unterminated ${{ at byte {i}"));
            };
            let inner = &body[..end];
            let (name, default) = match inner.split_once(':') {
                Some((n, d)) => (n, Some(d)),
                None => (inner, None),
            };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!("invalid variable name {name:?}"));
            }
            match (lookup(name), default) {
                (Some(v), _) => out.push_str(&v),
                (None, Some(d)) => out.push_str(d),
                (None, None) => {
                    return Err(format!(
                        "environment variable {name} is not set and has no default"
                    ));
                }
            }
            rest = &body[end + 1..];
        } else {
            let len = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            if len == 0 {
                out.push('$');
            } else {
                out.push_str(&lookup(&after[..len]).unwrap_or_default());
            }
            rest = &after[len..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(k: &str) -> Option<String> {
        match k {
            "PORT" => Some("9999".into()),
            "DIR" => Some("/var/cortex".into()),
            _ => None,
        }
    }

    #[test]
    fn braces_defaults_bare_names_and_dollars() {
        assert_eq!(
            expand_env(
                "port: ${PORT}\ndir: $DIR/x\nb: ${NOPE:fallback}\nc: $$5 $",
                env
            )
            .unwrap(),
            "port: 9999\ndir: /var/cortex/x\nb: fallback\nc: $5 $"
        );
        assert_eq!(expand_env("a: $UNSET.", env).unwrap(), "a: .");
    }

    #[test]
    fn missing_variables_and_bad_syntax_are_errors() {
        assert!(expand_env("a: ${NOPE}", env).unwrap_err().contains("NOPE"));
        assert!(expand_env("a: ${PORT", env).is_err());
        assert!(expand_env("a: ${-x}", env).is_err());
    }
}

//! Tenants: the rules a tenant ID must follow and how one is read from the
//! `X-Scope-OrgID` header, with Cortex's error texts.
//!
//! A tenant ID is at most 150 bytes of `a-zA-Z0-9` and `!-_.*'()`, and is neither `.`
//! nor `..` (it names a directory in the bucket), nor one of the two names the bucket
//! layout reserves (`__markers__`, `user-index.json.gz`). Queries may name several
//! tenants at once (tenant federation) as `a|b|c`: [`tenant_ids`] splits, validates,
//! sorts and deduplicates them. The write path takes exactly one tenant
//! ([`tenant_id`]). Authentication and the HTTP header handling live in the server;
//! this module only judges the header's value.

/// The HTTP header (and gRPC metadata key, lower-cased) that carries the tenant.
pub const ORG_ID_HEADER: &str = "X-Scope-OrgID";

/// The tenant every request belongs to when authentication is disabled.
pub const FAKE_TENANT: &str = "fake";

/// Separates tenant IDs in a federated `X-Scope-OrgID` value.
pub const TENANT_SEPARATOR: char = '|';

/// The longest tenant ID accepted, in bytes.
pub const MAX_TENANT_ID_LENGTH: usize = 150;

/// Reserved by the bucket layout for global markers.
const GLOBAL_MARKERS_DIR: &str = "__markers__";

/// Reserved by the bucket layout for the tenant index.
const USER_INDEX_FILE: &str = "user-index.json.gz";

/// Why a tenant ID (or an `X-Scope-OrgID` value) was refused. The texts are Cortex's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TenantError {
    /// No tenant was given (missing or empty header), or a federated value has an empty
    /// member.
    #[error("no org id")]
    NoOrgId,
    /// A federated value names more than one tenant where exactly one is required.
    #[error("multiple org IDs present")]
    TooManyOrgIds,
    /// The ID is longer than [`MAX_TENANT_ID_LENGTH`] bytes.
    #[error("tenant ID is too long: max 150 characters")]
    TooLong,
    /// The ID is `.` or `..`.
    #[error("tenant ID is '.' or '..'")]
    UnsafePathSegment,
    /// The ID is the bucket's global markers directory.
    #[error("tenant ID '__markers__' is not allowed")]
    MarkersDir,
    /// The ID is the bucket's tenant index file.
    #[error("tenant ID 'user-index.json.gz' is not allowed")]
    UserIndex,
    /// The ID holds a character outside the allowed set. Like Cortex, the message shows
    /// the first *byte* of the offending character (so a multi-byte character prints as
    /// its lead byte's Latin-1 reading).
    #[error("tenant ID '{tenant}' contains unsupported character '{character}'")]
    UnsupportedCharacter {
        /// The whole tenant ID.
        tenant: String,
        /// The offending character, as Cortex prints it.
        character: char,
    },
}

/// True for the characters a tenant ID may hold.
fn is_supported(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '!' | '-' | '_' | '.' | '*' | '\'' | '(' | ')')
}

/// Checks one tenant ID, in Cortex's order: characters, length, reserved names, `.`/`..`.
pub fn validate_tenant_id(id: &str) -> Result<(), TenantError> {
    if let Some((pos, _)) = id.char_indices().find(|&(_, c)| !is_supported(c)) {
        let lead = id.as_bytes().get(pos).copied().unwrap_or_default();
        return Err(TenantError::UnsupportedCharacter {
            tenant: id.to_string(),
            character: char::from(lead),
        });
    }
    if id.len() > MAX_TENANT_ID_LENGTH {
        return Err(TenantError::TooLong);
    }
    match id {
        GLOBAL_MARKERS_DIR => Err(TenantError::MarkersDir),
        USER_INDEX_FILE => Err(TenantError::UserIndex),
        "." | ".." => Err(TenantError::UnsafePathSegment),
        _ => Ok(()),
    }
}

/// The single tenant of an `X-Scope-OrgID` value, for endpoints that serve exactly one
/// tenant (the write path). The value is taken whole: `a|b` is refused for its `|`.
pub fn tenant_id(org_id: &str) -> Result<&str, TenantError> {
    if org_id.is_empty() {
        return Err(TenantError::NoOrgId);
    }
    validate_tenant_id(org_id)?;
    Ok(org_id)
}

/// The tenants of a possibly federated `X-Scope-OrgID` value (`a|b|c`): each validated,
/// then sorted and deduplicated, so equal sets of tenants give equal lists.
///
/// Cortex lets an empty member through (`a||b`); an empty tenant would name the bucket's
/// root, so here it is refused with [`TenantError::NoOrgId`].
pub fn tenant_ids(org_id: &str) -> Result<Vec<&str>, TenantError> {
    let mut ids = Vec::new();
    for id in org_id.split(TENANT_SEPARATOR) {
        if id.is_empty() {
            return Err(TenantError::NoOrgId);
        }
        validate_tenant_id(id)?;
        ids.push(id);
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// Exactly one tenant from a value that may use the federation syntax: like
/// [`tenant_ids`], then [`TenantError::TooManyOrgIds`] unless one tenant remains.
pub fn single_tenant_id(org_id: &str) -> Result<&str, TenantError> {
    match tenant_ids(org_id)?.as_slice() {
        [one] => Ok(one),
        _ => Err(TenantError::TooManyOrgIds),
    }
}

/// Joins tenant IDs with `|`, the inverse of [`tenant_ids`] for a normalized list.
pub fn join_tenant_ids(ids: &[&str]) -> String {
    let mut out = String::new();
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            out.push(TENANT_SEPARATOR);
        }
        out.push_str(id);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_every_allowed_character() {
        assert_eq!(validate_tenant_id("azAZ09!-_.*'()"), Ok(()));
        assert_eq!(validate_tenant_id(FAKE_TENANT), Ok(()));
        assert_eq!(validate_tenant_id("..."), Ok(()));
        assert_eq!(validate_tenant_id(&"a".repeat(150)), Ok(()));
    }

    #[test]
    fn refuses_with_cortex_messages() {
        let cases: &[(&str, &str)] = &[
            ("a/b", "tenant ID 'a/b' contains unsupported character '/'"),
            ("a b", "tenant ID 'a b' contains unsupported character ' '"),
            ("a|b", "tenant ID 'a|b' contains unsupported character '|'"),
            ("x\\", "tenant ID 'x\\' contains unsupported character '\\'"),
            (".", "tenant ID is '.' or '..'"),
            ("..", "tenant ID is '.' or '..'"),
            ("__markers__", "tenant ID '__markers__' is not allowed"),
            (
                "user-index.json.gz",
                "tenant ID 'user-index.json.gz' is not allowed",
            ),
        ];
        for (id, msg) in cases {
            let err = validate_tenant_id(id).unwrap_err();
            assert_eq!(err.to_string(), *msg, "{id}");
        }
        let long = "a".repeat(151);
        assert_eq!(
            validate_tenant_id(&long).unwrap_err().to_string(),
            "tenant ID is too long: max 150 characters"
        );
    }

    #[test]
    fn characters_are_checked_before_length() {
        let long = format!("{}/", "a".repeat(200));
        assert!(matches!(
            validate_tenant_id(&long),
            Err(TenantError::UnsupportedCharacter { character: '/', .. })
        ));
    }

    #[test]
    fn multibyte_character_prints_its_lead_byte() {
        let err = validate_tenant_id("tä").unwrap_err();
        assert_eq!(
            err.to_string(),
            "tenant ID 'tä' contains unsupported character 'Ã'"
        );
    }

    #[test]
    fn single_tenant_header() {
        assert_eq!(tenant_id("team-1"), Ok("team-1"));
        assert_eq!(tenant_id(""), Err(TenantError::NoOrgId));
        assert_eq!(tenant_id("").unwrap_err().to_string(), "no org id");
        assert!(matches!(
            tenant_id("a|b"),
            Err(TenantError::UnsupportedCharacter { .. })
        ));
    }

    #[test]
    fn federated_header_is_split_sorted_and_deduplicated() {
        assert_eq!(tenant_ids("b|a|c|a"), Ok(vec!["a", "b", "c"]));
        assert_eq!(tenant_ids("solo"), Ok(vec!["solo"]));
        assert_eq!(tenant_ids("a||b"), Err(TenantError::NoOrgId));
        assert_eq!(tenant_ids(""), Err(TenantError::NoOrgId));
        assert_eq!(tenant_ids("a|.."), Err(TenantError::UnsafePathSegment));
        assert_eq!(join_tenant_ids(&tenant_ids("z|y").unwrap()), "y|z");
    }

    #[test]
    fn single_from_federated_value() {
        assert_eq!(single_tenant_id("a|a"), Ok("a"));
        assert_eq!(single_tenant_id("a|b"), Err(TenantError::TooManyOrgIds));
        assert_eq!(
            single_tenant_id("a|b").unwrap_err().to_string(),
            "multiple org IDs present"
        );
    }
}

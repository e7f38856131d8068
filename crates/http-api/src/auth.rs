//! Token resolution and authorization.
//!
//! Until the ACL system exists, [`StaticAuthorizer`] knows one token (the
//! configured initial management token) and behaves like Consul's static
//! authorizers: with ACLs off everything is allowed; with ACLs on and the
//! default policy `allow`, everything but management operations (ACL and
//! snapshot) is allowed to any token, and management operations only to the
//! management token.

/// What a request wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read data (KV, catalog, sessions...).
    Read,
    /// Write data.
    Write,
    /// Operator-level read (raft configuration).
    OperatorRead,
    /// Operator-level write (raft changes).
    OperatorWrite,
    /// Snapshot save/restore and ACL management.
    Management,
}

/// Decides whether a token may do something.
pub trait Authorizer: Send + Sync + 'static {
    /// True when `token` (empty: anonymous) may perform `access`.
    fn allows(&self, token: &str, access: Access) -> bool;
}

/// The authorizer used until the ACL system lands.
#[derive(Debug, Clone, Default)]
pub struct StaticAuthorizer {
    /// ACLs are enabled.
    pub enabled: bool,
    /// `default_policy` is `allow`.
    pub default_allow: bool,
    /// The initial management token.
    pub management_token: Option<String>,
}

impl Authorizer for StaticAuthorizer {
    fn allows(&self, token: &str, access: Access) -> bool {
        if !self.enabled {
            return true;
        }
        let management = !token.is_empty() && self.management_token.as_deref() == Some(token);
        if management {
            return true;
        }
        access != Access::Management && self.default_allow
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn management_needs_the_management_token_when_acls_are_on() {
        let a = StaticAuthorizer {
            enabled: true,
            default_allow: true,
            management_token: Some("m".into()),
        };
        assert!(a.allows("", Access::Write));
        assert!(!a.allows("", Access::Management));
        assert!(!a.allows("other", Access::Management));
        assert!(a.allows("m", Access::Management));
        let off = StaticAuthorizer::default();
        assert!(off.allows("", Access::Management));
    }
}

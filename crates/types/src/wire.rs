//! Error strings that are part of Consul's API: clients compare them verbatim.

/// No leader is known.
pub const NO_LEADER: &str = "No cluster leader";
/// The request's datacenter is not known to this agent.
pub const NO_PATH_TO_DC: &str = "No path to datacenter";
/// The request's token may not do this.
pub const PERMISSION_DENIED: &str = "Permission denied";
/// The token does not exist.
pub const ACL_NOT_FOUND: &str = "ACL not found";
/// ACL endpoints are used while ACLs are disabled.
pub const ACL_DISABLED: &str = "ACL support disabled";
/// KV request without a key.
pub const MISSING_KEY_NAME: &str = "Missing key name";
/// A session referenced by a KV lock or transaction does not exist.
pub const INVALID_SESSION: &str = "invalid session";
/// A session named a node that is not registered.
pub const MISSING_NODE: &str = "Missing node registration";
/// Rate limiting.
pub const RATE_LIMITED: &str = "Rate limit reached, try again later";

/// Every wire string, for the golden test that pins them.
pub const ALL: &[&str] = &[
    NO_LEADER,
    NO_PATH_TO_DC,
    PERMISSION_DENIED,
    ACL_NOT_FOUND,
    ACL_DISABLED,
    MISSING_KEY_NAME,
    INVALID_SESSION,
    MISSING_NODE,
    RATE_LIMITED,
];

#[cfg(test)]
mod tests {
    #[test]
    fn wire_strings_are_pinned() {
        let joined = super::ALL.join("|");
        assert_eq!(
            joined,
            "No cluster leader|No path to datacenter|Permission denied|ACL not found|\
             ACL support disabled|Missing key name|invalid session|Missing node registration|\
             Rate limit reached, try again later"
        );
    }
}

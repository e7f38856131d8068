//! TLS version and cipher-suite checks shared by `mesh` and `ingress-gateway`.

use crate::error::{Error, Result};

/// TLS versions in ascending order (`TLS_AUTO` is "let Envoy choose").
const TLS_VERSIONS: [&str; 5] = ["TLS_AUTO", "TLSv1_0", "TLSv1_1", "TLSv1_2", "TLSv1_3"];

/// Consul's `validateTLSConfig`.
pub(crate) fn validate_tls_config(min: &str, max: &str, cipher_suites: &[String]) -> Result<()> {
    for version in [min, max] {
        if !version.is_empty() && !TLS_VERSIONS.contains(&version) {
            return Err(Error::invalid(format!(
                "{version:?} is not a valid TLS version, must be one of {}",
                TLS_VERSIONS.join(", ")
            )));
        }
    }
    if let (Some(lo), Some(hi)) = (rank(min), rank(max))
        && hi < lo
    {
        return Err(Error::invalid(format!(
            "configuring max version {max} less than the configured min version {min} is invalid"
        )));
    }
    if !cipher_suites.is_empty() && min == "TLSv1_3" {
        return Err(Error::invalid(format!(
            "configuring CipherSuites is only supported for connections negotiated with TLS 1.2 or earlier, TLSMinVersion is set to {min}"
        )));
    }
    Ok(())
}

/// Position of a concrete version; `None` for unset or `TLS_AUTO`.
fn rank(version: &str) -> Option<usize> {
    TLS_VERSIONS
        .iter()
        .position(|v| *v == version)
        .filter(|i| *i > 0)
}

//! skein's built-in Connect CA (Consul's `provider = "consul"`): SPIFFE
//! identities, root generation, leaf signing, root rotation with
//! cross-signing, chain verification and CSR admission.
//!
//! This crate is pure: no tokio, no sockets, no clock reads. Callers pass the
//! time (`SystemTime` for certificates, `Instant` for the limiter) and the
//! serial numbers (Consul keeps a counter in Raft). Storing roots and keys,
//! ACL checks and the HTTP/RPC endpoints belong to `server`, `agent` and
//! `http-api`.
//!
//! ```text
//!  agent                          server (leader)
//!  ─────                          ───────────────
//!  generate_csr(id) ──CSR PEM──▶  CsrLimiter::acquire(now)
//!                                 Authority::sign_csr(req) ──▶ IssuedCert
//!                                   │  (leaf + Root.IntermediateCerts)
//!  verify_leaf(pem, [], roots) ◀──┘
//!
//!  rotation: generate_root ─▶ rotate(roots, old_authority, new_root)
//!            (cross_sign puts the new root, signed by the old key, into
//!             the new root's IntermediateCerts) ─▶ prune(roots, leaf_ttl)
//! ```
//!
//! Keys come from ring: EC P-256 (default) and P-384 can be generated; RSA
//! keys cannot be generated with ring but imported PKCS#8 RSA keys sign.

mod authority;
mod csr;
mod error;
mod key;
mod leaf;
mod limiter;
mod root;
mod rotation;
mod spiffe;
mod time;
mod trust_domain;
mod verify;
mod x509;

pub mod bench;

pub use authority::Authority;
pub use csr::{LeafKey, generate_csr};
pub use error::{Error, Result};
pub use key::{KeyConfig, KeyType, SecretPem};
pub use leaf::{DEFAULT_LEAF_CERT_TTL, IssuedCert, SignRequest};
pub use limiter::{CSR_LIMIT_WAIT, CsrLimiter, CsrLimits, CsrPermit, DEFAULT_CSR_MAX_PER_SECOND};
pub use root::{
    DEFAULT_ROOT_CERT_TTL, GeneratedRoot, Root, RootOptions, generate_root, generate_root_with_key,
    random_serial,
};
pub use rotation::{CROSS_SIGN_TTL, cross_sign, prune, rotate, trust_bundle};
pub use spiffe::SpiffeId;
pub use trust_domain::TrustDomain;
pub use verify::{VerifiedLeaf, verify_leaf};

#[cfg(test)]
mod tests;

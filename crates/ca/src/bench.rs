//! A fixture for timing leaf signing (`cargo xtask bench ca`): the caller
//! builds it outside the timed section, then times [`SigningBench::sign_all`].

use std::time::SystemTime;

use crate::authority::Authority;
use crate::csr::generate_csr;
use crate::error::Result;
use crate::leaf::SignRequest;
use crate::root::{RootOptions, generate_root};
use crate::spiffe::SpiffeId;
use crate::trust_domain::TrustDomain;

/// The cluster ID the fixture's CA is made for.
const CLUSTER_ID: &str = "11111111-2222-3333-4444-555555555555";

/// A P-256 root and `n` distinct service CSRs.
#[derive(Debug)]
pub struct SigningBench {
    authority: Authority,
    csrs: Vec<String>,
    now: SystemTime,
}

// === impl SigningBench ===

impl SigningBench {
    /// Generates the root and `n` CSRs (services `svc-0` … `svc-{n-1}` in
    /// `dc1`), all dated at `now`.
    pub fn new(n: usize, now: SystemTime) -> Result<Self> {
        let td = TrustDomain::for_cluster(CLUSTER_ID)?;
        let generated = generate_root(&RootOptions::new(CLUSTER_ID, 1), now)?;
        let authority = Authority::from_root(&td, &generated.root, &generated.signing_key)?;
        let csrs = (0..n)
            .map(|i| {
                let id = SpiffeId::service(&td, "default", "dc1", &format!("svc-{i}"));
                Ok(generate_csr(&id, &[])?.csr_pem)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(SigningBench {
            authority,
            csrs,
            now,
        })
    }

    /// Signs every CSR once (parse, check, sign, PEM-encode); returns how
    /// many leaves were issued.
    pub fn sign_all(&self) -> Result<usize> {
        for (serial, csr) in (2u64..).zip(&self.csrs) {
            self.authority
                .sign_csr(&SignRequest::new(csr, "dc1", serial, self.now))?;
        }
        Ok(self.csrs.len())
    }
}

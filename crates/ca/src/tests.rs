//! End-to-end tests of the CA: issue, verify, reject, rotate.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{CertificateParams, DistinguishedName, KeyPair, SanType};

use crate::*;

const CLUSTER: &str = "11111111-2222-3333-4444-555555555555";
const OTHER_CLUSTER: &str = "99999999-8888-7777-6666-555555555555";

fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

fn td() -> TrustDomain {
    TrustDomain::for_cluster(CLUSTER).unwrap()
}

fn new_ca(serial: u64, now: SystemTime) -> (GeneratedRoot, Authority) {
    let generated = generate_root(&RootOptions::new(CLUSTER, serial), now).unwrap();
    let authority = Authority::from_root(&td(), &generated.root, &generated.signing_key).unwrap();
    (generated, authority)
}

fn web_csr(td: &TrustDomain, dc: &str) -> String {
    generate_csr(&SpiffeId::service(td, "default", dc, "web"), &[])
        .unwrap()
        .csr_pem
}

fn sign(ca: &Authority, csr: &str, serial: u64, now: SystemTime) -> Result<IssuedCert> {
    ca.sign_csr(&SignRequest::new(csr, "dc1", serial, now))
}

/// A CSR with arbitrary SANs, for the rejection cases.
fn csr_with_sans(sans: Vec<SanType>) -> String {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params.subject_alt_names = sans;
    params.serialize_request(&key).unwrap().pem().unwrap()
}

fn uri(s: &str) -> SanType {
    SanType::URI(s.try_into().unwrap())
}

#[test]
fn signed_leaf_verifies_and_carries_the_spiffe_id() {
    let (generated, ca) = new_ca(1, t0());
    let leaf_key = generate_csr(
        &SpiffeId::service(&td(), "default", "dc1", "web"),
        &["web.service.consul".into()],
    )
    .unwrap();
    let now = t0() + Duration::from_secs(3600);
    let issued = sign(&ca, &leaf_key.csr_pem, 0x1234, now).unwrap();

    let expected_uri = format!("spiffe://{CLUSTER}.consul/ns/default/dc/dc1/svc/web");
    assert_eq!(issued.service, "web");
    assert_eq!(issued.service_uri, expected_uri);
    assert_eq!(issued.serial_number, "12:34");
    assert_eq!(issued.valid_after, now - Duration::from_secs(60));
    assert_eq!(
        issued.valid_before,
        issued.valid_after + DEFAULT_LEAF_CERT_TTL
    );
    assert!(issued.private_key_pem.is_empty());

    let roots = trust_bundle(std::slice::from_ref(&generated.root));
    let verified = verify_leaf(&issued.cert_pem, &[], &roots, now).unwrap();
    assert_eq!(verified.id.to_string(), expected_uri);
    assert_eq!(verified.serial_number, "12:34");
    assert_leaf_extensions(&issued.cert_pem, &generated.root);
}

fn assert_leaf_extensions(cert_pem: &str, root: &Root) {
    let der = x509::first_cert_der(cert_pem, "leaf").unwrap();
    let cert = x509::parse(&der, "leaf").unwrap();
    assert!(!cert.is_ca());
    let ku = cert.key_usage().unwrap().unwrap().value;
    assert!(ku.digital_signature() && ku.key_encipherment());
    assert!(ku.key_agreement() && ku.data_encipherment());
    let eku = cert.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.server_auth && eku.client_auth);
    assert_eq!(x509::authority_key_id(&cert).unwrap(), root.signing_key_id);
    let names = &cert.subject_alternative_name().unwrap().unwrap().value;
    assert_eq!(names.general_names.len(), 2, "URI + DNS SAN");
}

#[test]
fn leaf_from_an_unknown_root_does_not_verify() {
    let (_, ca) = new_ca(1, t0());
    let (other, _) = new_ca(1, t0());
    let issued = sign(&ca, &web_csr(&td(), "dc1"), 2, t0()).unwrap();
    let err = verify_leaf(&issued.cert_pem, &[], &trust_bundle(&[other.root]), t0());
    assert!(matches!(err, Err(Error::Verify(_))));
}

#[test]
fn expired_leaf_does_not_verify() {
    let (generated, ca) = new_ca(1, t0());
    let issued = sign(&ca, &web_csr(&td(), "dc1"), 2, t0()).unwrap();
    let later = t0() + DEFAULT_LEAF_CERT_TTL + Duration::from_secs(1);
    let roots = trust_bundle(&[generated.root]);
    assert!(verify_leaf(&issued.cert_pem, &[], &roots, later).is_err());
}

#[test]
fn csr_from_another_trust_domain_is_rejected() {
    let (_, ca) = new_ca(1, t0());
    let other = TrustDomain::for_cluster(OTHER_CLUSTER).unwrap();
    let err = sign(&ca, &web_csr(&other, "dc1"), 2, t0()).unwrap_err();
    assert!(matches!(err, Error::CsrTrustDomain { .. }));
    assert_eq!(
        err.to_string(),
        format!(
            "SPIFFE ID in CSR from a different trust domain: {OTHER_CLUSTER}.consul, \
             we are {CLUSTER}.consul"
        )
    );
}

#[test]
fn csr_without_a_uri_san_is_rejected() {
    let (_, ca) = new_ca(1, t0());
    let csr = csr_with_sans(vec![SanType::DnsName("web".try_into().unwrap())]);
    let err = sign(&ca, &csr, 2, t0()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "CSR SAN contains an invalid number of URIs: 0"
    );
}

#[test]
fn other_bad_csrs_are_rejected() {
    let (_, ca) = new_ca(1, t0());
    let svc = format!("spiffe://{CLUSTER}.consul/ns/default/dc/dc1/svc/web");
    let two = csr_with_sans(vec![uri(&svc), uri(&svc)]);
    assert!(matches!(
        sign(&ca, &two, 2, t0()),
        Err(Error::CsrUriCount { count: 2 })
    ));

    let server = csr_with_sans(vec![uri(&format!(
        "spiffe://{CLUSTER}.consul/agent/server/dc/dc1"
    ))]);
    assert!(matches!(sign(&ca, &server, 2, t0()), Err(Error::CsrKind)));

    let junk = csr_with_sans(vec![uri("https://example.com/x")]);
    assert!(matches!(
        sign(&ca, &junk, 2, t0()),
        Err(Error::InvalidSpiffeId { .. })
    ));

    let email = csr_with_sans(vec![
        uri(&svc),
        SanType::Rfc822Name("a@b.c".try_into().unwrap()),
    ]);
    assert!(matches!(sign(&ca, &email, 2, t0()), Err(Error::CsrEmail)));

    let err = sign(&ca, &web_csr(&td(), "dc2"), 2, t0()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "SPIFFE ID in CSR from a different datacenter: dc2, we are dc1"
    );
}

#[test]
fn tampered_csr_is_rejected() {
    let (_, ca) = new_ca(1, t0());
    let csr = web_csr(&td(), "dc1");
    // Flip one base64 character inside the signature (the last body line).
    let mut lines: Vec<String> = csr.lines().map(str::to_owned).collect();
    let body = lines.len() - 2;
    let mid = lines[body].len() / 2;
    let flipped = if &lines[body][mid..=mid] == "A" {
        "B"
    } else {
        "A"
    };
    lines[body].replace_range(mid..=mid, flipped);
    let pem = lines.join("\n");
    let err = sign(&ca, &pem, 2, t0()).unwrap_err();
    assert!(
        matches!(err, Error::CsrSignature | Error::Parse { .. }),
        "{err}"
    );
}

#[test]
fn agent_csr_is_moved_into_our_trust_domain() {
    let (generated, ca) = new_ca(1, t0());
    let dummy = TrustDomain::new("dummy.consul").unwrap();
    let csr = generate_csr(&SpiffeId::agent(&dummy, "dc1", "node-1"), &[]).unwrap();
    let issued = sign(&ca, &csr.csr_pem, 2, t0()).unwrap();
    assert_eq!(issued.agent, "node-1");
    let expected = format!("spiffe://{CLUSTER}.consul/agent/client/dc/dc1/id/node-1");
    assert_eq!(issued.agent_uri, expected);
    let roots = trust_bundle(&[generated.root]);
    let verified = verify_leaf(&issued.cert_pem, &[], &roots, t0()).unwrap();
    assert_eq!(verified.id.to_string(), expected);
}

#[test]
fn expired_root_refuses_to_sign() {
    let mut opts = RootOptions::new(CLUSTER, 1);
    opts.ttl = Duration::from_secs(3600);
    let generated = generate_root(&opts, t0()).unwrap();
    let ca = Authority::from_root(&td(), &generated.root, &generated.signing_key).unwrap();
    let later = t0() + Duration::from_secs(7200);
    let err = sign(&ca, &web_csr(&td(), "dc1"), 2, later).unwrap_err();
    assert!(matches!(err, Error::RootExpired { .. }));
}

#[test]
fn authority_rejects_a_foreign_key() {
    let (a, _) = new_ca(1, t0());
    let (b, _) = new_ca(1, t0());
    let err = Authority::from_root(&td(), &a.root, &b.signing_key).unwrap_err();
    assert!(matches!(err, Error::KeyMismatch));
}

#[test]
fn rotation_keeps_old_and_new_leaves_valid() {
    let (old, old_ca) = new_ca(1, t0());
    let old_leaf = sign(&old_ca, &web_csr(&td(), "dc1"), 2, t0()).unwrap();

    let t1 = t0() + Duration::from_secs(24 * 3600);
    let new = generate_root(&RootOptions::new(CLUSTER, 3), t1).unwrap();
    let roots = rotate(
        std::slice::from_ref(&old.root),
        &old_ca,
        new.root.clone(),
        4,
        t1,
    )
    .unwrap();
    assert_eq!(roots.len(), 2);
    assert!(!roots[0].active && roots[0].rotated_out_at == Some(t1));
    let active = &roots[1];
    assert!(active.active && active.intermediate_certs.len() == 1);

    let new_ca = Authority::from_root(&td(), active, &new.signing_key).unwrap();
    let new_leaf = sign(&new_ca, &web_csr(&td(), "dc1"), 5, t1).unwrap();
    let bundle = trust_bundle(&roots);
    for leaf in [&old_leaf, &new_leaf] {
        let v = verify_leaf(&leaf.cert_pem, &[], &bundle, t1).unwrap();
        assert_eq!(v.id, SpiffeId::service(&td(), "default", "dc1", "web"));
    }

    // A peer that only knows the old root accepts the new leaf through the
    // cross-signed certificate appended to CertPEM ...
    let old_only = trust_bundle(std::slice::from_ref(&old.root));
    verify_leaf(&new_leaf.cert_pem, &[], &old_only, t1).unwrap();
    // ... and would not without it.
    let bare = first_pem_block(&new_leaf.cert_pem);
    assert!(verify_leaf(&bare, &[], &old_only, t1).is_err());
    // The cross-signed certificate lives seven days.
    let after = t1 + CROSS_SIGN_TTL + Duration::from_secs(60);
    assert!(verify_leaf(&new_leaf.cert_pem, &[], &old_only, after).is_err());
}

#[test]
fn cross_signed_cert_copies_subject_and_key() {
    let (_, old_ca) = new_ca(1, t0());
    let new = generate_root(&RootOptions::new(CLUSTER, 2), t0()).unwrap();
    let cross = cross_sign(&old_ca, &new.root.root_cert, 9, t0()).unwrap();
    let new_der = x509::first_cert_der(&new.root.root_cert, "new").unwrap();
    let cross_der = x509::first_cert_der(&cross, "cross").unwrap();
    let n = x509::parse(&new_der, "new").unwrap();
    let c = x509::parse(&cross_der, "cross").unwrap();
    assert_eq!(n.subject().as_raw(), c.subject().as_raw());
    assert_eq!(n.public_key().raw, c.public_key().raw);
    assert_ne!(c.issuer().as_raw(), c.subject().as_raw());
    assert!(c.is_ca());
    assert_eq!(x509::serial_u64(c.raw_serial()), 9);
    assert_eq!(x509::authority_key_id(&c).unwrap(), old_ca.signing_key_id());
}

#[test]
fn prune_drops_roots_after_twice_the_leaf_ttl() {
    let (old, old_ca) = new_ca(1, t0());
    let new = generate_root(&RootOptions::new(CLUSTER, 2), t0()).unwrap();
    let roots = rotate(&[old.root], &old_ca, new.root, 3, t0()).unwrap();
    let ttl = DEFAULT_LEAF_CERT_TTL;
    assert_eq!(prune(&roots, ttl, t0() + ttl * 2).len(), 2);
    let pruned = prune(&roots, ttl, t0() + ttl * 2 + Duration::from_secs(1));
    assert_eq!(pruned.len(), 1);
    assert!(pruned[0].active);
}

#[test]
fn imported_rsa_root_signs_verifiable_leaves() {
    let key = SecretPem::new(include_str!("../testdata/rsa-2048.key.pem").to_owned());
    let generated = generate_root_with_key(&RootOptions::new(CLUSTER, 1), key, t0()).unwrap();
    assert_eq!(generated.root.private_key_type, "rsa");
    assert_eq!(generated.root.private_key_bits, 2048);
    let ca = Authority::from_root(&td(), &generated.root, &generated.signing_key).unwrap();
    let issued = sign(&ca, &web_csr(&td(), "dc1"), 2, t0()).unwrap();
    let roots = trust_bundle(&[generated.root]);
    verify_leaf(&issued.cert_pem, &[], &roots, t0()).unwrap();
}

#[test]
fn issued_cert_json_matches_consul() {
    let (_, ca) = new_ca(1, t0());
    let issued = sign(&ca, &web_csr(&td(), "dc1"), 255, t0()).unwrap();
    let json = serde_json::to_value(&issued).unwrap();
    assert_eq!(json["SerialNumber"], "ff");
    assert_eq!(json["Service"], "web");
    assert_eq!(json["ValidAfter"], "2023-11-14T22:12:20Z");
    assert!(
        json["CertPEM"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----")
    );
    assert!(json.get("PrivateKeyPEM").is_none());
    assert!(json.get("Agent").is_none());
    let back: IssuedCert = serde_json::from_value(json).unwrap();
    assert_eq!(back, issued);
}

#[test]
fn bench_fixture_signs_every_csr() {
    let bench = bench::SigningBench::new(3, t0()).unwrap();
    assert_eq!(bench.sign_all().unwrap(), 3);
}

fn first_pem_block(pem: &str) -> String {
    let end = "-----END CERTIFICATE-----";
    let idx = pem.find(end).unwrap() + end.len();
    format!("{}\n", &pem[..idx])
}

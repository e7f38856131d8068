//! Mesh mTLS contexts: inline leaf certificate and roots, as Consul sends
//! them (no SDS).

use envoy_types::pb::envoy::config::core::v3::{
    DataSource, TransportSocket, data_source, transport_socket,
};
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::{
    CertificateValidationContext, CommonTlsContext, DownstreamTlsContext, SubjectAltNameMatcher,
    TlsCertificate, TlsParameters, UpstreamTlsContext, common_tls_context,
    subject_alt_name_matcher::SanType,
};
use envoy_types::pb::google::protobuf::{Any, BoolValue};
use envoy_types::util::pack_any;
use skein_chain::DiscoveryTarget;
use skein_proxycfg::ProxySnapshot;

use super::config::Protocol;
use super::{names, proto};

/// The transport socket of the public listener: this proxy's leaf, client
/// certificates required and checked against the roots.
pub(crate) fn downstream(s: &ProxySnapshot, protocol: Protocol) -> TransportSocket {
    let context = DownstreamTlsContext {
        common_tls_context: Some(common(s, protocol, Vec::new())),
        require_client_certificate: Some(BoolValue { value: true }),
        ..DownstreamTlsContext::default()
    };
    socket(pack_any(context))
}

/// The transport socket of a target cluster: this proxy's leaf, the
/// target's SNI, and the target service's SPIFFE ID as the only accepted
/// server identity.
pub(crate) fn upstream(
    s: &ProxySnapshot,
    target: &DiscoveryTarget,
    protocol: Protocol,
) -> TransportSocket {
    let spiffe = names::spiffe_service(
        &s.trust_domain,
        &target.partition,
        &target.namespace,
        &target.datacenter,
        &target.service,
    );
    let context = UpstreamTlsContext {
        common_tls_context: Some(common(s, protocol, vec![uri_san(&spiffe)])),
        sni: target.sni.clone(),
        ..UpstreamTlsContext::default()
    };
    socket(pack_any(context))
}

/// All roots, concatenated (each PEM ends with a newline).
pub(crate) fn root_bundle(s: &ProxySnapshot) -> String {
    s.roots.iter().fold(String::new(), |mut all, pem| {
        all.push_str(pem);
        if !pem.ends_with('\n') {
            all.push('\n');
        }
        all
    })
}

fn common(
    s: &ProxySnapshot,
    protocol: Protocol,
    sans: Vec<SubjectAltNameMatcher>,
) -> CommonTlsContext {
    let validation = CertificateValidationContext {
        trusted_ca: Some(inline(root_bundle(s))),
        match_typed_subject_alt_names: sans,
        ..CertificateValidationContext::default()
    };
    CommonTlsContext {
        tls_params: Some(TlsParameters::default()),
        tls_certificates: vec![TlsCertificate {
            certificate_chain: Some(inline(s.leaf.cert_pem.clone())),
            private_key: Some(inline(s.leaf.key_pem.clone())),
            ..TlsCertificate::default()
        }],
        alpn_protocols: protocol.alpn(),
        validation_context_type: Some(
            common_tls_context::ValidationContextType::ValidationContext(validation),
        ),
        ..CommonTlsContext::default()
    }
}

fn uri_san(exact: &str) -> SubjectAltNameMatcher {
    SubjectAltNameMatcher {
        san_type: SanType::Uri as i32,
        matcher: Some(proto::exact(exact, false)),
        ..SubjectAltNameMatcher::default()
    }
}

fn inline(pem: String) -> DataSource {
    DataSource {
        specifier: Some(data_source::Specifier::InlineString(pem)),
        ..DataSource::default()
    }
}

fn socket(config: Any) -> TransportSocket {
    TransportSocket {
        name: names::TLS_TRANSPORT_SOCKET.to_owned(),
        config_type: Some(transport_socket::ConfigType::TypedConfig(config)),
    }
}

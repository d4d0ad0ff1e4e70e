//! Owns the test attestation PKI: a root CA (optionally with an intermediate) and leaf
//! attestation certificates that can be issued with one chosen defect each.

use std::fmt;
use std::sync::Arc;

use rcgen::string::PrintableString;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, CustomExtension, DistinguishedName,
    DnType, DnValue, IsCa, KeyPair, KeyUsagePurpose, SigningKey,
};
use time::{Duration, OffsetDateTime};

/// The OID of the FIDO `id-fido-gen-ce-aaguid` certificate extension.
pub const AAGUID_EXTENSION_OID: [u64; 10] = [1, 3, 6, 1, 4, 1, 45724, 1, 1, 4];

/// The OU that WebAuthn §8.2.1 requires in a packed attestation certificate's subject.
pub const ATTESTATION_OU: &str = "Authenticator Attestation";

/// The start of the validity period of every honest certificate this crate issues.
pub fn default_not_before() -> OffsetDateTime {
    rcgen::date_time_ymd(2020, 1, 1)
}

/// The end of the validity period of every honest certificate this crate issues.
///
/// Verifier tests therefore pass a "now" between 2020-01-01 and 2100-01-01.
pub fn default_not_after() -> OffsetDateTime {
    rcgen::date_time_ymd(2100, 1, 1)
}

/// Defects to put into a leaf attestation certificate; the default is an honest certificate.
///
/// Each field breaks exactly one property, so a verifier test can set one field and expect
/// exactly one specific rejection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertFaults {
    /// Replaces the leaf's notBefore (default [`default_not_before`]).
    pub not_before: Option<OffsetDateTime>,
    /// Replaces the leaf's notAfter (default [`default_not_after`]).
    pub not_after: Option<OffsetDateTime>,
    /// Marks the leaf as a CA (basic constraints `cA = TRUE`), which §8.2.1 forbids.
    pub ca_true: bool,
    /// Replaces the subject OU, which §8.2.1 requires to be "Authenticator Attestation".
    pub ou: Option<String>,
    /// Puts this AAGUID into the extension instead of the authenticator's real one.
    pub aaguid: Option<[u8; 16]>,
    /// Marks the AAGUID extension critical, which §8.2.1 forbids.
    pub aaguid_critical: bool,
    /// Leaves out the AAGUID extension (allowed by the spec, but a policy may want it).
    pub omit_aaguid: bool,
    /// Signs the leaf with a freshly made CA that no test configures as a trust root.
    pub untrusted_issuer: bool,
}

impl CertFaults {
    /// A certificate that expired one day before `now` (valid from two years before `now`).
    pub fn expired_at(now: OffsetDateTime) -> Self {
        CertFaults {
            not_before: Some(now - Duration::days(730)),
            not_after: Some(now - Duration::days(1)),
            ..CertFaults::default()
        }
    }

    /// A certificate that only becomes valid one day after `now`.
    pub fn not_yet_valid_at(now: OffsetDateTime) -> Self {
        CertFaults {
            not_before: Some(now + Duration::days(1)),
            not_after: Some(now + Duration::days(730)),
            ..CertFaults::default()
        }
    }
}

/// A leaf attestation certificate, the chain that goes into `x5c`, and the leaf's private key.
pub struct AttestationCert {
    /// The `x5c` array: leaf DER first, then any intermediate; never the root.
    pub chain: Vec<Vec<u8>>,
    key: KeyPair,
}

impl fmt::Debug for AttestationCert {
    // The private key is left out because it is never useful in a failure message.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AttestationCert")
            .field("chain_len", &self.chain.len())
            .finish_non_exhaustive()
    }
}

impl AttestationCert {
    /// The DER encoding of the leaf certificate.
    pub fn leaf_der(&self) -> &[u8] {
        &self.chain[0]
    }

    /// Signs `msg` with the leaf key: ES256 with a DER-encoded signature.
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        self.key
            .sign(msg)
            .expect("ECDSA P-256 signing with a freshly generated key does not fail")
    }
}

/// A test certificate authority whose root a verifier test configures as its trust anchor.
///
/// Cloning is cheap and shares the same keys, so one CA can be handed to many requests.
#[derive(Clone)]
pub struct TestCa {
    inner: Arc<CaInner>,
}

struct CaInner {
    root: CertifiedIssuer<'static, KeyPair>,
    intermediate: Option<CertifiedIssuer<'static, KeyPair>>,
}

impl fmt::Debug for TestCa {
    // Only the shape is printed because keys and DER blobs make failure output unreadable.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestCa")
            .field("intermediate", &self.inner.intermediate.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for TestCa {
    fn default() -> Self {
        TestCa::new()
    }
}

impl TestCa {
    /// A root CA that issues attestation leaves directly, so `x5c` holds only the leaf.
    pub fn new() -> Self {
        TestCa {
            inner: Arc::new(CaInner {
                root: new_root("passkeyd Test Attestation Root"),
                intermediate: None,
            }),
        }
    }

    /// A root CA plus an intermediate that issues the leaves, so `x5c` is `[leaf, intermediate]`.
    pub fn with_intermediate() -> Self {
        let root = new_root("passkeyd Test Attestation Root");
        let mut params = ca_params("passkeyd Test Attestation Intermediate");
        params.use_authority_key_identifier_extension = true;
        let intermediate = CertifiedIssuer::signed_by(params, new_key(), &root)
            .expect("rcgen signs an intermediate CA certificate");
        TestCa {
            inner: Arc::new(CaInner {
                root,
                intermediate: Some(intermediate),
            }),
        }
    }

    /// The root certificate in PEM form, for configuring it as a trust anchor.
    pub fn root_pem(&self) -> String {
        self.inner.root.pem()
    }

    /// The root certificate in DER form, for configuring it as a trust anchor.
    pub fn root_der(&self) -> Vec<u8> {
        self.inner.root.der().to_vec()
    }

    /// The intermediate certificate in DER form, if this CA has one.
    pub fn intermediate_der(&self) -> Option<Vec<u8>> {
        self.inner.intermediate.as_ref().map(|i| i.der().to_vec())
    }

    /// Issues a fresh ES256 attestation leaf with the given defects.
    ///
    /// With `aaguid` set, the leaf carries the FIDO AAGUID extension (unless a fault says
    /// otherwise); `None` issues a leaf without it, as fido-u2f attestation uses.
    pub fn issue(&self, aaguid: Option<[u8; 16]>, faults: &CertFaults) -> AttestationCert {
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CountryName, country_us());
        dn.push(DnType::OrganizationName, "passkeyd Test Vendor");
        dn.push(
            DnType::OrganizationalUnitName,
            faults
                .ou
                .clone()
                .unwrap_or_else(|| ATTESTATION_OU.to_owned()),
        );
        dn.push(DnType::CommonName, "passkeyd Test Authenticator");
        params.distinguished_name = dn;
        params.not_before = faults.not_before.unwrap_or_else(default_not_before);
        params.not_after = faults.not_after.unwrap_or_else(default_not_after);
        params.is_ca = if faults.ca_true {
            IsCa::Ca(BasicConstraints::Unconstrained)
        } else {
            IsCa::ExplicitNoCa
        };
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.use_authority_key_identifier_extension = true;

        let ext_aaguid = faults.aaguid.or(aaguid);
        if let (Some(value), false) = (ext_aaguid, faults.omit_aaguid) {
            // The extension value is itself a DER OCTET STRING holding the 16 raw bytes;
            // rcgen then wraps that in the extnValue OCTET STRING.
            let mut content = vec![0x04, 0x10];
            content.extend_from_slice(&value);
            let mut ext = CustomExtension::from_oid_content(&AAGUID_EXTENSION_OID, content);
            ext.set_criticality(faults.aaguid_critical);
            params.custom_extensions.push(ext);
        }

        let key = new_key();
        let (leaf, rest) = if faults.untrusted_issuer {
            let rogue = new_root("passkeyd Untrusted Rogue Root");
            (params.signed_by(&key, &rogue), Vec::new())
        } else if let Some(intermediate) = &self.inner.intermediate {
            (
                params.signed_by(&key, intermediate),
                vec![intermediate.der().to_vec()],
            )
        } else {
            (params.signed_by(&key, &self.inner.root), Vec::new())
        };
        let leaf = leaf.expect("rcgen signs an attestation leaf certificate");
        let mut chain = vec![leaf.der().to_vec()];
        chain.extend(rest);
        AttestationCert { chain, key }
    }
}

/// A fresh P-256 key, the only key type this PKI uses.
fn new_key() -> KeyPair {
    KeyPair::generate().expect("rcgen generates P-256 keys")
}

/// The country name as a PrintableString, the string type X.520 prescribes for it.
fn country_us() -> DnValue {
    DnValue::PrintableString(
        PrintableString::try_from("US").expect("\"US\" is a valid PrintableString"),
    )
}

/// Parameters for a CA certificate with the given common name.
fn ca_params(cn: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, country_us());
    dn.push(DnType::OrganizationName, "passkeyd Test CA");
    dn.push(DnType::CommonName, cn);
    params.distinguished_name = dn;
    params.not_before = default_not_before();
    params.not_after = default_not_after();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params
}

/// A self-signed root CA with the given common name.
fn new_root(cn: &str) -> CertifiedIssuer<'static, KeyPair> {
    CertifiedIssuer::self_signed(ca_params(cn), new_key())
        .expect("rcgen self-signs a root CA certificate")
}

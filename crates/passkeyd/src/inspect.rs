//! `passkeyd inspect`: recognises options or response JSON, decodes every part of it (client
//! data, authenticator data, COSE key, attestation statement and certificates) with the core's
//! parsers, and reports each part that does not decode in its place instead of giving up.

use crate::cli::InspectArgs;
use crate::report::{printable, render_text, Obj, Val};
use crate::{read_input, Outcome, EXIT_OK, EXIT_REFUSED};
use passkeyd_core::auth_data::{format_aaguid, AttestedCredential};
use passkeyd_core::cert::Certificate;
use passkeyd_core::cose::{Curve, KeyMaterial};
use passkeyd_core::{
    b64, Algorithm, AttestationObject, AuthenticatorData, ClientData, CredentialPublicKey, Error,
    Flags, RpId,
};
use serde_json::{Map, Value};
use std::io::Read;

/// Why the whole input could not be inspected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// `malformed_input` (not JSON) or `unrecognized_input` (JSON, but no WebAuthn shape).
    pub code: &'static str,
    /// For people.
    pub message: String,
}

/// What the input was recognised as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `PublicKeyCredentialCreationOptionsJSON`.
    CreationOptions,
    /// `PublicKeyCredentialRequestOptionsJSON`.
    RequestOptions,
    /// `RegistrationResponseJSON`.
    RegistrationResponse,
    /// `AuthenticationResponseJSON`.
    AuthenticationResponse,
}

impl Kind {
    fn key(self) -> &'static str {
        match self {
            Kind::CreationOptions => "creation_options",
            Kind::RequestOptions => "request_options",
            Kind::RegistrationResponse => "registration_response",
            Kind::AuthenticationResponse => "authentication_response",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Kind::CreationOptions => "Creation options (navigator.credentials.create)",
            Kind::RequestOptions => "Request options (navigator.credentials.get)",
            Kind::RegistrationResponse => "Registration response",
            Kind::AuthenticationResponse => "Authentication response",
        }
    }
}

/// `passkeyd inspect [--json]`.
pub fn run(args: &InspectArgs, input: &mut dyn Read) -> Outcome {
    let bytes = match read_input(input) {
        Ok(bytes) => bytes,
        Err(outcome) => return outcome,
    };
    match inspect(&bytes) {
        Ok((kind, report)) => Outcome {
            stdout: if args.json {
                // The kind leads the JSON object; in text it is the title line.
                let mut json = Obj::new();
                json.add("kind", "Kind", kind.key());
                json.append(report);
                format!("{}\n", to_json(&json))
            } else {
                render_text(kind.title(), &report)
            },
            stderr: String::new(),
            code: EXIT_OK,
        },
        Err(problem) if args.json => Outcome {
            stdout: format!(
                "{}\n",
                serde_json::json!({"error": {"code": problem.code, "message": problem.message}})
            ),
            stderr: String::new(),
            code: EXIT_REFUSED,
        },
        Err(problem) => Outcome {
            stdout: String::new(),
            stderr: format!(
                "passkeyd inspect: {} [{}]\n",
                printable(&problem.message),
                problem.code
            ),
            code: EXIT_REFUSED,
        },
    }
}

fn to_json(report: &Obj) -> String {
    // Serialising this tree cannot fail: every key is a string and every number an i64.
    serde_json::to_string(report).unwrap_or_else(|e| {
        serde_json::json!({"error": {"code": "internal", "message": e.to_string()}}).to_string()
    })
}

/// Recognises and decodes the input.
pub fn inspect(bytes: &[u8]) -> Result<(Kind, Obj), Problem> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| Problem {
        code: "malformed_input",
        message: format!("the input is not JSON: {e}"),
    })?;
    let Value::Object(top) = &value else {
        return Err(unrecognized(format!(
            "expected a JSON object, got {}",
            json_type(&value)
        )));
    };
    let (kind, members) = match classify(top) {
        Some(kind) => (kind, top),
        // Options are often handed around as {"publicKey": {...}}, as credentials.create() takes them.
        None => match top.get("publicKey") {
            Some(Value::Object(inner)) => match classify(inner) {
                Some(kind) => (kind, inner),
                None => return Err(unrecognized_members(inner)),
            },
            _ => return Err(unrecognized_members(top)),
        },
    };
    let mut report = Obj::new();
    match kind {
        Kind::CreationOptions => creation_options(&mut report, members),
        Kind::RequestOptions => request_options(&mut report, members),
        Kind::RegistrationResponse => registration_response(&mut report, members),
        Kind::AuthenticationResponse => authentication_response(&mut report, members),
    }
    Ok((kind, report))
}

fn classify(o: &Map<String, Value>) -> Option<Kind> {
    let response = o.get("response").and_then(Value::as_object);
    if o.contains_key("rp") && o.contains_key("user") {
        Some(Kind::CreationOptions)
    } else if response.is_some_and(|r| r.contains_key("attestationObject")) {
        Some(Kind::RegistrationResponse)
    } else if response.is_some_and(|r| r.contains_key("signature")) {
        Some(Kind::AuthenticationResponse)
    } else if o.contains_key("challenge") && !o.contains_key("rp") {
        Some(Kind::RequestOptions)
    } else {
        None
    }
}

fn unrecognized(message: String) -> Problem {
    Problem {
        code: "unrecognized_input",
        message,
    }
}

fn unrecognized_members(o: &Map<String, Value>) -> Problem {
    let members: Vec<&str> = o.keys().map(String::as_str).collect();
    unrecognized(format!(
        "not WebAuthn options or a response: expected rp and user (creation options), challenge \
         (request options), response.attestationObject (registration) or response.signature \
         (authentication); the object has {}",
        if members.is_empty() {
            "no members".to_owned()
        } else {
            format!("members {}", members.join(", "))
        }
    ))
}

// ---------------------------------------------------------------------------------------------
// Responses

fn registration_response(report: &mut Obj, o: &Map<String, Value>) {
    let raw_id = credential_ids(report, o);
    let response = o.get("response").and_then(Value::as_object);
    let empty = Map::new();
    let response = response.unwrap_or(&empty);
    if let Some(transports) = response.get("transports") {
        report.add("transports", "Transports", json_to_val(transports));
    }
    if let Some(alg) = response.get("publicKeyAlgorithm") {
        report.add(
            "public_key_algorithm",
            "Public key algorithm (response member)",
            algorithm(alg),
        );
    }

    let client_data = client_data(response.get("clientDataJSON"));
    let origin = origin_of(&client_data);
    report.add("client_data", "Client data", client_data);

    let (attestation, auth_data) = match decode_member(response, "attestationObject") {
        Ok(bytes) => attestation(&bytes),
        Err(e) => (Val::Obj(Obj::failed(e.0, e.1)), None),
    };
    match auth_data {
        Some(raw) => {
            let (view, credential_id) = authenticator_data(&raw, origin.as_deref());
            report.add("authenticator_data", "Authenticator data", view);
            if let (Some(raw_id), Some(credential_id)) = (&raw_id, credential_id) {
                report.add(
                    "credential_id_matches_raw_id",
                    "Credential id in authenticator data matches rawId",
                    *raw_id == credential_id,
                );
            }
            if let Ok(member) = decode_member(response, "authenticatorData") {
                report.add(
                    "authenticator_data_member_matches",
                    "response.authenticatorData matches the attestation object",
                    member == raw,
                );
            }
        }
        None => {
            report.add(
                "authenticator_data",
                "Authenticator data",
                Obj::failed(
                    "malformed_attestation_object",
                    "no authData in the attestation object",
                ),
            );
        }
    }
    report.add("attestation", "Attestation", attestation);
    extension_results(report, o);
}

fn authentication_response(report: &mut Obj, o: &Map<String, Value>) {
    credential_ids(report, o);
    let response = o.get("response").and_then(Value::as_object);
    let empty = Map::new();
    let response = response.unwrap_or(&empty);

    let client_data = client_data(response.get("clientDataJSON"));
    let origin = origin_of(&client_data);
    report.add("client_data", "Client data", client_data);

    let auth_data = match decode_member(response, "authenticatorData") {
        Ok(raw) => authenticator_data(&raw, origin.as_deref()).0,
        Err(e) => Val::Obj(Obj::failed(e.0, e.1)),
    };
    report.add("authenticator_data", "Authenticator data", auth_data);
    report.add(
        "signature",
        "Signature",
        match decode_member(response, "signature") {
            Ok(sig) => bytes_view(&sig),
            Err(e) => Obj::failed(e.0, e.1),
        },
    );
    let user_handle = match response.get("userHandle") {
        None | Some(Value::Null) => Val::Null,
        Some(_) => match decode_member(response, "userHandle") {
            Ok(handle) if handle.is_empty() => Val::Null,
            Ok(handle) => Val::Obj(bytes_view(&handle)),
            Err(e) => Val::Obj(Obj::failed(e.0, e.1)),
        },
    };
    report.add("user_handle", "User handle", user_handle);
    extension_results(report, o);
}

/// id, rawId, whether they agree, type and attachment; returns the rawId bytes.
fn credential_ids(report: &mut Obj, o: &Map<String, Value>) -> Option<Vec<u8>> {
    report.add("id", "Credential id (id)", text_member(o, "id"));
    let raw_id = match decode_member(o, "rawId") {
        Ok(raw) => {
            report.add("raw_id", "Credential id (rawId)", text_member(o, "rawId"));
            report.add("raw_id_length", "Credential id length", raw.len());
            Some(raw)
        }
        Err(e) => {
            report.add("raw_id", "Credential id (rawId)", Val::error(e.0, e.1));
            None
        }
    };
    if let (Some(Value::String(id)), Some(raw)) = (o.get("id"), &raw_id) {
        report.add(
            "id_matches_raw_id",
            "id matches rawId",
            b64::decode(id).ok().as_ref() == Some(raw),
        );
    }
    report.add("type", "Type", text_member(o, "type"));
    if o.contains_key("authenticatorAttachment") {
        report.add(
            "authenticator_attachment",
            "Authenticator attachment",
            text_member(o, "authenticatorAttachment"),
        );
    }
    raw_id
}

fn extension_results(report: &mut Obj, o: &Map<String, Value>) {
    if let Some(results) = o.get("clientExtensionResults") {
        report.add(
            "client_extension_results",
            "Client extension results",
            json_to_val(results),
        );
    }
}

const CLIENT_DATA_MEMBERS: [&str; 5] = ["type", "challenge", "origin", "crossOrigin", "topOrigin"];

fn client_data(member: Option<&Value>) -> Val {
    let bytes = match decode_value(member, "clientDataJSON") {
        Ok(bytes) => bytes,
        Err(e) => return Val::Obj(Obj::failed(e.0, e.1)),
    };
    let mut o = Obj::new();
    match ClientData::parse(&bytes) {
        Ok(cd) => {
            o.add("type", "Type", cd.ty);
            o.add("challenge", "Challenge", cd.challenge.as_str());
            o.add(
                "challenge_length",
                "Challenge length (bytes)",
                match b64::decode(&cd.challenge) {
                    Ok(c) => Val::from(c.len()),
                    Err(e) => Val::error("invalid_base64", format!("challenge: {e}")),
                },
            );
            o.add("origin", "Origin", cd.origin);
            o.add("cross_origin", "Cross-origin", cd.cross_origin);
            o.add("top_origin", "Top origin", cd.top_origin);
        }
        Err(e) => {
            error_into(&mut o, &e);
            if let Ok(text) = std::str::from_utf8(&bytes) {
                o.add("raw", "Raw text", text);
            }
        }
    }
    if let Ok(Value::Object(members)) = serde_json::from_slice::<Value>(&bytes) {
        let mut others = Obj::new();
        for (k, v) in &members {
            if !CLIENT_DATA_MEMBERS.contains(&k.as_str()) {
                others.add_raw(k, json_to_val(v));
            }
        }
        if !others.is_empty() {
            o.add("other_members", "Other members", others);
        }
    }
    Val::Obj(o)
}

/// The origin of a decoded client data view, to guess the RP ID from.
fn origin_of(client_data: &Val) -> Option<String> {
    match client_data {
        Val::Obj(o) => match o.get("origin") {
            Some(Val::Str(origin)) => Some(origin.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// Decodes authenticator data; returns the view and the attested credential id, if any.
fn authenticator_data(raw: &[u8], origin: Option<&str>) -> (Val, Option<Vec<u8>>) {
    let mut o = Obj::new();
    o.add("length", "Length (bytes)", raw.len());
    match AuthenticatorData::parse(raw) {
        Ok(ad) => {
            fixed_part(&mut o, ad.rp_id_hash, ad.flags, ad.sign_count, origin);
            let credential_id = ad.attested.as_ref().map(|a| a.credential_id.to_vec());
            if let Some(attested) = &ad.attested {
                o.add(
                    "attested_credential",
                    "Attested credential data",
                    attested_credential(attested),
                );
            }
            if let Some(ext) = ad.extensions {
                o.add("extensions", "Extensions", cbor_bytes(ext));
            }
            (Val::Obj(o), credential_id)
        }
        Err(e) => {
            // Show what the fixed layout still tells, then why the rest does not decode.
            let mut credential_id = None;
            if let (Some(hash), Some(&flags), Some(count)) =
                (raw.get(..32), raw.get(32), raw.get(33..37))
            {
                let count = u32::from_be_bytes([count[0], count[1], count[2], count[3]]);
                let flags = Flags(flags);
                fixed_part(&mut o, hash, flags, count, origin);
                if flags.attested_credential_data() {
                    let (view, id) = attested_prefix(raw.get(37..).unwrap_or_default());
                    credential_id = id;
                    o.add("attested_credential", "Attested credential data", view);
                }
            }
            error_into(&mut o, &e);
            (Val::Obj(o), credential_id)
        }
    }
}

fn fixed_part(o: &mut Obj, rp_id_hash: &[u8], flags: Flags, sign_count: u32, origin: Option<&str>) {
    o.add(
        "rp_id_hash",
        "RP ID hash (SHA-256)",
        passkeyd_core::error::hex(rp_id_hash),
    );
    if let Some(origin) = origin {
        o.add(
            "rp_id_from_origin",
            "RP ID (the origin's host or parent domain with this hash)",
            rp_id_matching(rp_id_hash, origin),
        );
    }
    o.add("flags", "Flags", flags_view(flags));
    o.add("sign_count", "Sign count", sign_count);
}

fn flags_view(flags: Flags) -> Obj {
    let mut o = Obj::new();
    o.add("value", "Value", format!("0x{:02x}", flags.0));
    o.add("UP", "UP (user present)", flags.user_present());
    o.add("UV", "UV (user verified)", flags.user_verified());
    o.add("BE", "BE (backup eligible)", flags.backup_eligible());
    o.add("BS", "BS (backup state)", flags.backup_state());
    o.add(
        "AT",
        "AT (attested credential data)",
        flags.attested_credential_data(),
    );
    o.add("ED", "ED (extension data)", flags.extension_data());
    let reserved = flags.0 & 0x22;
    if reserved != 0 {
        o.add("reserved", "Reserved bits set", format!("0x{reserved:02x}"));
    }
    o
}

/// The origin's host, or a parent domain of it, whose SHA-256 is `hash`.
fn rp_id_matching(hash: &[u8], origin: &str) -> Val {
    let host = origin
        .split_once("://")
        .map_or(origin, |(_, rest)| rest)
        .split(['/', ':'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let mut candidate = host.as_str();
    loop {
        if let Ok(rp_id) = RpId::parse(candidate) {
            if rp_id.hash().as_slice() == hash {
                return Val::Str(rp_id.to_string());
            }
        }
        match candidate.split_once('.') {
            Some((_, parent)) if !parent.is_empty() => candidate = parent,
            _ => return Val::Null,
        }
    }
}

fn attested_credential(a: &AttestedCredential<'_>) -> Obj {
    let mut o = Obj::new();
    o.add("aaguid", "AAGUID", format_aaguid(&a.aaguid));
    o.add(
        "credential_id",
        "Credential id",
        b64::encode(a.credential_id),
    );
    o.add(
        "credential_id_length",
        "Credential id length",
        a.credential_id.len(),
    );
    o.add(
        "public_key",
        "Credential public key",
        cose_key(&a.public_key, a.public_key_cose),
    );
    o
}

/// What can be read of attested credential data when authenticator data does not decode:
/// AAGUID, credential id, and the key as plain CBOR.
fn attested_prefix(rest: &[u8]) -> (Obj, Option<Vec<u8>>) {
    let mut o = Obj::new();
    let Some(aaguid) = rest.get(..16).and_then(|a| <[u8; 16]>::try_from(a).ok()) else {
        return (o, None);
    };
    o.add("aaguid", "AAGUID", format_aaguid(&aaguid));
    let Some(len) = rest
        .get(16..18)
        .map(|l| usize::from(u16::from_be_bytes([l[0], l[1]])))
    else {
        return (o, None);
    };
    let Some(id) = rest.get(18..18 + len) else {
        o.add("credential_id_length", "Credential id length", len);
        return (o, None);
    };
    o.add("credential_id", "Credential id", b64::encode(id));
    o.add("credential_id_length", "Credential id length", len);
    let mut key = rest.get(18 + len..).unwrap_or_default();
    if let Ok(value) = ciborium::de::from_reader::<ciborium::Value, _>(&mut key) {
        o.add(
            "public_key_cbor",
            "Credential public key (undecoded COSE map)",
            cbor_to_val(&value),
        );
    }
    (o, Some(id.to_vec()))
}

fn cose_key(key: &CredentialPublicKey, cose: &[u8]) -> Obj {
    let mut o = Obj::new();
    let (kty, kty_name) = match &key.material {
        KeyMaterial::Ec2 { .. } => (2, "EC2"),
        KeyMaterial::Ed25519 { .. } => (1, "OKP"),
        KeyMaterial::Rsa { .. } => (3, "RSA"),
        KeyMaterial::MlDsa { .. } => (7, "AKP"),
    };
    o.add("kty", "Key type (kty)", i64::from(kty));
    o.add("kty_name", "Key type name", kty_name);
    o.add("alg", "Algorithm (alg)", key.alg.cose_id());
    o.add("alg_name", "Algorithm name", key.alg.name());
    match &key.material {
        KeyMaterial::Ec2 { curve, point } => {
            let (crv, name) = match curve {
                Curve::P256 => (1, "P-256"),
                Curve::P384 => (2, "P-384"),
                Curve::P521 => (3, "P-521"),
            };
            o.add("crv", "Curve (crv)", i64::from(crv));
            o.add("curve", "Curve name", name);
            // The point is 0x04 || x || y, both coordinates the same length.
            let coords = point.get(1..).unwrap_or_default();
            let (x, y) = coords.split_at(coords.len() / 2);
            o.add("x", "x", b64::encode(x));
            o.add("y", "y", b64::encode(y));
        }
        KeyMaterial::Ed25519 { key } => {
            o.add("crv", "Curve (crv)", 6i64);
            o.add("curve", "Curve name", "Ed25519");
            o.add("x", "x (public key)", b64::encode(key));
        }
        KeyMaterial::Rsa { n, e } => {
            o.add("bits", "Modulus size (bits)", n.len() * 8);
            o.add("n", "n (modulus)", b64::encode(n));
            o.add("e", "e (exponent)", b64::encode(e));
        }
        KeyMaterial::MlDsa { key } => {
            o.add("pub", "pub (public key)", b64::encode(key));
        }
    }
    o.add("cose", "COSE_Key (base64url)", b64::encode(cose));
    o
}

/// Decodes the attestation object; returns its view and its authData bytes.
fn attestation(bytes: &[u8]) -> (Val, Option<Vec<u8>>) {
    let mut o = Obj::new();
    match AttestationObject::parse(bytes) {
        Ok(object) => {
            o.add("fmt", "Format", object.fmt.as_str());
            o.add("statement", "Statement", statement(&object.att_stmt));
            let certificates: Vec<Val> = object
                .certificates()
                .iter()
                .map(|der| Val::Obj(certificate(der)))
                .collect();
            o.add("certificates", "Certificates", certificates);
            (Val::Obj(o), Some(object.auth_data))
        }
        Err(e) => {
            // The object may still be a CBOR map with usable members.
            let mut auth_data = None;
            let mut reader = bytes;
            if let Ok(ciborium::Value::Map(entries)) =
                ciborium::de::from_reader::<ciborium::Value, _>(&mut reader)
            {
                for (k, v) in &entries {
                    match (k.as_text(), v) {
                        (Some("fmt"), ciborium::Value::Text(fmt)) => {
                            o.add("fmt", "Format", fmt.as_str());
                        }
                        (Some("authData"), ciborium::Value::Bytes(b)) => {
                            auth_data = Some(b.clone())
                        }
                        _ => {}
                    }
                }
            }
            error_into(&mut o, &e);
            (Val::Obj(o), auth_data)
        }
    }
}

fn statement(att_stmt: &[(ciborium::Value, ciborium::Value)]) -> Obj {
    let mut o = Obj::new();
    for (k, v) in att_stmt {
        let key = cbor_key(k);
        match (key.as_str(), v) {
            ("x5c", ciborium::Value::Array(certs)) => {
                o.add("x5c", "x5c (certificates, decoded below)", certs.len());
            }
            ("alg", _) => {
                let val = cbor_to_val(v);
                let id = match &val {
                    Val::Int(id) => Some(*id),
                    _ => None,
                };
                o.add("alg", "Algorithm (alg)", val);
                if let Some(id) = id {
                    o.add("alg_name", "Algorithm name", algorithm_name(id));
                }
            }
            _ => {
                o.add_raw(&key, cbor_to_val(v));
            }
        }
    }
    o
}

fn certificate(der: &[u8]) -> Obj {
    let mut o = Obj::new();
    match Certificate::parse(der) {
        Ok(cert) => {
            let s = cert.summary();
            o.add("subject", "Subject", s.subject);
            o.add("issuer", "Issuer", s.issuer);
            o.add("serial", "Serial (hex)", s.serial);
            o.add("not_before", "Valid from", rfc3339(s.not_before));
            o.add("not_after", "Valid until", rfc3339(s.not_after));
            o.add("is_ca", "CA", s.is_ca);
            o.add(
                "signature_algorithm",
                "Signature algorithm",
                signature_algorithm(&s.signature_algorithm),
            );
        }
        Err(e) => error_into(&mut o, &e),
    }
    o.add("der_length", "DER length (bytes)", der.len());
    o
}

fn signature_algorithm(oid: &str) -> String {
    let name = match oid {
        "1.2.840.10045.4.1" => "ecdsa-with-SHA1",
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256",
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384",
        "1.2.840.10045.4.3.4" => "ecdsa-with-SHA512",
        "1.2.840.113549.1.1.5" => "sha1WithRSAEncryption",
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption",
        "1.2.840.113549.1.1.12" => "sha384WithRSAEncryption",
        "1.2.840.113549.1.1.13" => "sha512WithRSAEncryption",
        "1.2.840.113549.1.1.10" => "RSASSA-PSS",
        "1.3.101.112" => "Ed25519",
        _ => return oid.to_owned(),
    };
    format!("{name} ({oid})")
}

fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("{unix} (unix seconds)"))
}

// ---------------------------------------------------------------------------------------------
// Options

const CREATION_MEMBERS: [&str; 11] = [
    "rp",
    "user",
    "challenge",
    "pubKeyCredParams",
    "timeout",
    "excludeCredentials",
    "authenticatorSelection",
    "hints",
    "attestation",
    "attestationFormats",
    "extensions",
];

const REQUEST_MEMBERS: [&str; 7] = [
    "challenge",
    "timeout",
    "rpId",
    "allowCredentials",
    "userVerification",
    "hints",
    "extensions",
];

fn creation_options(report: &mut Obj, o: &Map<String, Value>) {
    let mut rp = Obj::new();
    match o.get("rp") {
        Some(Value::Object(m)) => {
            rp.add("id", "RP ID", text_member(m, "id"));
            rp.add("name", "Name", text_member(m, "name"));
        }
        other => {
            rp.error(
                "wrong_type",
                format!("rp is {}, expected an object", json_type_opt(other)),
            );
        }
    }
    report.add("rp", "Relying party", rp);

    let mut user = Obj::new();
    match o.get("user") {
        Some(Value::Object(m)) => {
            add_id(&mut user, m, "User handle");
            user.add("name", "Name", text_member(m, "name"));
            user.add(
                "display_name",
                "Display name",
                text_member(m, "displayName"),
            );
        }
        other => {
            user.error(
                "wrong_type",
                format!("user is {}, expected an object", json_type_opt(other)),
            );
        }
    }
    report.add("user", "User", user);

    challenge(report, o);
    let algorithms = match o.get("pubKeyCredParams") {
        Some(Value::Array(params)) => Val::List(
            params
                .iter()
                .map(|p| {
                    let mut a = Obj::new();
                    match p {
                        Value::Object(m) => {
                            let alg = m.get("alg");
                            a.add("alg", "Algorithm", alg.map_or(Val::Null, json_to_val));
                            a.add(
                                "name",
                                "Name",
                                alg.and_then(Value::as_i64).map(algorithm_name),
                            );
                            a.add("type", "Type", text_member(m, "type"));
                        }
                        other => {
                            a.error(
                                "wrong_type",
                                format!("a parameter is {}, expected an object", json_type(other)),
                            );
                        }
                    }
                    Val::Obj(a)
                })
                .collect(),
        ),
        other => Val::error(
            "wrong_type",
            format!(
                "pubKeyCredParams is {}, expected an array",
                json_type_opt(other)
            ),
        ),
    };
    report.add("algorithms", "Algorithms (pubKeyCredParams)", algorithms);
    optional(report, o, "timeout", "timeout", "Timeout (ms)");
    report.add(
        "exclude_credentials",
        "Exclude credentials",
        descriptors(o.get("excludeCredentials")),
    );
    if let Some(selection) = o.get("authenticatorSelection") {
        let view = match selection {
            Value::Object(m) => {
                let mut s = Obj::new();
                for (key, member, label) in [
                    (
                        "authenticator_attachment",
                        "authenticatorAttachment",
                        "Authenticator attachment",
                    ),
                    ("resident_key", "residentKey", "Resident key"),
                    (
                        "require_resident_key",
                        "requireResidentKey",
                        "Require resident key",
                    ),
                    ("user_verification", "userVerification", "User verification"),
                ] {
                    if let Some(v) = m.get(member) {
                        s.add(key, label, json_to_val(v));
                    }
                }
                others(
                    &mut s,
                    m,
                    &[
                        "authenticatorAttachment",
                        "residentKey",
                        "requireResidentKey",
                        "userVerification",
                    ],
                );
                Val::Obj(s)
            }
            other => Val::error(
                "wrong_type",
                format!(
                    "authenticatorSelection is {}, expected an object",
                    json_type(other)
                ),
            ),
        };
        report.add("authenticator_selection", "Authenticator selection", view);
    }
    optional(report, o, "hints", "hints", "Hints");
    optional(report, o, "attestation", "attestation", "Attestation");
    optional(
        report,
        o,
        "attestationFormats",
        "attestation_formats",
        "Attestation formats",
    );
    optional(report, o, "extensions", "extensions", "Extensions");
    others(report, o, &CREATION_MEMBERS);
}

fn request_options(report: &mut Obj, o: &Map<String, Value>) {
    challenge(report, o);
    optional(report, o, "timeout", "timeout", "Timeout (ms)");
    optional(report, o, "rpId", "rp_id", "RP ID");
    report.add(
        "allow_credentials",
        "Allow credentials",
        descriptors(o.get("allowCredentials")),
    );
    optional(
        report,
        o,
        "userVerification",
        "user_verification",
        "User verification",
    );
    optional(report, o, "hints", "hints", "Hints");
    optional(report, o, "extensions", "extensions", "Extensions");
    others(report, o, &REQUEST_MEMBERS);
}

fn challenge(report: &mut Obj, o: &Map<String, Value>) {
    report.add("challenge", "Challenge", text_member(o, "challenge"));
    if let Some(Value::String(c)) = o.get("challenge") {
        report.add(
            "challenge_length",
            "Challenge length (bytes)",
            match b64::decode(c) {
                Ok(bytes) => Val::from(bytes.len()),
                Err(e) => Val::error("invalid_base64", format!("challenge: {e}")),
            },
        );
    }
}

/// `PublicKeyCredentialDescriptorJSON` lists (exclude/allow credentials).
fn descriptors(member: Option<&Value>) -> Val {
    let list = match member {
        None | Some(Value::Null) => return Val::List(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(other) => {
            return Val::error(
                "wrong_type",
                format!(
                    "expected an array of credential descriptors, got {}",
                    json_type(other)
                ),
            )
        }
    };
    Val::List(
        list.iter()
            .map(|d| {
                let mut v = Obj::new();
                let Value::Object(m) = d else {
                    v.error(
                        "wrong_type",
                        format!("a descriptor is {}, expected an object", json_type(d)),
                    );
                    return Val::Obj(v);
                };
                add_id(&mut v, m, "Credential id");
                v.add("type", "Type", text_member(m, "type"));
                if let Some(t) = m.get("transports") {
                    v.add("transports", "Transports", json_to_val(t));
                }
                Val::Obj(v)
            })
            .collect(),
    )
}

/// Adds a member as it is, when present.
fn optional(report: &mut Obj, o: &Map<String, Value>, member: &str, key: &str, label: &str) {
    if let Some(v) = o.get(member) {
        report.add(key, label, json_to_val(v));
    }
}

/// Members no WebAuthn dictionary defines: often a typo worth seeing.
fn others(report: &mut Obj, o: &Map<String, Value>, known: &[&str]) {
    let mut unknown = Obj::new();
    for (k, v) in o {
        if !known.contains(&k.as_str()) {
            unknown.add_raw(k, json_to_val(v));
        }
    }
    if !unknown.is_empty() {
        report.add("other_members", "Other members (not WebAuthn)", unknown);
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers

/// A member that cannot be decoded: (code, message).
struct Bad(&'static str, String);

fn decode_member(o: &Map<String, Value>, name: &str) -> Result<Vec<u8>, Bad> {
    decode_value(o.get(name), name)
}

fn decode_value(v: Option<&Value>, name: &str) -> Result<Vec<u8>, Bad> {
    match v {
        Some(Value::String(s)) => b64::decode(s)
            .map_err(|e| Bad("invalid_base64", format!("{name} is not base64url: {e}"))),
        None | Some(Value::Null) => Err(Bad("missing_member", format!("{name} is missing"))),
        Some(other) => Err(Bad(
            "wrong_type",
            format!(
                "{name} is {}, expected a base64url string",
                json_type(other)
            ),
        )),
    }
}

fn text_member(o: &Map<String, Value>, name: &str) -> Val {
    match o.get(name) {
        Some(Value::String(s)) => Val::Str(s.clone()),
        None | Some(Value::Null) => Val::Null,
        Some(other) => Val::error(
            "wrong_type",
            format!("{name} is {}, expected a string", json_type(other)),
        ),
    }
}

fn algorithm(v: &Value) -> Val {
    let mut o = Obj::new();
    o.add("alg", "Algorithm", json_to_val(v));
    if let Some(id) = v.as_i64() {
        o.add("name", "Name", algorithm_name(id));
    }
    Val::Obj(o)
}

/// The IANA name of a COSE algorithm passkeyd supports; an error value for the others.
fn algorithm_name(id: i64) -> Val {
    match Algorithm::from_cose_id(id) {
        Ok(alg) => Val::from(alg.name()),
        Err(e) => Val::error(e.code(), e.to_string()),
    }
}

fn error_into(o: &mut Obj, e: &Error) {
    o.error(e.code(), e.to_string());
}

fn bytes_view(bytes: &[u8]) -> Obj {
    let mut o = Obj::new();
    o.add("length", "Length (bytes)", bytes.len());
    o.add("base64url", "Base64url", b64::encode(bytes));
    o
}

fn cbor_bytes(bytes: &[u8]) -> Val {
    let mut reader = bytes;
    match ciborium::de::from_reader::<ciborium::Value, _>(&mut reader) {
        Ok(value) => cbor_to_val(&value),
        Err(e) => Val::error("malformed_cbor", format!("not CBOR: {e}")),
    }
}

fn cbor_key(k: &ciborium::Value) -> String {
    match k {
        ciborium::Value::Text(t) => t.clone(),
        ciborium::Value::Integer(i) => i128::from(*i).to_string(),
        other => format!("{other:?}"),
    }
}

/// A CBOR value for display: byte strings as their length and base64url.
fn cbor_to_val(v: &ciborium::Value) -> Val {
    match v {
        ciborium::Value::Integer(i) => {
            let i = i128::from(*i);
            i64::try_from(i).map_or_else(|_| Val::Str(i.to_string()), Val::Int)
        }
        ciborium::Value::Bytes(b) => Val::Obj(bytes_view(b)),
        ciborium::Value::Float(f) => Val::Str(f.to_string()),
        ciborium::Value::Text(t) => Val::Str(t.clone()),
        ciborium::Value::Bool(b) => Val::Bool(*b),
        ciborium::Value::Null => Val::Null,
        ciborium::Value::Tag(tag, inner) => {
            let mut o = Obj::new();
            o.add("tag", "CBOR tag", *tag);
            o.add("value", "Value", cbor_to_val(inner));
            Val::Obj(o)
        }
        ciborium::Value::Array(items) => Val::List(items.iter().map(cbor_to_val).collect()),
        ciborium::Value::Map(entries) => {
            let mut o = Obj::new();
            for (k, v) in entries {
                o.add_raw(&cbor_key(k), cbor_to_val(v));
            }
            Val::Obj(o)
        }
        other => Val::Str(format!("{other:?}")),
    }
}

fn json_to_val(v: &Value) -> Val {
    match v {
        Value::Null => Val::Null,
        Value::Bool(b) => Val::Bool(*b),
        Value::Number(n) => n.as_i64().map_or_else(|| Val::Str(n.to_string()), Val::Int),
        Value::String(s) => Val::Str(s.clone()),
        Value::Array(items) => Val::List(items.iter().map(json_to_val).collect()),
        Value::Object(m) => {
            let mut o = Obj::new();
            for (k, v) in m {
                o.add_raw(k, json_to_val(v));
            }
            Val::Obj(o)
        }
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Adds the base64url `id` member of `m` and its length, or the decoding error in its place.
fn add_id(obj: &mut Obj, m: &serde_json::Map<String, Value>, label: &str) {
    match decode_member(m, "id") {
        Ok(id) => {
            obj.add("id", &format!("{label} (id)"), b64::encode(&id));
            obj.add("id_length", &format!("{label} length"), id.len());
        }
        Err(e) => {
            obj.add("id", &format!("{label} (id)"), Val::error(e.0, e.1));
        }
    }
}

fn json_type_opt(v: Option<&Value>) -> &'static str {
    v.map_or("missing", json_type)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn refuses_what_is_not_webauthn() {
        assert_eq!(inspect(b"not json").unwrap_err().code, "malformed_input");
        assert_eq!(inspect(b"[1]").unwrap_err().code, "unrecognized_input");
        assert_eq!(
            inspect(b"{\"a\":1}").unwrap_err().code,
            "unrecognized_input"
        );
    }

    #[test]
    fn request_options_with_bad_members_still_decode() {
        let (kind, report) = inspect(
            br#"{"publicKey": {"challenge": "AAAA", "allowCredentials": [{"id": "!!", "type": "public-key"}, 3], "userVerifcation": "required"}}"#,
        )
        .unwrap();
        assert_eq!(kind, Kind::RequestOptions);
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["challenge_length"], 3);
        assert_eq!(json["allow_credentials"][0]["id"]["code"], "invalid_base64");
        assert_eq!(json["allow_credentials"][1]["error"]["code"], "wrong_type");
        assert_eq!(json["other_members"]["userVerifcation"], "required");
    }

    #[test]
    fn short_authenticator_data_is_an_error_in_place() {
        let (view, id) = authenticator_data(&[0; 10], None);
        assert!(id.is_none());
        let json = serde_json::to_value(&view).unwrap();
        assert_eq!(json["error"]["code"], "malformed_authenticator_data");
    }

    #[test]
    fn truncated_attested_data_keeps_the_fixed_part() {
        let mut raw = vec![7u8; 32];
        raw.push(0x41);
        raw.extend_from_slice(&9u32.to_be_bytes());
        raw.extend_from_slice(&[0xab; 16]);
        raw.extend_from_slice(&[0, 4, 1, 2, 3, 4, 0xff]);
        let (view, id) = authenticator_data(&raw, Some("https://example.com"));
        assert_eq!(id, Some(vec![1, 2, 3, 4]));
        let json = serde_json::to_value(&view).unwrap();
        assert_eq!(json["sign_count"], 9);
        assert_eq!(json["flags"]["AT"], true);
        assert_eq!(json["rp_id_from_origin"], Value::Null);
        assert_eq!(
            json["attested_credential"]["aaguid"],
            "abababab-abab-abab-abab-abababababab"
        );
        assert!(json["error"]["code"].is_string());
    }

    #[test]
    fn finds_the_rp_id_among_parent_domains() {
        let hash = RpId::parse("example.com").unwrap().hash();
        assert_eq!(
            rp_id_matching(&hash, "https://login.example.com:8443"),
            Val::Str("example.com".into())
        );
        assert_eq!(rp_id_matching(&hash, "https://example.org"), Val::Null);
        assert_eq!(rp_id_matching(&hash, ""), Val::Null);
    }
}

//! Relying party identity: RP IDs, origins, and which origins may run a ceremony for an RP ID.

use crate::error::{Error, Result};
use aws_lc_rs::digest;

/// A valid RP ID: a lower-case domain that is not a public suffix.
///
/// Built only by [`RpId::parse`], so holding one means it passed every rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RpId(String);

impl RpId {
    /// Parses an RP ID: a domain of letters, digits and hyphens (IDNs in their `xn--` form),
    /// which is not an IP address and not a public suffix such as `com` or `github.io`.
    pub fn parse(value: &str) -> Result<Self> {
        let invalid = |reason| Error::InvalidRpId {
            value: value.to_owned(),
            reason,
        };
        let domain = value.to_ascii_lowercase();
        if !is_domain(&domain) {
            return Err(invalid(
                "not a domain name (letters, digits, hyphens and dots; no scheme, port or path)",
            ));
        }
        if domain
            .split('.')
            .all(|label| label.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(invalid("an IP address cannot be an RP ID"));
        }
        if let Some(suffix) = psl::suffix(domain.as_bytes()) {
            if suffix.is_known() && suffix.as_bytes() == domain.as_bytes() {
                return Err(invalid("a public suffix cannot be an RP ID"));
            }
        }
        Ok(RpId(domain))
    }

    /// The RP ID as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// SHA-256 of the RP ID, as authenticator data carries it.
    pub fn hash(&self) -> [u8; 32] {
        sha256(self.0.as_bytes())
    }

    /// Whether `host` is this RP ID or one of its subdomains.
    pub fn covers_host(&self, host: &str) -> bool {
        host == self.0
            || (host.len() > self.0.len()
                && host.ends_with(&self.0)
                && host.as_bytes()[host.len() - self.0.len() - 1] == b'.')
    }
}

impl std::fmt::Display for RpId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An origin a ceremony may come from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Origin {
    /// A web origin: `https://host[:port]`, or `http://` for `localhost` and `*.localhost`.
    Web {
        /// The origin as browsers serialise it (`scheme://host[:port]`).
        serialized: String,
        /// The host, lower-case.
        host: String,
    },
    /// An Android app, identified by the hash of its signing certificate.
    Android {
        /// `android:apk-key-hash:<base64url SHA-256 of the signing certificate>`.
        serialized: String,
    },
}

impl Origin {
    /// Parses an origin. A trailing `/` is dropped; paths, queries, credentials and plain
    /// `http` on anything but localhost are refused.
    pub fn parse(value: &str) -> Result<Self> {
        let invalid = |reason| Error::InvalidOrigin {
            value: value.to_owned(),
            reason,
        };
        if let Some(hash) = value.strip_prefix("android:apk-key-hash:") {
            if hash.is_empty() || crate::b64::decode(hash).is_err() {
                return Err(invalid("the APK key hash must be base64url"));
            }
            return Ok(Origin::Android {
                serialized: value.to_owned(),
            });
        }
        let (scheme, rest) = value
            .split_once("://")
            .ok_or_else(|| invalid("must start with https://"))?;
        let scheme = scheme.to_ascii_lowercase();
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#', '@']) {
            return Err(invalid(
                "an origin has no path, query, fragment or credentials",
            ));
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) => {
                let port: u16 = port
                    .parse()
                    .map_err(|_| invalid("the port must be a number from 1 to 65535"))?;
                if port == 0 {
                    return Err(invalid("the port must be a number from 1 to 65535"));
                }
                (host.to_ascii_lowercase(), Some(port))
            }
            None => (rest.to_ascii_lowercase(), None),
        };
        if !is_domain(&host) {
            return Err(invalid("the host must be a domain name"));
        }
        let localhost = host == "localhost" || host.ends_with(".localhost");
        match scheme.as_str() {
            "https" => {}
            "http" if localhost => {}
            "http" => return Err(invalid("http is allowed only for localhost; use https")),
            _ => return Err(invalid("the scheme must be https")),
        }
        let default_port = if scheme == "https" { 443 } else { 80 };
        let serialized = match port {
            Some(p) if p != default_port => format!("{scheme}://{host}:{p}"),
            _ => format!("{scheme}://{host}"),
        };
        Ok(Origin::Web { serialized, host })
    }

    /// The origin as it appears in `clientDataJSON`.
    pub fn as_str(&self) -> &str {
        match self {
            Origin::Web { serialized, .. } | Origin::Android { serialized } => serialized,
        }
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a ceremony may run inside a cross-origin iframe.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CrossOrigin {
    /// `crossOrigin: true` is refused (the default).
    #[default]
    Deny,
    /// Allowed when `topOrigin` is one of these.
    AllowTopOrigins(Vec<Origin>),
}

/// The relying party a ceremony is verified for: one RP ID and the origins allowed to use it.
#[derive(Debug, Clone)]
pub struct RelyingParty {
    rp_id: RpId,
    rp_id_hash: [u8; 32],
    origins: Vec<Origin>,
    allow_subdomains: bool,
    cross_origin: CrossOrigin,
}

impl RelyingParty {
    /// A relying party with its RP ID and allowed origins (at least one).
    ///
    /// The verifier compares each response to exactly these values; it does not require the
    /// origins to sit under the RP ID, because native-app origins and related origins do not.
    /// Configuration should call [`RelyingParty::check_origins_cover`] to catch typos.
    pub fn new(rp_id: RpId, origins: Vec<Origin>) -> Result<Self> {
        if origins.is_empty() {
            return Err(Error::InvalidOption {
                name: "origins",
                reason: "at least one origin is required".into(),
            });
        }
        Ok(RelyingParty {
            rp_id_hash: rp_id.hash(),
            rp_id,
            origins,
            allow_subdomains: false,
            cross_origin: CrossOrigin::Deny,
        })
    }

    /// Also accepts any `https` origin whose host is a subdomain of the RP ID.
    pub fn allow_subdomains(mut self, allow: bool) -> Self {
        self.allow_subdomains = allow;
        self
    }

    /// Sets the cross-origin iframe policy.
    pub fn cross_origin(mut self, policy: CrossOrigin) -> Self {
        self.cross_origin = policy;
        self
    }

    /// The RP ID.
    pub fn rp_id(&self) -> &RpId {
        &self.rp_id
    }

    /// SHA-256 of the RP ID.
    pub fn rp_id_hash(&self) -> &[u8; 32] {
        &self.rp_id_hash
    }

    /// The allowed origins.
    pub fn origins(&self) -> &[Origin] {
        &self.origins
    }

    /// Refuses a configuration where a web origin's host is not the RP ID or a subdomain of it:
    /// browsers would refuse every ceremony from such an origin.
    pub fn check_origins_cover(&self) -> Result<()> {
        for origin in &self.origins {
            if let Origin::Web { host, .. } = origin {
                if !self.rp_id.covers_host(host) {
                    return Err(Error::InvalidOrigin {
                        value: origin.to_string(),
                        reason: "its host is neither the RP ID nor a subdomain of it",
                    });
                }
            }
        }
        Ok(())
    }

    /// Checks the origin, `crossOrigin` and `topOrigin` members of client data.
    pub(crate) fn check_origin(
        &self,
        origin: &str,
        cross_origin: bool,
        top_origin: Option<&str>,
    ) -> Result<()> {
        if !self.origin_allowed(origin) {
            return Err(Error::OriginMismatch {
                expected: self.origin_list(),
                seen: origin.to_owned(),
            });
        }
        if cross_origin {
            let top = top_origin.unwrap_or("(none given)");
            match &self.cross_origin {
                CrossOrigin::AllowTopOrigins(tops) if tops.iter().any(|t| t.as_str() == top) => {}
                _ => {
                    return Err(Error::CrossOriginNotAllowed {
                        top_origin: top.to_owned(),
                    })
                }
            }
        }
        Ok(())
    }

    fn origin_allowed(&self, origin: &str) -> bool {
        if self.origins.iter().any(|o| o.as_str() == origin) {
            return true;
        }
        if !self.allow_subdomains {
            return false;
        }
        match Origin::parse(origin) {
            Ok(Origin::Web { serialized, host }) => {
                serialized == origin
                    && serialized.starts_with("https://")
                    && self.rp_id.covers_host(&host)
            }
            _ => false,
        }
    }

    fn origin_list(&self) -> String {
        let mut list = self
            .origins
            .iter()
            .map(Origin::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        if self.allow_subdomains {
            list.push_str(&format!(" and https subdomains of {}", self.rp_id));
        }
        list
    }
}

pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, data).as_ref());
    out
}

fn is_domain(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 253
        && value.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rp_ids() {
        for ok in [
            "localhost",
            "example.com",
            "login.example.co.uk",
            "Example.COM",
            "xn--bcher-kva.example",
        ] {
            assert!(RpId::parse(ok).is_ok(), "{ok}");
        }
        assert_eq!(RpId::parse("Example.COM").unwrap().as_str(), "example.com");
        for bad in [
            "",
            "com",
            "co.uk",
            "github.io",
            "127.0.0.1",
            "https://example.com",
            "example.com:443",
            "ex ample.com",
            "-a.com",
            "a..com",
        ] {
            let err = RpId::parse(bad).unwrap_err();
            assert_eq!(err.code(), "invalid_rp_id", "{bad}");
        }
    }

    #[test]
    fn origins() {
        assert_eq!(
            Origin::parse("https://example.com/").unwrap().as_str(),
            "https://example.com"
        );
        assert_eq!(
            Origin::parse("https://example.com:443").unwrap().as_str(),
            "https://example.com"
        );
        assert_eq!(
            Origin::parse("http://localhost:8080").unwrap().as_str(),
            "http://localhost:8080"
        );
        assert_eq!(
            Origin::parse("http://app.localhost").unwrap().as_str(),
            "http://app.localhost"
        );
        assert!(
            Origin::parse("android:apk-key-hash:gx7sq_pxhxhrIQdLyfG0pxKwiJ7hOk2DJQ4xvKd438Q")
                .is_ok()
        );
        for bad in [
            "http://example.com",
            "ftp://example.com",
            "https://example.com/path",
            "example.com",
            "https://a.com:0",
            "https://a.com:99999",
            "android:apk-key-hash:",
            "https://user@a.com",
        ] {
            assert_eq!(
                Origin::parse(bad).unwrap_err().code(),
                "invalid_origin",
                "{bad}"
            );
        }
    }

    fn rp(subdomains: bool) -> RelyingParty {
        RelyingParty::new(
            RpId::parse("example.com").unwrap(),
            vec![Origin::parse("https://example.com").unwrap()],
        )
        .unwrap()
        .allow_subdomains(subdomains)
    }

    #[test]
    fn origin_checks() {
        assert!(rp(false)
            .check_origin("https://example.com", false, None)
            .is_ok());
        let err = rp(false)
            .check_origin("https://login.example.com", false, None)
            .unwrap_err();
        assert_eq!(err.code(), "origin_mismatch");
        assert!(rp(true)
            .check_origin("https://login.example.com", false, None)
            .is_ok());
        assert!(rp(true)
            .check_origin("https://evil-example.com", false, None)
            .is_err());
        assert!(rp(true)
            .check_origin("http://login.example.com", false, None)
            .is_err());
        let err = rp(false)
            .check_origin("https://example.com", true, Some("https://other.com"))
            .unwrap_err();
        assert_eq!(err.code(), "cross_origin_not_allowed");
        let allowing = rp(false).cross_origin(CrossOrigin::AllowTopOrigins(vec![Origin::parse(
            "https://other.com",
        )
        .unwrap()]));
        assert!(allowing
            .check_origin("https://example.com", true, Some("https://other.com"))
            .is_ok());
        assert!(allowing
            .check_origin("https://example.com", true, Some("https://third.com"))
            .is_err());
    }

    #[test]
    fn coverage_check() {
        let rp = RelyingParty::new(
            RpId::parse("example.com").unwrap(),
            vec![
                Origin::parse("https://login.example.com").unwrap(),
                Origin::parse("android:apk-key-hash:abc").unwrap(),
            ],
        )
        .unwrap();
        assert!(rp.check_origins_cover().is_ok());
        let bad = RelyingParty::new(
            RpId::parse("example.com").unwrap(),
            vec![Origin::parse("https://example.org").unwrap()],
        )
        .unwrap();
        assert_eq!(
            bad.check_origins_cover().unwrap_err().code(),
            "invalid_origin"
        );
    }
}

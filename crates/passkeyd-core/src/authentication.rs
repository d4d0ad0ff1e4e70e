//! Authentication ceremony verification (WebAuthn Level 3 §7.2).

use crate::auth_data::AuthenticatorData;
use crate::b64;
use crate::client_data::{CeremonyType, ClientData};
use crate::cose::CredentialPublicKey;
use crate::error::{Error, Result};
use crate::options::AuthenticationState;
use crate::registration::check_flags;
use crate::rp::{sha256, RelyingParty};
use crate::wire::AuthenticationResponse;
use serde::Serialize;

/// What the relying party knows about the credential that answered.
#[derive(Debug, Clone, Copy)]
pub struct StoredCredential<'a> {
    /// The credential id.
    pub credential_id: &'a [u8],
    /// The credential's public key.
    pub public_key: &'a CredentialPublicKey,
    /// The last sign counter seen.
    pub sign_count: u32,
    /// The handle of the user the credential belongs to.
    pub user_handle: &'a [u8],
    /// BE as stored at registration.
    pub backup_eligible: bool,
    /// BS as last seen.
    pub backup_state: bool,
}

/// What to do when the sign counter does not increase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CounterPolicy {
    /// Refuse the sign-in with `counter_rollback` (the default).
    #[default]
    Reject,
    /// Let it through but say so in [`VerifiedAuthentication::counter_rollback`].
    Warn,
}

/// What a caller needs to write back after a successful sign-in: the new sign count,
/// the backup state, and whether the user was verified.
#[derive(Debug, Clone, Serialize)]
pub struct VerifiedAuthentication {
    /// The counter to store.
    pub sign_count: u32,
    /// Whether the user was verified.
    pub user_verified: bool,
    /// BE now.
    pub backup_eligible: bool,
    /// BS now (store it).
    pub backup_state: bool,
    /// BE differs from the stored value: BE is meant to be permanent, so this is worth an alert.
    pub backup_eligible_changed: bool,
    /// BS differs from the stored value (a credential got synced or stopped being synced).
    pub backup_state_changed: bool,
    /// The counter did not increase and the policy said to warn.
    pub counter_rollback: bool,
}

/// Verifies an authentication response against the state kept from
/// [`crate::authentication_options`] and the credential it names.
pub fn verify_authentication(
    rp: &RelyingParty,
    state: &AuthenticationState,
    counter_policy: CounterPolicy,
    response: &AuthenticationResponse,
    stored: &StoredCredential<'_>,
) -> Result<VerifiedAuthentication> {
    let raw_id = response.credential_id();
    if !state.allow_credentials.is_empty() && !state.allow_credentials.iter().any(|c| c.0 == raw_id)
    {
        return Err(Error::CredentialNotAllowed(b64::encode(raw_id)));
    }
    if raw_id != stored.credential_id || b64::decode(&response.id).ok().as_deref() != Some(raw_id) {
        return Err(Error::CredentialIdMismatch {
            expected: b64::encode(stored.credential_id),
            seen: response.id.clone(),
        });
    }
    match (&state.user_handle, response.user_handle()) {
        (Some(expected), handle) => {
            if expected.as_bytes() != stored.user_handle {
                return Err(Error::UserHandleMismatch(
                    "the credential belongs to another user".into(),
                ));
            }
            if handle.is_some_and(|h| h != stored.user_handle) {
                return Err(Error::UserHandleMismatch(
                    "the response's user handle is not the user's".into(),
                ));
            }
        }
        (None, Some(handle)) => {
            if handle != stored.user_handle {
                return Err(Error::UserHandleMismatch(
                    "the response's user handle is not the credential owner's".into(),
                ));
            }
        }
        (None, None) => {
            return Err(Error::UserHandleMismatch(
                "a discoverable sign-in response must carry the user handle".into(),
            ));
        }
    }

    let client_data_json = &response.response.client_data_json.0;
    let client_data = ClientData::parse(client_data_json)?;
    client_data.check(CeremonyType::Get, state.challenge.as_bytes(), rp)?;

    let auth_data_bytes = &response.response.authenticator_data.0;
    let auth_data = AuthenticatorData::parse(auth_data_bytes)?;
    check_flags(rp, &auth_data, state.user_verification, true)?;

    let mut signed = Vec::with_capacity(auth_data_bytes.len() + 32);
    signed.extend_from_slice(auth_data_bytes);
    signed.extend_from_slice(&sha256(client_data_json));
    stored
        .public_key
        .verify(&signed, &response.response.signature.0)?;

    let seen = auth_data.sign_count;
    let rollback = (seen != 0 || stored.sign_count != 0) && seen <= stored.sign_count;
    if rollback && counter_policy == CounterPolicy::Reject {
        return Err(Error::CounterRollback {
            stored: stored.sign_count,
            seen,
        });
    }
    let flags = auth_data.flags;
    Ok(VerifiedAuthentication {
        sign_count: if rollback { stored.sign_count } else { seen },
        user_verified: flags.user_verified(),
        backup_eligible: flags.backup_eligible(),
        backup_state: flags.backup_state(),
        backup_eligible_changed: flags.backup_eligible() != stored.backup_eligible,
        backup_state_changed: flags.backup_state() != stored.backup_state,
        counter_rollback: rollback,
    })
}

//! The built-in table that turns an authenticator's AAGUID into a model name for labelling passkeys.

/// The all-zero AAGUID that authenticators send when they do not identify their model.
pub const ZERO_AAGUID: &str = "00000000-0000-0000-0000-000000000000";

/// Model names keyed by AAGUID, sorted by key so that a lookup is a binary search.
///
/// The facts come from public metadata: the community passkey-authenticator-aaguids list
/// for passkey providers, and the FIDO Metadata Service descriptions for security keys,
/// cross-checked against the vendors' own published AAGUID lists (Yubico, Nitrokey).
/// Names are shortened or given a vendor prefix only where that stays exact. Several models
/// often share one AAGUID (every NFC model in Yubico's 5 Series sends the same value whatever
/// its connector), so a name describes the whole family the AAGUID covers rather than
/// guessing a single product. An entry is here only when it was confirmed in more than one
/// public listing or in the vendor's own documentation, because a wrong name shown to a
/// user is worse than the generic fallback. Operators can add or override names through the
/// server's configuration; this table is only the default that ships with passkeyd.
// One entry per line keeps the table easy to scan and to diff when entries are added.
#[rustfmt::skip]
static BUILTIN: &[(&str, &str)] = &[
    ("08987058-cadc-4b81-b6e1-30de50dcbe96", "Windows Hello"),
    ("0bb43545-fd2c-4185-87dd-feb0b2916ace", "Security Key NFC by Yubico - Enterprise Edition"),
    ("0ea242b4-43c4-4a1b-8b17-dd6d0b6baec6", "Keeper"),
    ("12ded745-4bed-47d4-abaa-e713f51d6393", "Feitian AllinOne FIDO2 Authenticator"),
    ("149a2021-8ef6-4133-96b8-81f8d5b7f1f5", "Security Key NFC by Yubico"),
    ("19083c3d-8383-4b18-bc03-8f1c9ab2fd1b", "YubiKey 5 Series"),
    ("1ac71f64-468d-4fe0-bef1-0e5f2f551f18", "YubiKey 5 Series with NFC (Enterprise Profile)"),
    ("20ac7a17-c814-4833-93fe-539f0d5e3389", "YubiKey 5 Series (Enterprise Profile)"),
    ("2194b428-9397-4046-8f39-007a1605a482", "Thales IDPrime 931 FIDO"),
    ("22248c4c-7a12-46e2-9a41-44291b373a4d", "LogMeOnce"),
    ("234cd403-35a2-4cc2-8015-77ea280c77f5", "Feitian ePass FIDO2-NFC Series"),
    ("23786452-f02d-4344-87ed-aaf703726881", "Thales SafeNet eToken Fusion CC"),
    ("24673149-6c86-42e7-98d9-433fb5b73296", "YubiKey 5Ci"),
    ("260e3021-482d-442d-838c-7edfbe153b7e", "Feitian ePass FIDO2-NFC Plus Authenticator"),
    ("2c0df832-92de-4be1-8412-88a8f074df4a", "Feitian FIDO Smart Card"),
    ("2cd2f727-f6ca-44da-8f48-5c2e5da000a2", "Nitrokey 3 AM"),
    ("2fc0579f-8113-47ea-b116-bb5a8db9202a", "YubiKey 5 Series with NFC"),
    ("2ffd6452-01da-471f-821b-ea4bf6c8676a", "Thales IDPrime 941 FIDO"),
    ("34744913-4f57-4e6e-a527-e9ec3c4b94e6", "YubiKey Bio Series - Multi-protocol Edition"),
    ("39a5647e-1853-446c-a1f6-a79bae9f5bc7", "IDmelon"),
    ("3a662962-c6d4-4023-bebb-98ae92e78e20", "YubiKey 5Ci FIPS (Enterprise Profile)"),
    ("3b24bf49-1d45-4484-a917-13175df0867b", "YubiKey 5Ci (Enterprise Profile)"),
    ("3e22415d-7fdf-4ea4-8a0c-dd60c4249b9d", "Feitian iePass FIDO Authenticator"),
    ("42b4fb4a-2866-43b2-9bf7-6c6669c2e5d3", "Google Titan Security Key v2"),
    ("4599062e-6926-4fe7-9566-9e8fb1aedaa0", "YubiKey 5 Series (Enterprise Profile)"),
    ("47ab2fb4-66ac-4184-9ae1-86be814012d5", "Security Key NFC by Yubico - Enterprise Edition"),
    ("4c0cf95d-2f40-43b5-ba42-4c83a11c04ba", "Feitian BioPass FIDO2 Pro Authenticator"),
    ("4d41190c-7beb-4a84-8018-adf265a6352d", "Thales IDPrime FIDO Bio"),
    ("50726f74-6f6e-5061-7373-50726f746f6e", "Proton Pass"),
    ("531126d6-e717-415c-9320-3d9aa6981239", "Dashlane"),
    ("53414d53-554e-4700-0000-000000000000", "Samsung Pass"),
    ("57f7de54-c807-4eab-b1c6-1c9be7984e92", "YubiKey 5 FIPS Series"),
    ("6028b017-b1d4-4c02-b4b3-afcdafc96bb2", "Windows Hello"),
    ("662ef48a-95e2-4aaa-a6c1-5b9c40375824", "YubiKey 5 Series with NFC - Enhanced PIN"),
    // 6ab56fad-881f-4a43-acb2-0be065924522 is left out on purpose: Yubico lists it for both the
    // YubiKey 5 NFC and the Security Key NFC Enterprise Edition, so no single name is right.
    ("6bb49926-160a-4306-a100-4eb39ba6ac45", "AVG Password Manager"),
    ("6d44ba9b-f6ec-2e49-b930-0c8fe920cb73", "Security Key NFC by Yubico"),
    ("6ec5cff2-a0f9-4169-945b-f33b563f7b99", "YubiKey Bio Series - Multi-protocol Edition (Enterprise Profile)"),
    ("72c6b72d-8512-4c66-8359-9d3d10d9222f", "Security Key NFC by Yubico - Enterprise Edition (Enterprise Profile)"),
    ("73bb0cd4-e502-49b8-9c6f-b59445bf720b", "YubiKey 5 FIPS Series"),
    ("7409272d-1ff9-4e10-9fc9-ac0019c124fd", "YubiKey Bio Series - FIDO Edition"),
    ("74820b05-a6c9-40f9-8fb0-9f86aca93998", "Thales SafeNet eToken Fusion"),
    ("77010bd7-212a-4fc9-b236-d2ca5e9d4084", "Feitian BioPass FIDO2 Authenticator"),
    ("771b48fd-d3d4-4f74-9232-fc157ab0507a", "Edge on Mac"),
    ("79f3c8ba-9e35-484b-8f47-53a5a0f5c630", "YubiKey 5 FIPS Series with NFC (Enterprise Profile)"),
    ("7b96457d-e3cd-432b-9ceb-c9fdd7ef7432", "YubiKey 5Ci FIPS"),
    ("7d1351a6-e097-4852-b8bf-c9ac5c9ce4a3", "YubiKey Bio Series - Multi-protocol Edition"),
    ("833b721a-ff5f-4d00-bb2e-bdda3ec01e29", "Feitian ePass FIDO2 Authenticator"),
    ("83c47309-aabb-4108-8470-8be838b573cb", "YubiKey Bio Series - FIDO Edition (Enterprise Profile)"),
    ("85203421-48f9-4355-9bc8-8a53846e5083", "YubiKey 5Ci FIPS"),
    ("8876631b-d4a0-427f-5773-0ec71c9e0279", "SoloKeys Solo"),
    ("8976631b-d4a0-427f-5773-0ec71c9e0279", "SoloKeys Solo Tap"),
    ("8c39ee86-7f9a-4a95-9ba3-f6b097e5c2ee", "YubiKey Bio Series - FIDO Edition (Enterprise Profile)"),
    ("8c97a730-3f7b-41a6-87d6-1e9b62bda6f0", "Feitian FT-JCOS FIDO Fingerprint Card"),
    ("905b4cb4-ed6f-4da9-92fc-45e0d4e9b5c7", "YubiKey 5 FIPS Series (Enterprise Profile)"),
    ("90636e1f-ef82-43bf-bdcf-5255f139d12f", "YubiKey Bio Series - Multi-protocol Edition"),
    ("97e6a830-c952-4740-95fc-7c78dc97ce47", "YubiKey Bio Series - Multi-protocol Edition (Enterprise Profile)"),
    ("9a03e537-4cbe-4a01-b2e2-242e0dd9a59b", "Nitrokey Passkey"),
    ("9ddd1817-af5a-4672-a2b9-3e3dd95000a9", "Windows Hello"),
    ("9ff4cc65-6154-4fff-ba09-9e2af7882ad2", "Security Key NFC by Yubico - Enterprise Edition (Enterprise Profile)"),
    ("a02167b9-ae71-4ac7-9a07-06432ebb6f1c", "YubiKey 5Ci"),
    ("a10c6dd9-465e-4226-8198-c7c44b91c555", "Kaspersky Password Manager"),
    ("a25342c0-3cdc-4414-8e46-f4807fca511c", "YubiKey 5 Series with NFC"),
    ("a4a2d88e-9796-4356-9164-e2a5a8bd019c", "Avast Password Manager"),
    ("a4e9fc6d-4cbe-4758-b8ba-37598bb5bbaa", "Security Key NFC by Yubico"),
    ("ab32f0c6-2239-afbb-c470-d2ef4e254db7", "TOKEN2 FIDO2 Security Key"),
    ("ad08c78a-4e41-49b9-86a2-ac15b06899e2", "YubiKey Bio Series - FIDO Edition (Enterprise Profile)"),
    ("adce0002-35bc-c60a-648b-0b25f1f05503", "Chrome on Mac"),
    ("b35a26b2-8f6e-4697-ab1d-d44db4da28c6", "Zoho Vault"),
    ("b50d5e0a-7f81-4959-9b12-f45407407503", "Thales IDPrime 3940 FIDO"),
    ("b5397666-4885-aa6b-cebf-e52262a439a2", "Chromium Browser"),
    ("b6ede29c-3772-412c-8a78-539c1f4c62d2", "Feitian BioPass FIDO2 Plus Authenticator"),
    ("b78a0a55-6ef8-d246-a042-ba0f6d55050c", "LastPass"),
    ("b7d3f68e-88a6-471e-9ecf-2df26d041ede", "Security Key NFC by Yubico"),
    ("b84e4048-15dc-4dd0-8640-f4f60813c8af", "NordPass"),
    ("b90e7dc1-316e-4fee-a25a-56a666a670fe", "YubiKey 5Ci (Enterprise Profile)"),
    ("b92c3f9a-c014-4056-887f-140a2501163b", "Security Key by Yubico"),
    ("bada5566-a7aa-401f-bd96-45619a55120d", "1Password"),
    // Yubico also ships this AAGUID on the YubiKey 5 NFC CSPN; the name registered in the
    // metadata is kept because it is right for most keys that send it.
    ("c1f9a0bc-1dd2-404a-b27f-8e29047a43fd", "YubiKey 5 FIPS Series with NFC"),
    ("c5ef55ff-ad9a-4b9f-b580-adebafe026d0", "YubiKey 5Ci"),
    ("ca4cff1b-5a81-4404-8194-59aabcf1660b", "Thales IDPrime 3930 FIDO"),
    ("cb69481e-8ff7-4039-93ec-0a2729a154a8", "YubiKey 5 Series"),
    ("d3452668-01fd-4c12-926c-83a4204853aa", "Microsoft Password Manager"),
    ("d548826e-79b4-db40-a3d8-11116f7e8349", "Bitwarden"),
    ("d7781e5d-e353-46aa-afe2-3ca49f13332a", "YubiKey 5 Series with NFC"),
    ("d8522d9f-575b-4866-88a9-ba99fa02f35b", "YubiKey Bio Series - FIDO Edition"),
    ("d9be9d39-e6a6-4c28-a581-32b044d986e4", "Sticky Password Manager"),
    ("dd4ec289-e01d-41c9-bb89-70fa845d4bf2", "iCloud Keychain (Managed)"),
    ("dd86a2da-86a0-4cbe-b462-4bd31f57bc6f", "YubiKey Bio Series - FIDO Edition"),
    ("de503f9c-21a4-4f76-b4b7-558eb55c6f89", "Devolutions"),
    ("e77e3c64-05e3-428b-8824-0cbeb04b829d", "Security Key NFC by Yubico"),
    ("e7db2bd3-f2fe-4d71-ad78-7e7aa166cfd1", "Avira Password Manager"),
    ("ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4", "Google Password Manager"),
    ("eabb46cc-e241-80bf-ae9e-96fa6d2975cf", "TOKEN2 PIN Plus Security Key Series"),
    ("eaecdef2-1c31-5634-8639-f1cbd9c00a08", "KeePassDX"),
    ("ec99db19-cd1f-4c06-a2a9-940f17a6a30b", "Nitrokey 3 NFC"),
    ("ed042a3a-4b22-4455-bb69-a267b652ae7e", "Security Key NFC by Yubico - Enterprise Edition"),
    ("ee041bce-25e5-4cdb-8f86-897fd6418464", "Feitian ePass FIDO2-NFC Authenticator"),
    ("ee882879-721c-4913-9775-3dfcce97072a", "YubiKey 5 Series"),
    ("efb96b10-a9ee-4b6c-a4a9-d32125ccd4a4", "Thales SafeNet eToken FIDO"),
    ("f3809540-7f14-49c1-a8b3-8f813b225541", "Enpass"),
    ("f8a011f3-8c0a-4d15-8006-17111f9edc7d", "Security Key by Yubico"),
    ("fa2b99dc-9e39-4257-8f92-4a30d23c4118", "YubiKey 5 Series with NFC"),
    ("fa37f553-f9b6-4adb-ac53-8bbb57ebdf0d", "Norton Password Manager"),
    // Apple now brands this store as Apple Passwords, but the name users recognise on their
    // passkeys is still iCloud Keychain.
    ("fbfc3007-154e-4ecc-8c0b-6e020557d7bd", "iCloud Keychain"),
    ("fcc0118f-cd45-435b-8da1-9782b2da0715", "YubiKey 5 FIPS Series with NFC"),
    ("fdb141b2-5d84-443e-8a35-4698c205a502", "KeePassXC"),
    ("ff4dac45-ede8-4ec2-aced-cf66103f4335", "YubiKey 5 Series"),
];

/// The model name for an AAGUID, from the built-in table. `aaguid` is the hyphenated lower-case form.
#[must_use]
pub fn builtin_name(aaguid: &str) -> Option<&'static str> {
    // The caller normalises the AAGUID once, so this does no case folding and stays a plain
    // binary search on the sign-in path. The zero AAGUID is deliberately absent from the
    // table, so it falls through to None like any other unknown value.
    BUILTIN
        .binary_search_by(|(key, _)| (*key).cmp(aaguid))
        .ok()
        .and_then(|index| BUILTIN.get(index))
        .map(|(_, name)| *name)
}

#[cfg(test)]
mod tests {
    use super::{builtin_name, BUILTIN, ZERO_AAGUID};

    /// Whether `s` is a UUID in the 8-4-4-4-12 layout with only lower-case hex digits.
    fn is_lower_hyphenated_uuid(s: &str) -> bool {
        s.len() == 36
            && s.bytes().enumerate().all(|(i, b)| match i {
                8 | 13 | 18 | 23 => b == b'-',
                _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
            })
    }

    #[test]
    fn table_is_strictly_sorted_so_binary_search_works() {
        // Strictly increasing keys also rule out duplicates, which would make a lookup
        // return whichever copy the search happened to land on.
        for pair in BUILTIN.windows(2) {
            if let [(a, _), (b, _)] = pair {
                assert!(a < b, "{a} must sort before {b} with no duplicates");
            }
        }
    }

    #[test]
    fn keys_are_lower_case_hyphenated_uuids() {
        for (key, _) in BUILTIN {
            assert!(is_lower_hyphenated_uuid(key), "bad AAGUID key {key:?}");
        }
        assert!(is_lower_hyphenated_uuid(ZERO_AAGUID));
    }

    #[test]
    fn names_are_clean() {
        for (key, name) in BUILTIN {
            assert!(!name.is_empty(), "empty name for {key}");
            assert_eq!(name.trim(), *name, "stray whitespace in the name for {key}");
        }
    }

    #[test]
    fn known_lookups() {
        assert_eq!(
            builtin_name("fbfc3007-154e-4ecc-8c0b-6e020557d7bd"),
            Some("iCloud Keychain")
        );
        assert_eq!(
            builtin_name("ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4"),
            Some("Google Password Manager")
        );
        for hello in [
            "08987058-cadc-4b81-b6e1-30de50dcbe96",
            "9ddd1817-af5a-4672-a2b9-3e3dd95000a9",
            "6028b017-b1d4-4c02-b4b3-afcdafc96bb2",
        ] {
            assert_eq!(builtin_name(hello), Some("Windows Hello"));
        }
        assert_eq!(
            builtin_name("2fc0579f-8113-47ea-b116-bb5a8db9202a"),
            Some("YubiKey 5 Series with NFC")
        );
        assert_eq!(
            builtin_name("bada5566-a7aa-401f-bd96-45619a55120d"),
            Some("1Password")
        );
    }

    #[test]
    fn first_and_last_entries_are_reachable() {
        // The ends of the table are where an off-by-one in a search would show first.
        for (key, name) in [BUILTIN.first(), BUILTIN.last()].into_iter().flatten() {
            assert_eq!(builtin_name(key), Some(*name));
        }
    }

    #[test]
    fn unknown_and_zero_aaguids_have_no_name() {
        assert_eq!(builtin_name(ZERO_AAGUID), None);
        assert_eq!(builtin_name("12345678-90ab-cdef-1234-567890abcdef"), None);
        assert_eq!(builtin_name(""), None);
        // Upper case is not the documented input form, so it is not matched.
        assert_eq!(builtin_name("FBFC3007-154E-4ECC-8C0B-6E020557D7BD"), None);
    }
}

//! CMS SignedData scenarios: the NCA / Kalkan fixtures (read from ../shared, never copied), byte
//! edited negatives, OpenSSL as a live peer (`openssl cms -sign` / `-verify`), and hostile input.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use eds_gateway::pki::cert::Certificate;
use eds_gateway::pki::cms::{
    self, CmsError, SignedData, SignerError, SignerVerdict, oids, verify_signers,
};
use eds_gateway::pki::gost::GostError;
use eds_gateway::pki::name::oids as name_oids;
use eds_gateway::pki::signature::{SignatureError, SignaturePolicy, oids as sig};

const RSA_TEST123: &str = "cms/ncanode_rsa_sign_attached_test123.p7s";
const TWO_SIGNERS_ATTACHED: &str = "cms/ncanode_2signers_gost2015+rsa_attached_test123.p7s";
const TWO_SIGNERS_DETACHED: &str = "cms/ncanode_2signers_gost2015+rsa_detached.p7s";
const TWO_SIGNERS_DATA: &str = "cms/ncanode_2signers_gost2015+rsa_detached.data";

/// (fixture, content, signer serial, signing time) for the Kalkan RSA fixtures.
const RSA_FIXTURES: &[(&str, &str, &str, &str)] = &[
    (
        RSA_TEST123,
        "test123",
        "4279390A141F5353A62947B61ED65E81741467D1",
        "2022-09-28T14:40:30Z",
    ),
    (
        "cms/ncanode_rsa_sign_attached_lol_kek.p7s",
        "lol_kek",
        "4279390A141F5353A62947B61ED65E81741467D1",
        "2022-10-01T18:52:19Z",
    ),
    (
        "cms/dk_organization_active_AUTH_RSA256_d682726b55b3e62600ea8fe1c74e75fc96f47790_attached_asdasd.p7s",
        "asdasd",
        "35588A098DBAB52C87A442605F6DAAC22C823C6F",
        "2020-09-09T20:03:14Z",
    ),
    (
        "cms/dk_organization_revoked_AUTH_RSA256_7d6d313ac5bf7367a2a69f28607a8deb80dd3ba9_attached_asdasd.p7s",
        "asdasd",
        "47621DB6103EED03029A1E00005F5C707A1C9432",
        "2020-09-09T20:03:14Z",
    ),
    (
        "cms/dk_personal_active_AUTH_RSA256_b2c70a9ff7a5dc59de0ccc3c0ddde3437cc1f12d_attached_asdasd.p7s",
        "asdasd",
        "391759E5658DCA490117417838E6C72CD8A853E7",
        "2020-09-09T20:03:13Z",
    ),
    (
        "cms/dk_personal_active_RSA256_11c707bd54cbfcccb3815e39c4eb57b1dc7dfea9_attached_asdasd.p7s",
        "asdasd",
        "1C1C4ADB45086B3529E004C96302AE974D4F09A4",
        "2020-09-09T20:03:14Z",
    ),
    (
        "cms/dk_personal_revoked_AUTH_RSA256_60d5a0346dd52fb5f3b9148e6cfbcd6cf323d119_attached_asdasd.p7s",
        "asdasd",
        "28E7785D5DC29A84F1939EB3D91FE9114DAB491F",
        "2020-09-09T20:03:14Z",
    ),
    (
        "cms/dk_personal_revoked_RSA256_346a7e57c2995259140b6fc375b6ff3bba7e852f_attached_asdasd.p7s",
        "asdasd",
        "4BBAD346A4703C9FD00A8F146AE0C62A0A8E2A14",
        "2020-09-09T20:03:14Z",
    ),
];

const GOST2004_FIXTURES: &[&str] = &[
    "cms/dk_organization_active_GOSTKNCA_13a3741b52d7bf860aab199b56fad1f4652e357b_attached_asdasd.p7s",
    "cms/dk_organization_revoked_GOSTKNCA_c372b7809440fcb681051bbc89ea2f089fd2fe16_attached_asdasd.p7s",
];

fn policy() -> SignaturePolicy {
    SignaturePolicy::default()
}

#[track_caller]
fn verdicts(cms_bytes: &[u8], detached: Option<&[u8]>) -> Vec<SignerVerdict> {
    let sd = SignedData::parse(cms_bytes).expect("CMS parses");
    verify_signers(&sd, detached, &[], &policy()).expect("message-level checks pass")
}

#[track_caller]
fn only_result(cms_bytes: &[u8]) -> Result<(), SignerError> {
    let v = verdicts(cms_bytes, None);
    assert_eq!(v.len(), 1, "one signer");
    v[0].result.clone()
}

/// Replaces the only occurrence of `from` with `to` (same length).
#[track_caller]
fn edit(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let hits: Vec<usize> = bytes
        .windows(from.len())
        .enumerate()
        .filter(|(_, w)| *w == from)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(
        hits.len(),
        1,
        "pattern {} must occur once",
        hex::encode(from)
    );
    let mut out = bytes.to_vec();
    out[hits[0]..hits[0] + to.len()].copy_from_slice(to);
    out
}

fn oid_tlv(o: const_oid::ObjectIdentifier) -> Vec<u8> {
    let mut v = vec![0x06, u8::try_from(o.as_bytes().len()).expect("short OID")];
    v.extend_from_slice(o.as_bytes());
    v
}

// ---------------------------------------------------------------------------------------------
// Kalkan / NCANode fixtures
// ---------------------------------------------------------------------------------------------

#[test]
fn every_kalkan_rsa_fixture_verifies_with_its_signer_and_signing_time() {
    for (file, content, serial, time) in RSA_FIXTURES {
        let bytes = common::nca_bytes(file);
        let sd = SignedData::parse(&bytes).expect(file);
        assert_eq!(sd.content.as_deref(), Some(content.as_bytes()), "{file}");
        assert_eq!(sd.content_type, oids::ID_DATA);
        assert!(!sd.was_ber, "Kalkan writes DER: {file}");
        let v = verify_signers(&sd, None, &[], &policy()).expect(file);
        assert_eq!(v.len(), 1, "{file}");
        assert_eq!(v[0].result, Ok(()), "{file}");
        let cert = v[0].certificate.as_ref().expect("signer cert embedded");
        assert_eq!(cert.serial_hex(), *serial, "{file}");
        assert_eq!(
            cert.subject.first_text(name_oids::SERIAL_NUMBER),
            Some("IIN123456789011"),
            "{file}"
        );
        assert_eq!(v[0].signing_time, Some(common::at(time)), "{file}");
        assert_eq!(v[0].digest_algorithm, sig::SHA256);
        assert_eq!(v[0].signature_algorithm, sig::SHA256_WITH_RSA);
        assert!(v[0].unsigned_attributes.is_empty());
    }
}

#[test]
fn kalkan_fixture_also_verifies_as_base64_and_as_ncalayer_pem() {
    use base64::Engine;
    let bytes = common::nca_bytes(RSA_TEST123);
    let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
    let lines: Vec<String> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    let pem = format!(
        "-----BEGIN CMS-----\n{}\n-----END CMS-----\n",
        lines.join("\n")
    );
    for text in [b64.clone(), lines.join("\r\n"), pem] {
        assert_eq!(only_result(text.as_bytes()), Ok(()));
    }
}

#[test]
fn two_signers_attached_gost2015_and_rsa_signers_both_verify() {
    let v = verdicts(&common::nca_bytes(TWO_SIGNERS_ATTACHED), None);
    assert_eq!(v.len(), 2);
    // Signer 0: GOST 34.10-2015-512 with Streebog-512.
    assert_eq!(v[0].digest_algorithm, oids::STREEBOG_512);
    assert_eq!(v[0].signature_algorithm, oids::GOST_2015_512_SIG);
    assert_eq!(v[0].result, Ok(()));
    let gost_cert = v[0]
        .certificate
        .as_ref()
        .expect("GOST signer cert embedded");
    assert_eq!(
        gost_cert.serial_hex(),
        "0FF06211DC82BEB00253FFA000F1DE84ABEF454F"
    );
    assert_eq!(
        gost_cert.subject.first_text(name_oids::SERIAL_NUMBER),
        Some("IIN123456789012")
    );
    assert_eq!(v[0].signing_time, Some(common::at("2022-09-27T21:17:59Z")));
    // Signer 1: RSA.
    assert_eq!(v[1].result, Ok(()));
    let rsa_cert = v[1].certificate.as_ref().expect("RSA signer cert embedded");
    assert_eq!(
        rsa_cert.serial_hex(),
        "4279390A141F5353A62947B61ED65E81741467D1"
    );
    assert_eq!(v[1].signing_time, Some(common::at("2022-09-27T21:17:59Z")));
}

#[test]
fn two_signers_detached_gost2015_and_rsa_signers_verify_with_the_data_file() {
    let cms_bytes = common::nca_bytes(TWO_SIGNERS_DETACHED);
    let data = common::nca_bytes(TWO_SIGNERS_DATA);
    assert_eq!(data, b"test123");
    let sd = SignedData::parse(&cms_bytes).expect("parses");
    assert_eq!(sd.content, None);
    let v = verify_signers(&sd, Some(&data), &[], &policy()).expect("content supplied");
    assert_eq!(v[0].result, Ok(()));
    assert_eq!(v[0].signature_algorithm, oids::GOST_2015_512_SIG);
    assert_eq!(v[0].signing_time, Some(common::at("2022-09-27T21:29:41Z")));
    assert_eq!(v[1].result, Ok(()));
    assert_eq!(v[1].signing_time, Some(common::at("2022-09-27T21:29:41Z")));
}

#[test]
fn detached_cms_without_data_is_no_content() {
    let sd = SignedData::parse(&common::nca_bytes(TWO_SIGNERS_DETACHED)).expect("parses");
    assert_eq!(
        verify_signers(&sd, None, &[], &policy()),
        Err(CmsError::NoContent)
    );
}

#[test]
fn detached_cms_with_wrong_data_fails_the_message_digest() {
    let v = verdicts(&common::nca_bytes(TWO_SIGNERS_DETACHED), Some(b"test124"));
    assert_eq!(
        v[0].result,
        Err(SignerError::MessageDigestMismatch {
            algorithm: oids::STREEBOG_512
        })
    );
    assert_eq!(
        v[1].result,
        Err(SignerError::MessageDigestMismatch {
            algorithm: sig::SHA256
        })
    );
}

#[test]
fn attached_content_and_different_supplied_data_conflict() {
    let sd = SignedData::parse(&common::nca_bytes(RSA_TEST123)).expect("parses");
    assert_eq!(
        verify_signers(&sd, Some(b"other"), &[], &policy()),
        Err(CmsError::ContentMismatch)
    );
    let v = verify_signers(&sd, Some(b"test123"), &[], &policy()).expect("same content");
    assert_eq!(v[0].result, Ok(()));
}

#[test]
fn gost2004_kalkan_fixtures_verify_with_their_signer_and_signing_time() {
    for file in GOST2004_FIXTURES {
        let bytes = common::nca_bytes(file);
        let sd = SignedData::parse(&bytes).expect(file);
        assert_eq!(sd.content.as_deref(), Some(&b"asdasd"[..]), "{file}");
        let v = verify_signers(&sd, None, &[], &policy()).expect(file);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].digest_algorithm, oids::GOST_34311_95);
        assert_eq!(v[0].signature_algorithm, oids::GOST_2004_SIG);
        assert_eq!(v[0].result, Ok(()), "{file}");
        let cert = v[0].certificate.as_ref().expect("signer cert embedded");
        assert_eq!(
            cert.subject.first_text(name_oids::SERIAL_NUMBER),
            Some("IIN123456789011"),
            "{file}"
        );
        assert_eq!(v[0].signing_time, Some(common::at("2020-09-09T20:03:14Z")));
    }
}

#[test]
fn kalkan_streebog_pair_routes_to_the_gost_module_and_verifies() {
    // Kalkan's (Streebog-512, 1.2.398.3.10.1.1.2.3.2) pair maps to the OID signature::verify
    // routes to the GOST module, which verifies the signature over the signed attributes.
    let sd = SignedData::parse(&common::nca_bytes(TWO_SIGNERS_ATTACHED)).expect("parses");
    let signer = &sd.signers[0];
    let alg =
        cms::effective_signature_algorithm(&signer.digest_algorithm, &signer.signature_algorithm)
            .expect("Kalkan pair is consistent");
    assert_eq!(alg.oid, oids::GOST_2015_512_SIG);
    let cert = sd
        .certificates
        .iter()
        .find(|c| signer.sid.matches(c))
        .expect("cert");
    let message = signer.signed_attributes_der().expect("signed attributes");
    assert_eq!(
        eds_gateway::pki::signature::verify(
            &alg,
            &cert.spki_der,
            message,
            &signer.signature,
            &policy()
        ),
        Ok(())
    );
}

// ---------------------------------------------------------------------------------------------
// Byte-edited negatives (RFC 5652 §5.4, §5.6, §11)
// ---------------------------------------------------------------------------------------------

#[test]
fn tampered_content_fails_the_message_digest() {
    let bytes = edit(&common::nca_bytes(RSA_TEST123), b"test123", b"test124");
    assert_eq!(
        only_result(&bytes),
        Err(SignerError::MessageDigestMismatch {
            algorithm: sig::SHA256
        })
    );
}

#[test]
fn tampered_signature_is_a_bad_signature() {
    let mut bytes = common::nca_bytes(RSA_TEST123);
    // The signature OCTET STRING is the last element of the only SignerInfo.
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    assert_eq!(
        only_result(&bytes),
        Err(SignerError::Signature(SignatureError::Invalid))
    );
}

#[test]
fn tampered_signing_time_is_a_bad_signature_and_shows_the_edited_time() {
    let bytes = edit(
        &common::nca_bytes(RSA_TEST123),
        b"220928144030Z",
        b"220928144031Z",
    );
    let v = verdicts(&bytes, None);
    assert_eq!(v[0].signing_time, Some(common::at("2022-09-28T14:40:31Z")));
    assert_eq!(
        v[0].result,
        Err(SignerError::Signature(SignatureError::Invalid))
    );
}

#[test]
fn missing_message_digest_attribute_is_named() {
    let md = oid_tlv(oids::MESSAGE_DIGEST);
    let mut other = md.clone();
    *other.last_mut().expect("oid") = 0x07; // 1.2.840.113549.1.9.7 challengePassword
    let bytes = edit(&common::nca_bytes(RSA_TEST123), &md, &other);
    assert_eq!(
        only_result(&bytes),
        Err(SignerError::MissingAttribute {
            oid: oids::MESSAGE_DIGEST
        })
    );
}

#[test]
fn content_type_attribute_that_differs_from_econtent_type_is_a_mismatch() {
    // contentType attribute: SEQ { id-contentType, SET { id-data } } → SET { id-signedData }
    let mut from = oid_tlv(oids::CONTENT_TYPE);
    from.extend_from_slice(&[0x31, 0x0b]);
    from.extend(oid_tlv(oids::ID_DATA));
    let mut to = oid_tlv(oids::CONTENT_TYPE);
    to.extend_from_slice(&[0x31, 0x0b]);
    to.extend(oid_tlv(oids::ID_SIGNED_DATA));
    let bytes = edit(&common::nca_bytes(RSA_TEST123), &from, &to);
    assert_eq!(
        only_result(&bytes),
        Err(SignerError::ContentTypeMismatch {
            signed: oids::ID_SIGNED_DATA,
            encapsulated: oids::ID_DATA
        })
    );
}

#[test]
fn duplicate_message_digest_attribute_is_refused() {
    // Turn signingTime (…9.5) into a second messageDigest (…9.4).
    let bytes = edit(
        &common::nca_bytes(RSA_TEST123),
        &oid_tlv(oids::SIGNING_TIME),
        &oid_tlv(oids::MESSAGE_DIGEST),
    );
    assert_eq!(
        only_result(&bytes),
        Err(SignerError::DuplicateAttribute {
            oid: oids::MESSAGE_DIGEST
        })
    );
}

#[test]
fn signer_certificate_missing_is_named_and_found_again_among_extra_certs() {
    let original = common::nca_bytes(RSA_TEST123);
    let sd = SignedData::parse(&original).expect("parses");
    let signer_cert: Certificate = verify_signers(&sd, None, &[], &policy()).expect("ok")[0]
        .certificate
        .clone()
        .expect("embedded");
    // Change the serial of the embedded certificate (first occurrence, in the certificate; the
    // second is the SignerInfo's sid).
    let serial = hex::decode("4279390A141F5353A62947B61ED65E81741467D1").expect("hex");
    let pos = original
        .windows(serial.len())
        .position(|w| w == serial)
        .expect("serial in cert");
    let mut bytes = original.clone();
    bytes[pos + 19] ^= 0x01;
    let sd = SignedData::parse(&bytes).expect("still parses");
    let v = verify_signers(&sd, None, &[], &policy()).expect("message ok");
    assert_eq!(v[0].certificate, None);
    assert!(matches!(
        &v[0].result,
        Err(SignerError::CertificateNotFound { sid }) if sid.contains("4279390A141F5353A62947B61ED65E81741467D1")
    ));
    assert_eq!(
        v[0].result.as_ref().err().map(|e| e.code()),
        Some("cms_signer_certificate_not_found")
    );
    let v = verify_signers(&sd, None, std::slice::from_ref(&signer_cert), &policy()).expect("ok");
    assert_eq!(v[0].result, Ok(()));
    assert_eq!(v[0].certificate.as_ref(), Some(&signer_cert));
}

#[test]
fn inconsistent_digest_and_signature_algorithms_are_a_mismatch() {
    // signer's digestAlgorithm sha256 → sha384 while signatureAlgorithm stays sha256WithRSA.
    let bytes = common::nca_bytes(RSA_TEST123);
    let sha256 = oid_tlv(sig::SHA256);
    let sha384 = oid_tlv(sig::SHA384);
    // The second occurrence is the SignerInfo's digestAlgorithm.
    let hits: Vec<usize> = bytes
        .windows(sha256.len())
        .enumerate()
        .filter(|(_, w)| *w == sha256.as_slice())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(hits.len(), 2);
    let mut edited = bytes.clone();
    edited[hits[1]..hits[1] + sha384.len()].copy_from_slice(&sha384);
    assert_eq!(
        only_result(&edited),
        Err(SignerError::AlgorithmMismatch {
            digest: sig::SHA384,
            signature: sig::SHA256_WITH_RSA
        })
    );
}

// ---------------------------------------------------------------------------------------------
// OpenSSL as the peer
// ---------------------------------------------------------------------------------------------

/// A unique temporary folder removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "eds-cms-{tag}-{}-{nanos}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[track_caller]
fn openssl(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("openssl must be installed for these tests (not skipped): {e}"))
}

#[track_caller]
fn openssl_ok(dir: &Path, args: &[&str]) {
    let out = openssl(dir, args);
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Self-signed key and certificate made by `openssl req -x509`.
fn make_key(dir: &Path, kind: &str) {
    let newkey: &[&str] = match kind {
        "rsa" => &["-newkey", "rsa:2048"],
        _ => &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
    };
    let key = format!("{kind}.key");
    let crt = format!("{kind}.crt");
    let mut args = vec!["req", "-x509", "-nodes"];
    args.extend_from_slice(newkey);
    args.extend_from_slice(&[
        "-keyout",
        &key,
        "-out",
        &crt,
        "-subj",
        "/CN=eds-gateway cms test/serialNumber=IIN123456789011",
        "-days",
        "2",
    ]);
    openssl_ok(dir, &args);
}

struct Signed {
    cms: Vec<u8>,
    detached: bool,
}

fn openssl_sign(dir: &Path, kind: &str, extra: &[&str], outform: &str) -> Signed {
    let key = format!("{kind}.key");
    let crt = format!("{kind}.crt");
    let mut args = vec![
        "cms",
        "-sign",
        "-binary",
        "-nosmimecap",
        "-in",
        "data.bin",
        "-signer",
        &crt,
        "-inkey",
        &key,
        "-outform",
        outform,
        "-out",
        "sig.out",
    ];
    args.extend_from_slice(extra);
    openssl_ok(dir, &args);
    Signed {
        cms: std::fs::read(dir.join("sig.out")).expect("sig"),
        // OpenSSL streams the content into the CMS for `-stream -outform PEM`, whatever -nodetach.
        detached: !(extra.contains(&"-nodetach")
            || (extra.contains(&"-stream") && outform == "PEM")),
    }
}

#[track_caller]
fn openssl_verifies(dir: &Path, cms_bytes: &[u8], detached: bool, outform: &str) -> bool {
    std::fs::write(dir.join("check.in"), cms_bytes).expect("write");
    let mut args = vec![
        "cms",
        "-verify",
        "-noverify",
        "-binary",
        "-inform",
        outform,
        "-in",
        "check.in",
        "-out",
        "check.out",
    ];
    if detached {
        args.extend_from_slice(&["-content", "data.bin"]);
    }
    openssl(dir, &args).status.success()
}

#[test]
fn openssl_signed_cms_verifies_in_both_directions() {
    let dir = TempDir::new("peer");
    let data = b"login challenge 4f1c\x00\xff binary";
    std::fs::write(dir.path("data.bin"), data).expect("data");
    make_key(&dir.0, "rsa");
    make_key(&dir.0, "ec");
    let cases: &[(&str, &[&str], &str, Option<&str>)] = &[
        ("rsa", &["-nodetach"], "DER", None),
        ("rsa", &[], "DER", None),
        ("rsa", &["-nodetach", "-md", "sha384"], "DER", None),
        (
            "rsa",
            &["-nodetach", "-md", "sha512", "-keyid"],
            "DER",
            None,
        ),
        ("rsa", &["-nodetach", "-noattr"], "DER", None),
        ("rsa", &["-noattr"], "DER", None),
        ("rsa", &["-nodetach", "-stream"], "DER", Some("ber")),
        ("rsa", &["-nodetach"], "PEM", None),
        ("ec", &["-nodetach"], "DER", None),
        ("ec", &[], "DER", None),
        ("ec", &["-nodetach", "-noattr"], "DER", None),
        ("ec", &["-nodetach", "-keyid", "-md", "sha384"], "DER", None),
        ("ec", &["-nodetach", "-stream"], "PEM", Some("ber")),
        // OpenSSL embeds the content when streaming to PEM even without -nodetach.
        ("ec", &["-stream"], "PEM", Some("ber")),
    ];
    for (kind, extra, outform, ber) in cases {
        let label = format!("{kind} {extra:?} {outform}");
        let s = openssl_sign(&dir.0, kind, extra, outform);
        assert!(
            openssl_verifies(&dir.0, &s.cms, s.detached, outform),
            "openssl accepts its own output: {label}"
        );
        let sd = SignedData::parse(&s.cms).unwrap_or_else(|e| panic!("{label}: {e}"));
        assert_eq!(sd.was_ber, ber.is_some(), "{label}");
        assert_eq!(sd.content.is_none(), s.detached, "{label}");
        let supplied = s.detached.then_some(&data[..]);
        let v = verify_signers(&sd, supplied, &[], &policy()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v.len(), 1, "{label}");
        assert_eq!(v[0].result, Ok(()), "{label}");
        let cert = v[0].certificate.as_ref().expect("signer cert embedded");
        assert_eq!(
            cert.subject.first_text(name_oids::SERIAL_NUMBER),
            Some("IIN123456789011")
        );
        if extra.contains(&"-noattr") {
            assert_eq!(v[0].signing_time, None, "{label}");
        } else {
            assert!(v[0].signing_time.is_some(), "{label}");
        }
        if extra.contains(&"-keyid") {
            assert!(
                matches!(v[0].sid, cms::SignerId::SubjectKeyId(_)),
                "{label}"
            );
        }

        // The same tampered inputs are refused by both sides.
        if !s.detached && *outform == "DER" && ber.is_none() {
            let mut flipped = data.to_vec();
            flipped[0] ^= 1;
            let tampered = edit(&s.cms, data, &flipped);
            assert!(
                !openssl_verifies(&dir.0, &tampered, false, "DER"),
                "{label}"
            );
            let expected = if extra.contains(&"-noattr") {
                Err(SignerError::Signature(SignatureError::Invalid))
            } else {
                Err(SignerError::MessageDigestMismatch {
                    algorithm: v[0].digest_algorithm,
                })
            };
            assert_eq!(only_result(&tampered), expected, "{label}");
        }
        if s.detached {
            let wrong = b"another challenge";
            let r = verify_signers(&sd, Some(wrong), &[], &policy()).expect("message ok");
            assert!(r[0].result.is_err(), "{label}");
        }
    }
}

#[test]
fn openssl_sha1_signer_is_refused_by_default_policy() {
    let dir = TempDir::new("sha1");
    std::fs::write(dir.path("data.bin"), b"x").expect("data");
    make_key(&dir.0, "rsa");
    let s = openssl_sign(&dir.0, "rsa", &["-nodetach", "-md", "sha1"], "DER");
    assert_eq!(
        only_result(&s.cms),
        Err(SignerError::Signature(SignatureError::Sha1NotAllowed))
    );
    let sd = SignedData::parse(&s.cms).expect("parses");
    let lenient = SignaturePolicy {
        allow_sha1: true,
        ..SignaturePolicy::default()
    };
    let v = verify_signers(&sd, None, &[], &lenient).expect("ok");
    assert_eq!(v[0].result, Ok(()));
}

// ---------------------------------------------------------------------------------------------
// Hostile input
// ---------------------------------------------------------------------------------------------

fn all_fixtures() -> Vec<(String, Vec<u8>)> {
    common::nca_files("cms")
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "p7s"))
        .map(|p| {
            let bytes = std::fs::read(&p).expect("read");
            (p.display().to_string(), bytes)
        })
        .collect()
}

/// Parses and, when that succeeds, verifies: must never panic.
fn exercise(bytes: &[u8]) -> Result<(), CmsError> {
    let sd = SignedData::parse(bytes)?;
    let _ = verify_signers(&sd, Some(b"test123"), &[], &policy());
    let _ = verify_signers(&sd, None, &[], &policy());
    Ok(())
}

#[test]
fn every_truncation_of_every_fixture_is_a_named_error() {
    let start = Instant::now();
    for (name, bytes) in all_fixtures() {
        for len in 0..bytes.len() {
            let r = SignedData::parse(&bytes[..len]);
            assert!(r.is_err(), "{name} truncated to {len} parsed");
        }
    }
    assert!(start.elapsed() < Duration::from_secs(120));
}

#[test]
fn bit_flips_of_every_fixture_never_panic() {
    let start = Instant::now();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for (_, bytes) in all_fixtures() {
        for _ in 0..300 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let pos =
                usize::try_from(state % u64::try_from(bytes.len()).expect("len")).expect("index");
            let mut b = bytes.clone();
            b[pos] ^= 1 << (state % 8);
            let _ = exercise(&b);
        }
        // Every byte of the SignerInfo region (the last 1 KiB) flipped once.
        for pos in bytes.len().saturating_sub(1024)..bytes.len() {
            let mut b = bytes.clone();
            b[pos] ^= 0x80;
            let _ = exercise(&b);
        }
    }
    assert!(start.elapsed() < Duration::from_secs(300));
}

#[test]
fn huge_length_fields_are_malformed() {
    for bytes in [
        vec![0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x06, 0x00],
        vec![0x30, 0x88, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        vec![0x30, 0x82, 0x01, 0x00, 0x06, 0x09],
    ] {
        assert!(
            matches!(SignedData::parse(&bytes), Err(CmsError::Malformed { .. })),
            "{}",
            hex::encode(&bytes)
        );
    }
    // A fixture whose signerInfos SET claims 4 GiB.
    let mut bytes = common::nca_bytes(RSA_TEST123);
    let pos = bytes.len() - (475 + 4);
    assert_eq!(&bytes[pos..pos + 2], &[0x31, 0x82]);
    bytes.splice(pos + 1..pos + 4, [0x84, 0xff, 0xff, 0xff, 0xff]);
    assert!(matches!(
        SignedData::parse(&bytes),
        Err(CmsError::Malformed { .. })
    ));
}

#[test]
fn deep_nesting_is_too_deep_in_both_length_forms() {
    // Definite lengths: 40 nested SEQUENCEs (each 2–4 header bytes).
    let mut der = vec![0x05, 0x00];
    for _ in 0..40 {
        let len = der.len();
        let mut outer = vec![0x30];
        if len < 0x80 {
            outer.push(u8::try_from(len).expect("short"));
        } else {
            outer.push(0x82);
            outer.extend_from_slice(&u16::try_from(len).expect("u16").to_be_bytes());
        }
        outer.extend(der);
        der = outer;
    }
    assert_eq!(
        SignedData::parse(&der),
        Err(CmsError::TooDeep {
            max: eds_gateway::pki::ber::MAX_DEPTH
        })
    );
    // Indefinite lengths, a million levels: refused quickly.
    let start = Instant::now();
    let mut ber = Vec::new();
    for _ in 0..200_000 {
        ber.extend_from_slice(&[0x30, 0x80]);
    }
    ber.extend(std::iter::repeat_n(0u8, 400_000));
    assert_eq!(
        SignedData::parse(&ber),
        Err(CmsError::TooDeep {
            max: eds_gateway::pki::ber::MAX_DEPTH
        })
    );
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn too_many_elements_is_bounded() {
    // One SEQUENCE holding 300 000 NULLs (600 KB): refused by the element budget.
    let n = 300_000usize;
    let mut ber = vec![0x30, 0x80];
    for _ in 0..n {
        ber.extend_from_slice(&[0x05, 0x00]);
    }
    ber.extend_from_slice(&[0x00, 0x00]);
    assert!(matches!(
        SignedData::parse(&ber),
        Err(CmsError::TooMany { .. })
    ));
}

#[test]
fn unsigned_timestamp_attribute_is_tolerated_and_reported() {
    // Append unsignedAttrs [1] { SEQ { id-aa-timeStampToken, SET { SEQ {} } } } to the only
    // SignerInfo and grow the five enclosing two-byte lengths; the signature is unaffected.
    let mut bytes = common::nca_bytes(RSA_TEST123);
    let mut attr = oid_tlv(oids::TIME_STAMP_TOKEN);
    attr.extend_from_slice(&[0x31, 0x02, 0x30, 0x00]);
    let mut unsigned = vec![0xa1, u8::try_from(attr.len() + 2).expect("short"), 0x30];
    unsigned.push(u8::try_from(attr.len()).expect("short"));
    unsigned.extend(attr);
    let set_pos = bytes.len() - (475 + 4);
    for pos in [0, 15, 19, set_pos, set_pos + 4] {
        assert_eq!(bytes[pos + 1], 0x82, "two-byte length at {pos}");
        let len = u16::from_be_bytes([bytes[pos + 2], bytes[pos + 3]]);
        let len = len + u16::try_from(unsigned.len()).expect("u16");
        bytes[pos + 2..pos + 4].copy_from_slice(&len.to_be_bytes());
    }
    bytes.extend(unsigned);
    let v = verdicts(&bytes, None);
    assert_eq!(v[0].unsigned_attributes, vec![oids::TIME_STAMP_TOKEN]);
    assert_eq!(v[0].result, Ok(()));
}

#[test]
fn nca_tsa_token_is_signed_data_over_tst_info_and_its_gost2004_signer_verifies() {
    let bytes = common::nca_bytes("tsp/tsp_token.bin");
    let sd = SignedData::parse(&bytes).expect("a TimeStampToken is a SignedData");
    assert_eq!(sd.content_type, oids::ID_CT_TST_INFO);
    assert!(sd.content.is_some());
    assert_eq!(sd.signers.len(), 1);
    let v = verify_signers(&sd, None, &[], &policy()).expect("message ok");
    assert_eq!(v.len(), 1);
    // The NCA TSA signs with GOST 34.310-2004.
    assert_eq!(v[0].digest_algorithm, oids::GOST_34311_95);
    assert_eq!(v[0].signature_algorithm, oids::GOST_2004_SIG);
    assert_eq!(v[0].result, Ok(()));
    assert!(v[0].certificate.is_some(), "TSA certificate embedded");
}

// ---------------------------------------------------------------------------------------------
// GOST byte-edited negatives: one byte of content, of the signature, of a signed attribute
// ---------------------------------------------------------------------------------------------

const GOST2015_SIGNING_TIME: &[u8] = b"220927211759Z";

/// Replaces the first occurrence of `from` with `to` (same length).
#[track_caller]
fn edit_first(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let pos = bytes
        .windows(from.len())
        .position(|w| w == from)
        .unwrap_or_else(|| panic!("pattern {} not found", hex::encode(from)));
    let mut out = bytes.to_vec();
    out[pos..pos + to.len()].copy_from_slice(to);
    out
}

/// Flips the low bit of the first byte (the least significant byte of r, NCA little-endian) of
/// signer `index`'s signature value, located by its bytes in the encoding.
#[track_caller]
fn flip_signature_byte(bytes: &[u8], index: usize) -> Vec<u8> {
    let sd = SignedData::parse(bytes).expect("parses");
    let sig = sd.signers[index].signature.clone();
    let mut flipped = sig.clone();
    flipped[0] ^= 0x01;
    edit(bytes, &sig, &flipped)
}

#[test]
fn gost2004_tampered_content_fails_the_gost_34311_message_digest() {
    for file in GOST2004_FIXTURES {
        let bytes = edit(&common::nca_bytes(file), b"asdasd", b"asdase");
        assert_eq!(
            only_result(&bytes),
            Err(SignerError::MessageDigestMismatch {
                algorithm: oids::GOST_34311_95
            }),
            "{file}"
        );
    }
}

#[test]
fn gost2004_tampered_signature_is_a_gost_bad_signature() {
    for file in GOST2004_FIXTURES {
        let bytes = flip_signature_byte(&common::nca_bytes(file), 0);
        assert_eq!(
            only_result(&bytes),
            Err(SignerError::Signature(SignatureError::Gost(
                GostError::InvalidSignature
            ))),
            "{file}"
        );
    }
}

#[test]
fn gost2004_tampered_signing_time_is_a_gost_bad_signature() {
    for file in GOST2004_FIXTURES {
        let bytes = edit(&common::nca_bytes(file), b"200909200314Z", b"200909200315Z");
        let v = verdicts(&bytes, None);
        assert_eq!(v[0].signing_time, Some(common::at("2020-09-09T20:03:15Z")));
        assert_eq!(
            v[0].result,
            Err(SignerError::Signature(SignatureError::Gost(
                GostError::InvalidSignature
            ))),
            "{file}"
        );
    }
}

#[test]
fn gost2015_tampered_content_fails_streebog_for_gost_and_sha256_for_rsa() {
    let bytes = edit(
        &common::nca_bytes(TWO_SIGNERS_ATTACHED),
        b"test123",
        b"test124",
    );
    let v = verdicts(&bytes, None);
    assert_eq!(
        v[0].result,
        Err(SignerError::MessageDigestMismatch {
            algorithm: oids::STREEBOG_512
        })
    );
    assert_eq!(
        v[1].result,
        Err(SignerError::MessageDigestMismatch {
            algorithm: sig::SHA256
        })
    );
}

#[test]
fn gost2015_tampered_signature_refuses_only_the_gost_signer() {
    let bytes = flip_signature_byte(&common::nca_bytes(TWO_SIGNERS_ATTACHED), 0);
    let v = verdicts(&bytes, None);
    assert_eq!(
        v[0].result,
        Err(SignerError::Signature(SignatureError::Gost(
            GostError::InvalidSignature
        )))
    );
    assert_eq!(v[1].result, Ok(()));
}

#[test]
fn gost2015_tampered_signing_time_refuses_only_the_gost_signer() {
    // Both signers carry the same signingTime; the GOST signer's SignerInfo comes first.
    let bytes = edit_first(
        &common::nca_bytes(TWO_SIGNERS_ATTACHED),
        GOST2015_SIGNING_TIME,
        b"220927211758Z",
    );
    let v = verdicts(&bytes, None);
    assert_eq!(v[0].signing_time, Some(common::at("2022-09-27T21:17:58Z")));
    assert_eq!(
        v[0].result,
        Err(SignerError::Signature(SignatureError::Gost(
            GostError::InvalidSignature
        )))
    );
    assert_eq!(v[1].signing_time, Some(common::at("2022-09-27T21:17:59Z")));
    assert_eq!(v[1].result, Ok(()));
}

#[test]
fn gost2015_detached_tampered_signature_and_signing_time_are_gost_bad_signatures() {
    let data = common::nca_bytes(TWO_SIGNERS_DATA);
    let original = common::nca_bytes(TWO_SIGNERS_DETACHED);
    let bad_sig = flip_signature_byte(&original, 0);
    let bad_time = edit_first(&original, b"220927212941Z", b"220927212942Z");
    for bytes in [bad_sig, bad_time] {
        let v = verdicts(&bytes, Some(&data));
        assert_eq!(
            v[0].result,
            Err(SignerError::Signature(SignatureError::Gost(
                GostError::InvalidSignature
            )))
        );
        assert_eq!(v[1].result, Ok(()));
    }
}

#[test]
fn nca_tsa_token_with_a_tampered_signature_or_tst_info_is_refused() {
    let original = common::nca_bytes("tsp/tsp_token.bin");
    let bytes = flip_signature_byte(&original, 0);
    assert_eq!(
        only_result(&bytes),
        Err(SignerError::Signature(SignatureError::Gost(
            GostError::InvalidSignature
        )))
    );
    // One byte of the TSTInfo (its last byte) changed: the GOST 34.311 message digest fails.
    let tst_info = SignedData::parse(&original)
        .expect("parses")
        .content
        .expect("TSTInfo encapsulated");
    let mut edited = tst_info.clone();
    *edited.last_mut().expect("non-empty") ^= 0x01;
    assert_eq!(
        only_result(&edit(&original, &tst_info, &edited)),
        Err(SignerError::MessageDigestMismatch {
            algorithm: oids::GOST_34311_95
        })
    );
}

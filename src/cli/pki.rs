//! `eds-gateway pki init|issue|revoke|release|list|crl|ocsp`: the NCA-like test CA
//! ([`crate::drill::ca`] documents the directory format). Exit 0 on success, 1 when the operation
//! is refused (unknown serial, already revoked...), 2 on usage errors.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::drill::ca::{self, Ca, InitOptions, IssueRequest, Lock, OcspOptions, Profile};
use crate::drill::der::pem;
use crate::drill::keys::KeyKind;
use crate::drill::p12out;
use crate::pki::identity::complete_iin;
use crate::pki::time::UnixTime;

/// `pki` subcommands.
#[derive(Subcommand, Debug)]
pub enum PkiCommand {
    /// Create a root CA, an issuing CA and an OCSP responder certificate in DIR.
    Init(InitArgs),
    /// Issue an end-entity certificate and .p12 (or several with --random-staff).
    Issue(Box<IssueArgs>),
    /// Revoke (or hold) a certificate by serial or IIN.
    Revoke(RevokeArgs),
    /// Lift a certificateHold (removeFromCRL in the next delta CRL).
    Release(ReleaseArgs),
    /// List issued certificates and their status.
    List(DirArgs),
    /// Write a new full CRL (and an empty delta) now.
    Crl(DirArgs),
    /// Answer a DER OCSP request from a file (offline responder).
    Ocsp(OcspArgs),
    /// Serve the CRLs, CA certificates and OCSP over HTTP.
    Serve(ServeArgs),
}

/// `pki serve DIR --listen 127.0.0.1:PORT`
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The CA directory.
    pub dir: PathBuf,
    /// Address to listen on (port 0 = any free port; the chosen one is printed).
    #[arg(long, default_value = "127.0.0.1:8088")]
    pub listen: std::net::SocketAddr,
    /// Sign OCSP responses with the CA key instead of the delegated responder.
    #[arg(long = "ca-signed")]
    pub ca_signed: bool,
    /// NCA-like OCSP responses: no nextUpdate.
    #[arg(long = "nca-mode")]
    pub nca_mode: bool,
    /// OCSP nextUpdate = thisUpdate + this many seconds (when not --nca-mode).
    #[arg(long = "ocsp-validity", default_value_t = 3600)]
    pub ocsp_validity: i64,
    /// Fault: delay every answer by this many milliseconds.
    #[arg(long = "slow-ms", default_value_t = 0)]
    pub slow_ms: u64,
    /// Fault: answer every OCSP request with tryLater.
    #[arg(long = "try-later")]
    pub try_later: bool,
    /// Fault: OCSP answers as of two days ago (expired).
    #[arg(long)]
    pub stale: bool,
    /// Fault: accept connections and close them at once.
    #[arg(long)]
    pub down: bool,
    /// POST a JSON event to this http:// URL on every revocation, hold or release.
    #[arg(long)]
    pub webhook: Option<String>,
}

/// `pki init DIR`
#[derive(Args, Debug)]
pub struct InitArgs {
    /// The CA directory (created).
    pub dir: PathBuf,
    /// CA key algorithm: gost512, rsa2048 or p256.
    #[arg(long, default_value = "gost512")]
    pub algorithm: String,
    /// Base URL the responder will serve (AIA, CDP and Freshest CRL point here).
    #[arg(long = "base-url", default_value = "http://127.0.0.1:8088")]
    pub base_url: String,
    /// Full CRL lifetime in hours.
    #[arg(long = "crl-hours", default_value_t = 168)]
    pub crl_hours: i64,
    /// Delta CRL lifetime in hours.
    #[arg(long = "delta-hours", default_value_t = 24)]
    pub delta_hours: i64,
}

/// `pki issue DIR ...`
#[derive(Args, Debug)]
pub struct IssueArgs {
    /// The CA directory.
    pub dir: PathBuf,
    /// IIN (12 digits).
    #[arg(long, required_unless_present = "random_staff")]
    pub iin: Option<String>,
    /// Family name.
    #[arg(long, required_unless_present = "random_staff")]
    pub surname: Option<String>,
    /// First name.
    #[arg(long = "given-name", required_unless_present = "random_staff")]
    pub given_name: Option<String>,
    /// Patronymic (G attribute).
    #[arg(long)]
    pub patronymic: Option<String>,
    /// Organisation BIN (12 digits): OU=BIN….
    #[arg(long)]
    pub bin: Option<String>,
    /// Organisation name (O).
    #[arg(long)]
    pub org: Option<String>,
    /// individual|employee|head|signright|finance|hr|infosystem.
    #[arg(long, default_value = "individual")]
    pub role: String,
    /// gost2015|rsa-auth|rsa-sign.
    #[arg(long, default_value = "gost2015")]
    pub profile: String,
    /// Lifetime in days.
    #[arg(long, default_value_t = 365)]
    pub days: i64,
    /// notBefore (RFC 3339); default now minus 5 minutes.
    #[arg(long = "not-before")]
    pub not_before: Option<String>,
    /// Output .p12 (with --random-staff: a directory).
    #[arg(long)]
    pub out: PathBuf,
    /// .p12 password.
    #[arg(long)]
    pub password: String,
    /// Also write the certificate as PEM here.
    #[arg(long = "pem-out")]
    pub pem_out: Option<PathBuf>,
    /// Issue N employees with random names and valid IINs into the --out directory.
    #[arg(long = "random-staff")]
    pub random_staff: Option<usize>,
}

/// `pki revoke DIR (SERIAL | --iin IIN) --reason R`
#[derive(Args, Debug)]
pub struct RevokeArgs {
    /// The CA directory.
    pub dir: PathBuf,
    /// Serial (hex).
    #[arg(required_unless_present = "iin")]
    pub serial: Option<String>,
    /// Revoke every good certificate of this IIN instead.
    #[arg(long, conflicts_with = "serial")]
    pub iin: Option<String>,
    /// keyCompromise|certificateHold|superseded|affiliationChanged|cessationOfOperation|
    /// privilegeWithdrawn|unspecified|cACompromise|aACompromise.
    #[arg(long, default_value = "keyCompromise")]
    pub reason: String,
    /// Revocation time (RFC 3339); default now.
    #[arg(long)]
    pub at: Option<String>,
}

/// `pki release DIR SERIAL`
#[derive(Args, Debug)]
pub struct ReleaseArgs {
    /// The CA directory.
    pub dir: PathBuf,
    /// Serial (hex).
    pub serial: String,
}

/// `pki list DIR`, `pki crl DIR`
#[derive(Args, Debug)]
pub struct DirArgs {
    /// The CA directory.
    pub dir: PathBuf,
    /// JSON output (list).
    #[arg(long)]
    pub json: bool,
}

/// `pki ocsp DIR --request F --out F`
#[derive(Args, Debug)]
pub struct OcspArgs {
    /// The CA directory.
    pub dir: PathBuf,
    /// DER OCSP request.
    #[arg(long)]
    pub request: PathBuf,
    /// Where to write the DER response.
    #[arg(long)]
    pub out: PathBuf,
    /// Sign with the CA key instead of the delegated responder.
    #[arg(long = "ca-signed")]
    pub ca_signed: bool,
    /// NCA-like: no nextUpdate.
    #[arg(long = "no-next-update")]
    pub no_next_update: bool,
}

fn usage(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(2)
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(1)
}

fn parse_time(s: &Option<String>, what: &str) -> Result<Option<UnixTime>, ExitCode> {
    match s {
        None => Ok(None),
        Some(s) => UnixTime::parse_rfc3339(s)
            .map(Some)
            .ok_or_else(|| usage(format!("{what}: not RFC 3339: {s}"))),
    }
}

fn open_locked(dir: &Path) -> Result<(Lock, Ca), ExitCode> {
    let lock = Lock::take(dir).map_err(fail)?;
    let ca = Ca::open(dir).map_err(fail)?;
    Ok((lock, ca))
}

/// Runs a `pki` subcommand.
pub fn run(cmd: PkiCommand) -> ExitCode {
    match cmd {
        PkiCommand::Init(a) => init(a),
        PkiCommand::Issue(a) => issue(*a),
        PkiCommand::Revoke(a) => revoke(a),
        PkiCommand::Release(a) => release(a),
        PkiCommand::List(a) => list(a),
        PkiCommand::Crl(a) => crl(a),
        PkiCommand::Ocsp(a) => ocsp(a),
        PkiCommand::Serve(a) => serve(a),
    }
}

fn init(a: InitArgs) -> ExitCode {
    let Some(algorithm) = KeyKind::parse(&a.algorithm) else {
        return usage("--algorithm must be gost512, rsa2048 or p256");
    };
    if !a.base_url.starts_with("http://") && !a.base_url.starts_with("https://") {
        return usage("--base-url must be an http(s) URL");
    }
    match Ca::init(
        &a.dir,
        &InitOptions {
            algorithm,
            base_url: a.base_url,
            crl_lifetime_secs: a.crl_hours * 3600,
            delta_lifetime_secs: a.delta_hours * 3600,
        },
    ) {
        Ok(ca) => {
            println!("root:   {}", ca.root.subject.to_display_string());
            println!("CA:     {}", ca.ca.subject.to_display_string());
            println!("OCSP:   {}", ca.ocsp.subject.to_display_string());
            println!("trust anchor: {}", a.dir.join("root.pem").display());
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

const SURNAMES: &[&str] = &[
    "АХМЕТОВ",
    "ЖУМАБАЕВ",
    "СЕРІКОВ",
    "ИВАНОВ",
    "НУРЛАНОВ",
    "ҚАСЫМОВ",
];
const NAMES: &[&str] = &["АЛИХАН", "ДАНИЯР", "ЕРЛАН", "АСЕЛЬ", "ГҮЛНАР", "МАРАТ"];

fn rand_u32() -> u32 {
    let mut b = [0u8; 4];
    let _ = getrandom::fill(&mut b);
    u32::from_le_bytes(b)
}

/// A random IIN with a valid checksum (birth date 1960–1999, 7th digit 3/4 = 20th century).
pub fn random_iin() -> String {
    loop {
        let r = rand_u32();
        let yy = 60 + r % 40;
        let mm = 1 + (r >> 8) % 12;
        let dd = 1 + (r >> 12) % 28;
        let sex = 3 + (r >> 17) % 2;
        let seq = (r >> 18) % 10000;
        let first11 = format!("{yy:02}{mm:02}{dd:02}{sex}{seq:04}");
        if let Some(iin) = complete_iin(&first11) {
            return iin;
        }
    }
}

fn issue(a: IssueArgs) -> ExitCode {
    let Some(profile) = Profile::parse(&a.profile) else {
        return usage("--profile must be gost2015, rsa-auth or rsa-sign");
    };
    if !ca::ROLES.iter().any(|(n, _)| *n == a.role) {
        return usage("--role must be individual|employee|head|signright|finance|hr|infosystem");
    }
    let not_before = match parse_time(&a.not_before, "--not-before") {
        Ok(t) => t.unwrap_or(UnixTime(ca::now().0 - 300)),
        Err(c) => return c,
    };
    let (_lock, mut ca) = match open_locked(&a.dir) {
        Ok(x) => x,
        Err(c) => return c,
    };
    let mut requests = Vec::new();
    if let Some(n) = a.random_staff {
        if let Err(e) = std::fs::create_dir_all(&a.out) {
            return usage(format!("{}: {e}", a.out.display()));
        }
        let bin = a.bin.clone().unwrap_or_else(random_iin);
        for k in 0..n {
            let r = rand_u32() as usize;
            requests.push((
                a.out.join(format!("staff_{k:03}.p12")),
                IssueRequest {
                    iin: random_iin(),
                    surname: SURNAMES[r % SURNAMES.len()].into(),
                    given_name: NAMES[(r >> 8) % NAMES.len()].into(),
                    patronymic: None,
                    bin: Some(bin.clone()),
                    org: Some(a.org.clone().unwrap_or_else(|| "ТЕСТ АУРУХАНАСЫ".into())),
                    role: if a.role == "individual" {
                        "employee".into()
                    } else {
                        a.role.clone()
                    },
                    profile,
                    not_before,
                    days: a.days,
                },
            ));
        }
    } else {
        requests.push((
            a.out.clone(),
            IssueRequest {
                iin: a.iin.clone().unwrap_or_default(),
                surname: a.surname.clone().unwrap_or_default(),
                given_name: a.given_name.clone().unwrap_or_default(),
                patronymic: a.patronymic.clone(),
                bin: a.bin.clone(),
                org: a.org.clone(),
                role: a.role.clone(),
                profile,
                not_before,
                days: a.days,
            },
        ));
    }
    for (out, req) in requests {
        let issued = match ca.issue(&req) {
            Ok(i) => i,
            Err(e) => return fail(e),
        };
        let key_id = crate::drill::keys::key_id(&issued.key.public_key_bits().unwrap_or_default());
        let p12 = match p12out::write(
            &issued.key.to_pkcs8(),
            &[issued.cert_der.clone(), ca.ca.der().to_vec()],
            &hex::encode(&key_id),
            &key_id,
            &a.password,
        ) {
            Ok(p) => p,
            Err(e) => return fail(e),
        };
        if let Err(e) = std::fs::write(&out, p12) {
            return usage(format!("{}: {e}", out.display()));
        }
        if a.random_staff.is_none()
            && let Some(p) = &a.pem_out
            && let Err(e) = std::fs::write(p, pem("CERTIFICATE", &issued.cert_der))
        {
            return usage(format!("{}: {e}", p.display()));
        }
        println!(
            "{} {} IIN{} {}",
            issued.serial,
            out.display(),
            req.iin,
            req.role
        );
    }
    ExitCode::SUCCESS
}

fn revoke(a: RevokeArgs) -> ExitCode {
    let Some(reason) = ca::reason_code(&a.reason) else {
        return usage(format!("unknown --reason {}", a.reason));
    };
    let at = match parse_time(&a.at, "--at") {
        Ok(t) => t.unwrap_or_else(ca::now),
        Err(c) => return c,
    };
    let (_lock, mut ca) = match open_locked(&a.dir) {
        Ok(x) => x,
        Err(c) => return c,
    };
    let serials: Vec<String> = match (&a.serial, &a.iin) {
        (Some(s), _) => vec![s.clone()],
        (None, Some(iin)) => ca
            .state
            .issued
            .iter()
            .filter(|i| &i.iin == iin && i.status != ca::Status::Revoked)
            .map(|i| i.serial.clone())
            .collect(),
        (None, None) => return usage("give SERIAL or --iin"),
    };
    if serials.is_empty() {
        return fail("no certificate to revoke for that IIN");
    }
    for s in serials {
        match ca.revoke(&s, reason, at) {
            Ok(serial) => println!("{serial} {}", a.reason),
            Err(e) => return fail(e),
        }
    }
    ExitCode::SUCCESS
}

fn release(a: ReleaseArgs) -> ExitCode {
    let (_lock, mut ca) = match open_locked(&a.dir) {
        Ok(x) => x,
        Err(c) => return c,
    };
    match ca.release(&a.serial, ca::now()) {
        Ok(s) => {
            println!("{s} released");
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

fn list(a: DirArgs) -> ExitCode {
    let ca = match Ca::open(&a.dir) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&ca.state.issued).unwrap_or_default()
        );
    } else {
        for i in &ca.state.issued {
            let st = match i.status {
                ca::Status::Good => "good".to_string(),
                ca::Status::Hold => "hold".to_string(),
                ca::Status::Revoked => format!(
                    "revoked({})",
                    ca::REASONS
                        .iter()
                        .find(|(_, c)| Some(*c) == i.reason)
                        .map(|(n, _)| *n)
                        .unwrap_or("?")
                ),
            };
            println!(
                "{} {:<20} IIN{} {:<9} {:<10} {}",
                i.serial, st, i.iin, i.profile, i.role, i.subject
            );
        }
    }
    ExitCode::SUCCESS
}

fn crl(a: DirArgs) -> ExitCode {
    let (_lock, mut ca) = match open_locked(&a.dir) {
        Ok(x) => x,
        Err(c) => return c,
    };
    match ca.write_full_crl(ca::now()).and_then(|()| ca.save()) {
        Ok(()) => {
            println!("full CRL {}", ca.state.base_crl_number);
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

fn ocsp(a: OcspArgs) -> ExitCode {
    let ca = match Ca::open(&a.dir) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let req = match std::fs::read(&a.request) {
        Ok(b) => b,
        Err(e) => return usage(format!("{}: {e}", a.request.display())),
    };
    let resp = ca.ocsp_respond(
        &req,
        OcspOptions {
            ca_signed: a.ca_signed,
            no_next_update: a.no_next_update,
            next_update_secs: 3600,
        },
        ca::now(),
    );
    match std::fs::write(&a.out, resp) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => usage(format!("{}: {e}", a.out.display())),
    }
}

fn serve(a: ServeArgs) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let opts = crate::drill::responder::ServeOptions {
        ocsp: OcspOptions {
            ca_signed: a.ca_signed,
            no_next_update: a.nca_mode,
            next_update_secs: a.ocsp_validity,
        },
        slow: std::time::Duration::from_millis(a.slow_ms),
        try_later: a.try_later,
        stale: a.stale,
        down: a.down,
        webhook: a.webhook,
    };
    match rt.block_on(crate::drill::responder::serve(a.dir, a.listen, opts)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

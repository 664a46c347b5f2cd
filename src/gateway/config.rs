//! `gateway.toml`: the whole configuration, parsed and validated before any port is bound
//! (STYLE.md §12). [`Config::load`] returns every problem at once; `check-config` prints them and
//! exits 64.
//!
//! Relative paths are resolved against the directory of the configuration file, so a config
//! folder can be moved as a whole.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The configuration as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Listener and origin.
    pub server: Server,
    /// Trust store.
    pub trust: Trust,
    /// Which certificates may log in.
    #[serde(default)]
    pub purpose: Purpose,
    /// Revocation checking.
    #[serde(default)]
    pub revocation: Revocation,
    /// Sessions and their store.
    #[serde(default)]
    pub session: SessionCfg,
    /// Login challenges.
    #[serde(default)]
    pub challenge: ChallengeCfg,
    /// Staff directory.
    pub staff: Staff,
    /// Audit log.
    pub audit: Audit,
    /// Rate limits.
    #[serde(default)]
    pub rate_limit: RateLimit,
    /// The MIS behind the gateway (the default route, prefix `/`).
    pub upstream: Upstream,
    /// More routes by path prefix, each with its own upstream (`[[route]]`; longest prefix wins).
    #[serde(default)]
    pub route: Vec<RouteCfg>,
    /// The login page.
    #[serde(default)]
    pub login_page: LoginPageCfg,
    /// Who may use which MIS paths.
    #[serde(default)]
    pub access: AccessCfg,
    /// The signed identity assertion to the MIS.
    #[serde(default)]
    pub assertion: AssertionCfg,
    /// `/eds/metrics`.
    #[serde(default)]
    pub metrics: MetricsCfg,
    /// Logs.
    #[serde(default)]
    pub log: LogCfg,
    /// Live-session re-checks (issue 8).
    #[serde(default)]
    pub recheck: RecheckCfg,
    /// The admin page and the operator API (issue 8).
    #[serde(default)]
    pub admin: AdminCfg,
    /// HTTPS listener (issue 7 item 4); without it only `server.plain_http = true` serves.
    #[serde(default)]
    pub tls: Option<TlsCfg>,
    /// Set by [`Config::load`]: the directory relative paths are resolved against.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

/// `[server]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    /// Listen address, e.g. `0.0.0.0:443`.
    pub listen: String,
    /// The origin browsers use, e.g. `https://mis.hospital.kz`: checked on every POST (CSRF)
    /// and written into every challenge.
    pub public_origin: String,
    /// Serve plain HTTP. Only for localhost demos; must be said explicitly (issue 7 item 4).
    #[serde(default)]
    pub plain_http: bool,
    /// Instance name (audit, logs); defaults to the host name or `gateway`.
    #[serde(default)]
    pub instance: Option<String>,
    /// Take the client IP from the last X-Forwarded-For entry (only behind a trusted balancer).
    #[serde(default)]
    pub trust_forwarded_for: bool,
    /// Largest request body accepted on `/eds/` endpoints (bytes).
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// 0 (default): one multi-threaded runtime serves everything. N ≥ 1: N single-threaded
    /// runtimes, each with its own `SO_REUSEPORT` listener (docs/tls.md "Workers").
    #[serde(default)]
    pub workers: usize,
    /// On SIGTERM/SIGINT: stop accepting, give in-flight requests this long, then close.
    #[serde(default = "default_drain")]
    pub drain_secs: u64,
    /// Open client connections at most (across workers); more are closed at accept.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// A client that accepts no byte of a response for this long is disconnected (nginx's
    /// `send_timeout`): a stalled reader cannot hold a connection, its upstream connection and
    /// their buffers forever.
    #[serde(default = "default_send_timeout")]
    pub send_timeout_secs: u64,
}

fn default_drain() -> u64 {
    30
}
fn default_send_timeout() -> u64 {
    60
}
fn default_max_connections() -> usize {
    // A hospital has hundreds to a few thousand workstations, each browser keeping ≤ 6
    // connections; 10 000 leaves room and stays far below the default `ulimit -n` of 1 048 576
    // systemd gives services.
    10_000
}

/// `[tls]`: the HTTPS listener on `server.listen`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsCfg {
    /// Certificate chain (PEM, leaf first).
    pub cert_file: PathBuf,
    /// Private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
    /// How often the two files are checked for changes (seconds; a changed pair is swapped in
    /// for new connections, a bad pair is logged and the old one kept).
    #[serde(default = "default_tls_reload")]
    pub reload_secs: u64,
    /// A plain HTTP listener (e.g. `0.0.0.0:80`) that only answers 308 to the public origin.
    #[serde(default)]
    pub redirect_listen: Option<String>,
    /// `Strict-Transport-Security` on every HTTPS response; `""` sends none.
    #[serde(default = "default_hsts")]
    pub hsts: String,
}

fn default_tls_reload() -> u64 {
    5
}
fn default_hsts() -> String {
    "max-age=31536000; includeSubDomains".into()
}

fn default_max_body() -> usize {
    // A CMS login is a few KB; NCA RSA chains with TSA tokens stay under 20 KB. 256 KiB leaves
    // room and refuses a 10 MB body at once.
    256 * 1024
}

/// `[trust]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trust {
    /// Folder of trust anchors and issuing CAs (certs/README.md).
    pub dir: PathBuf,
}

/// `[purpose]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Purpose {
    /// Certificate profiles allowed to log in: `gost2015`, `rsa-auth`, `rsa-sign`, `gost2004`.
    #[serde(default = "default_profiles")]
    pub allow_profiles: Vec<String>,
}

impl Default for Purpose {
    fn default() -> Self {
        Purpose {
            allow_profiles: default_profiles(),
        }
    }
}

fn default_profiles() -> Vec<String> {
    vec!["gost2015".into(), "rsa-auth".into()]
}

/// `[revocation]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revocation {
    /// `ocsp-then-crl` (default), `ocsp`, `crl`, `crl-and-ocsp`, or `danger-none` (no revocation
    /// checking at all: refused unless `server.plain_http` demos ask for it by this name).
    #[serde(default = "default_mode")]
    pub mode: String,
    /// OCSP responder for every issuer (instead of the certificates' AIA), e.g.
    /// `http://ocsp.pki.gov.kz`.
    #[serde(default)]
    pub ocsp_url: Option<String>,
    /// CertID hash: `sha256` (NCA) or `sha1`.
    #[serde(default = "default_hash")]
    pub ocsp_hash: String,
    /// Send a nonce.
    #[serde(default = "yes")]
    pub ocsp_nonce: bool,
    /// Largest accepted age of an OCSP answer without nextUpdate (seconds).
    #[serde(default = "default_ocsp_max_age")]
    pub ocsp_max_age_secs: u64,
    /// CRLs, one per issuing CA.
    #[serde(default)]
    pub crl: Vec<CrlCfg>,
    /// Where downloaded CRLs are kept across restarts.
    #[serde(default)]
    pub crl_dir: Option<PathBuf>,
    /// How often the background refresher looks at the CRLs (seconds).
    #[serde(default = "default_refresh")]
    pub crl_refresh_secs: u64,
}

impl Default for Revocation {
    fn default() -> Self {
        Revocation {
            mode: default_mode(),
            ocsp_url: None,
            ocsp_hash: default_hash(),
            ocsp_nonce: true,
            ocsp_max_age_secs: default_ocsp_max_age(),
            crl: Vec::new(),
            crl_dir: None,
            crl_refresh_secs: default_refresh(),
        }
    }
}

fn default_mode() -> String {
    "ocsp-then-crl".into()
}
fn default_hash() -> String {
    "sha256".into()
}
fn yes() -> bool {
    true
}
fn default_ocsp_max_age() -> u64 {
    300
}
fn default_refresh() -> u64 {
    60
}

/// `[[revocation.crl]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrlCfg {
    /// The issuing CA certificate file whose CRL this is.
    pub issuer: PathBuf,
    /// Complete CRL URL.
    pub url: String,
    /// Delta CRL URL.
    #[serde(default)]
    pub delta_url: Option<String>,
}

/// `[session]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionCfg {
    /// `embedded` (default) or `redis`.
    #[serde(default = "default_store")]
    pub store: String,
    /// Embedded store folder.
    #[serde(default = "default_session_dir")]
    pub dir: PathBuf,
    /// Redis URL (store = "redis").
    #[serde(default)]
    pub redis_url: Option<String>,
    /// Key prefix in Redis (one per deployment).
    #[serde(default = "default_prefix")]
    pub redis_prefix: String,
    /// Idle timeout (seconds; default 15 min).
    #[serde(default = "default_idle")]
    pub idle_timeout_secs: i64,
    /// Absolute lifetime (seconds; default 12 h).
    #[serde(default = "default_absolute")]
    pub absolute_lifetime_secs: i64,
    /// Live sessions per key; a new login ends the oldest (default 1).
    #[serde(default = "one")]
    pub max_sessions_per_key: usize,
}

impl Default for SessionCfg {
    fn default() -> Self {
        SessionCfg {
            store: default_store(),
            dir: default_session_dir(),
            redis_url: None,
            redis_prefix: default_prefix(),
            idle_timeout_secs: default_idle(),
            absolute_lifetime_secs: default_absolute(),
            max_sessions_per_key: 1,
        }
    }
}

fn default_store() -> String {
    "embedded".into()
}
fn default_session_dir() -> PathBuf {
    PathBuf::from("data/sessions")
}
fn default_prefix() -> String {
    "eds:".into()
}
fn default_idle() -> i64 {
    15 * 60
}
fn default_absolute() -> i64 {
    12 * 3600
}
fn one() -> usize {
    1
}

/// `[challenge]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChallengeCfg {
    /// Lifetime (seconds; default 120).
    #[serde(default = "default_challenge_ttl")]
    pub ttl_secs: i64,
    /// Challenges one browser (pre-login cookie) may hold within a lifetime (default 5).
    #[serde(default = "default_pending")]
    pub max_pending_per_client: u64,
}

impl Default for ChallengeCfg {
    fn default() -> Self {
        ChallengeCfg {
            ttl_secs: default_challenge_ttl(),
            max_pending_per_client: default_pending(),
        }
    }
}

fn default_challenge_ttl() -> i64 {
    120
}
fn default_pending() -> u64 {
    5
}

/// `[staff]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Staff {
    /// CSV or TOML staff file.
    pub file: PathBuf,
    /// How often the file is checked for changes (seconds).
    #[serde(default = "default_staff_reload")]
    pub reload_secs: u64,
    /// Mapping rules: certificate attributes → extra roles.
    #[serde(default)]
    pub mapping: Vec<MappingCfg>,
}

fn default_staff_reload() -> u64 {
    5
}

/// `[[staff.mapping]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingCfg {
    /// The certificate's organisation BIN must be this.
    #[serde(default)]
    pub bin: Option<String>,
    /// The certificate must carry this NCA role (`employee`, `head`, `signright`, `finance`,
    /// `hr`, `individual`, …).
    #[serde(default)]
    pub nca_role: Option<String>,
    /// Roles granted.
    pub grant: Vec<String>,
}

/// `[audit]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Audit {
    /// The JSON-lines file.
    pub file: PathBuf,
    /// `per-record` (default) or `batch`.
    #[serde(default = "default_fsync")]
    pub fsync: String,
    /// Rotate past this size (bytes).
    #[serde(default)]
    pub rotate_bytes: Option<u64>,
}

fn default_fsync() -> String {
    "per-record".into()
}

/// `[rate_limit]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Challenges per client IP per minute.
    #[serde(default = "default_ch_ip")]
    pub challenges_per_ip_per_minute: u64,
    /// Failed logins per client IP per 15 minutes.
    #[serde(default = "default_fail_ip")]
    pub failed_logins_per_ip: u64,
    /// Failed logins per IIN per 15 minutes.
    #[serde(default = "default_fail_iin")]
    pub failed_logins_per_iin: u64,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            challenges_per_ip_per_minute: default_ch_ip(),
            failed_logins_per_ip: default_fail_ip(),
            failed_logins_per_iin: default_fail_iin(),
        }
    }
}

fn default_ch_ip() -> u64 {
    // A ward's PCs often share one NAT address: 60 a minute is one per second.
    60
}
fn default_fail_ip() -> u64 {
    30
}
fn default_fail_iin() -> u64 {
    10
}

/// `[upstream]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Upstream {
    /// Base URL of the MIS, e.g. `http://10.0.0.5:8080` or `https://mis.local` (then `ca_file`).
    pub url: String,
    /// Identity headers sent to the MIS: any of `iin`, `name`, `bin`, `org`, `roles`, `serial`,
    /// `sid` (data minimisation: send only what the MIS needs).
    #[serde(default = "default_headers")]
    pub identity_headers: Vec<String>,
    /// Header name prefix.
    #[serde(default = "default_header_prefix")]
    pub header_prefix: String,
    /// `rewrite` (default: Host = the upstream's authority) or `preserve` (the client's Host).
    #[serde(default)]
    pub host: Option<String>,
    /// PEM file of the CA(s) an `https` upstream's certificate must chain to (required then).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// TCP (and TLS) connect timeout, seconds (default 5).
    #[serde(default)]
    pub connect_timeout_secs: Option<u64>,
    /// Time allowed for the upstream's response headers, seconds (default 60) → 504.
    #[serde(default)]
    pub first_byte_timeout_secs: Option<u64>,
    /// Longest silence while a body streams, either way, seconds (default 120).
    #[serde(default)]
    pub idle_timeout_secs: Option<u64>,
    /// Pass WebSocket upgrades through (default false).
    #[serde(default)]
    pub websocket: Option<bool>,
}

/// `[[route]]`: paths starting with `prefix` go to `url`. Unset timeouts, `host` and `websocket`
/// are taken from `[upstream]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteCfg {
    /// Path prefix, e.g. `/lab/` (starts with `/`, never under `/eds/`).
    pub prefix: String,
    /// Name for metrics and logs (default: the prefix).
    #[serde(default)]
    pub name: Option<String>,
    /// Base URL of this upstream.
    pub url: String,
    /// `rewrite` or `preserve`.
    #[serde(default)]
    pub host: Option<String>,
    /// CA PEM for an `https` upstream.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Connect timeout, seconds.
    #[serde(default)]
    pub connect_timeout_secs: Option<u64>,
    /// First-byte timeout, seconds.
    #[serde(default)]
    pub first_byte_timeout_secs: Option<u64>,
    /// Idle timeout while streaming, seconds.
    #[serde(default)]
    pub idle_timeout_secs: Option<u64>,
    /// Pass WebSocket upgrades through.
    #[serde(default)]
    pub websocket: Option<bool>,
}

/// Defaults of the route settings.
pub const DEFAULT_CONNECT_TIMEOUT_SECS: u64 = 5;
/// Default first-byte timeout.
pub const DEFAULT_FIRST_BYTE_TIMEOUT_SECS: u64 = 60;
/// Default idle timeout.
pub const DEFAULT_IDLE_TIMEOUT_SECS: u64 = 120;

/// One route, with the `[upstream]` defaults filled in (what [`Config::routes`] returns).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteSpec {
    /// Path prefix (`/` for `[upstream]`).
    pub prefix: String,
    /// Metrics label (`default` for `[upstream]`).
    pub name: String,
    /// Upstream base URL.
    pub url: String,
    /// Host preserved (`true`) or rewritten to the upstream's authority.
    pub preserve_host: bool,
    /// CA file, resolved against the config folder.
    pub ca_file: Option<PathBuf>,
    /// Seconds.
    pub connect_timeout_secs: u64,
    /// Seconds.
    pub first_byte_timeout_secs: u64,
    /// Seconds.
    pub idle_timeout_secs: u64,
    /// WebSocket pass-through.
    pub websocket: bool,
}

fn default_headers() -> Vec<String> {
    ["iin", "name", "bin", "org", "roles", "serial", "sid"]
        .map(String::from)
        .to_vec()
}
fn default_header_prefix() -> String {
    "X-EDS-".into()
}

/// `[access]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessCfg {
    /// `any-staff` (default) or `deny`: what happens when no rule matches.
    #[serde(default = "default_access")]
    pub default: String,
    /// Paths served without a session (exact, or prefixes ending in `/`).
    #[serde(default)]
    pub public: Vec<String>,
    /// Rules, first match decides.
    #[serde(default)]
    pub rule: Vec<AccessRuleCfg>,
}

impl Default for AccessCfg {
    fn default() -> Self {
        AccessCfg {
            default: default_access(),
            public: Vec::new(),
            rule: Vec::new(),
        }
    }
}

fn default_access() -> String {
    "any-staff".into()
}

/// `[[access.rule]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessRuleCfg {
    /// Path pattern: prefix ending in `/`, glob with `*`/`**`, or exact.
    pub path: String,
    /// Methods (upper case); empty = all.
    #[serde(default)]
    pub methods: Vec<String>,
    /// Any of these roles admits.
    pub roles: Vec<String>,
}

impl AccessCfg {
    /// The policy this section describes.
    pub fn policy(&self) -> crate::auth::access::AccessPolicy {
        use crate::auth::access::{AccessPolicy, Default as D, Rule};
        AccessPolicy {
            rules: self
                .rule
                .iter()
                .map(|r| Rule {
                    path: r.path.clone(),
                    methods: r.methods.clone(),
                    roles: r.roles.clone(),
                })
                .collect(),
            default: if self.default == "deny" {
                D::Deny
            } else {
                D::AnyStaff
            },
            public: self.public.clone(),
        }
    }
}

/// `[login_page]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginPageCfg {
    /// Where the page finds NCALayer.
    #[serde(default = "default_ncalayer")]
    pub ncalayer_url: String,
    /// The name shown on the page.
    #[serde(default = "default_name")]
    pub gateway_name: String,
}

impl Default for LoginPageCfg {
    fn default() -> Self {
        LoginPageCfg {
            ncalayer_url: default_ncalayer(),
            gateway_name: default_name(),
        }
    }
}

fn default_ncalayer() -> String {
    "wss://127.0.0.1:13579".into()
}
fn default_name() -> String {
    "eds-gateway".into()
}

/// `[assertion]`: the signed JWT in `{header_prefix}Assertion` (docs/observability.md).
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AssertionCfg {
    /// Send the assertion (default true).
    pub enabled: bool,
    /// Ed25519 PKCS#8 key (PEM or DER); made there (mode 0600) when missing.
    pub key_file: PathBuf,
    /// `iss` (default: `server.public_origin`).
    pub iss: Option<String>,
    /// `aud` (default `mis`).
    pub aud: String,
    /// Lifetime: `exp - iat` (seconds; default 60).
    pub ttl_secs: i64,
    /// A session's token is reused until fewer than this many seconds remain (default 15).
    pub renew_before_secs: i64,
    /// Identity claims sent (data minimisation): any of `sub` (IIN), `name`, `bin`, `org`,
    /// `roles`, `serial`, `sid`; `iss`, `aud`, `iat`, `exp`, `jti` always go.
    pub claims: Vec<String>,
}

impl Default for AssertionCfg {
    fn default() -> Self {
        AssertionCfg {
            enabled: true,
            key_file: PathBuf::from("data/assertion_key.pem"),
            iss: None,
            aud: "mis".into(),
            ttl_secs: 60,
            renew_before_secs: 15,
            claims: super::assertion::OPTIONAL_CLAIMS.map(String::from).to_vec(),
        }
    }
}

/// `[metrics]`: who may read `/eds/metrics`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsCfg {
    /// Client IPs allowed (default loopback only).
    pub allow: Vec<String>,
    /// A bearer token that also admits (`Authorization: Bearer …`), from any address.
    pub token: Option<String>,
}

impl Default for MetricsCfg {
    fn default() -> Self {
        MetricsCfg {
            allow: vec!["127.0.0.1".into(), "::1".into()],
            token: None,
        }
    }
}

/// `[log]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogCfg {
    /// `json` (default) or `text`.
    pub format: String,
    /// `error`, `warn`, `info` (default), `debug`, `trace`.
    pub level: String,
}

impl Default for LogCfg {
    fn default() -> Self {
        LogCfg {
            format: "json".into(),
            level: "info".into(),
        }
    }
}

/// `[recheck]` (issue 8): live sessions re-checked against revocation news.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecheckCfg {
    /// Every live session's certificate is re-checked by OCSP (through the OCSP cache) this
    /// often (seconds; default 300). CRL re-checks run whenever a new CRL is swapped in.
    pub ocsp_interval_secs: u64,
    /// OCSP re-checks in flight at once.
    pub ocsp_concurrency: usize,
    /// Peers (IP addresses) whose `POST /eds/revocation/webhook` is accepted.
    pub webhook_allow: Vec<String>,
    /// Or: a shared secret the webhook carries as `Authorization: Bearer …` or `?token=…`.
    pub webhook_token: Option<String>,
}

impl Default for RecheckCfg {
    fn default() -> Self {
        RecheckCfg {
            ocsp_interval_secs: 300,
            ocsp_concurrency: 8,
            webhook_allow: Vec::new(),
            webhook_token: None,
        }
    }
}

/// `[admin]` (issue 8): `/eds/admin` and `/eds/admin/api/…`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminCfg {
    /// A file holding the operator token (≥ 32 characters) that `eds-gateway block …` sends as
    /// `Authorization: Bearer …`; accepted from loopback peers only. No file: no token access.
    #[serde(default)]
    pub api_token_file: Option<PathBuf>,
}

impl AdminCfg {
    /// The operator token from `api_token_file` (trimmed), if configured and readable.
    pub fn token(&self, cfg: &Config) -> Option<String> {
        let f = self.api_token_file.as_ref()?;
        let t = std::fs::read_to_string(cfg.resolve(f)).ok()?;
        let t = t.trim().to_string();
        (t.len() >= 32).then_some(t)
    }
}

/// The identity header keys [`Upstream::identity_headers`] may list.
pub const IDENTITY_FIELDS: [&str; 7] = ["iin", "name", "bin", "org", "roles", "serial", "sid"];

impl Config {
    /// Reads, parses and validates `path`. `Err` holds every problem found.
    pub fn load(path: &Path) -> Result<Config, Vec<String>> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| vec![format!("{}: cannot read: {e}", path.display())])?;
        let mut cfg: Config =
            toml::from_str(&text).map_err(|e| vec![format!("{}: {e}", path.display())])?;
        cfg.base_dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let problems = cfg.problems();
        if problems.is_empty() {
            Ok(cfg)
        } else {
            Err(problems)
        }
    }

    /// `p` resolved against the config file's directory.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }

    /// The instance name.
    pub fn instance(&self) -> String {
        self.server
            .instance
            .clone()
            .unwrap_or_else(|| "gateway".to_string())
    }

    /// Every semantic problem (files that must exist, URLs, ranges, combinations).
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.server.listen.parse::<std::net::SocketAddr>().is_err() {
            p.push(format!(
                "server.listen {:?}: not an address like 0.0.0.0:443",
                self.server.listen
            ));
        }
        match parse_origin(&self.server.public_origin) {
            Some(o) if o.starts_with("http://") && !self.server.plain_http => p.push(format!(
                "server.public_origin {:?} is plain http: set server.plain_http = true (localhost demos only)",
                self.server.public_origin
            )),
            Some(_) => {}
            None => p.push(format!(
                "server.public_origin {:?}: expected scheme://host[:port] with no path",
                self.server.public_origin
            )),
        }
        match (&self.tls, self.server.plain_http) {
            (None, false) => p.push(
                "server.plain_http = false needs a [tls] section (cert_file, key_file); plain \
                 http only with server.plain_http = true (localhost demos, or behind a TLS \
                 terminator on the same host)"
                    .into(),
            ),
            (Some(_), true) => p.push(
                "[tls] and server.plain_http = true: choose one (remove plain_http to serve HTTPS)"
                    .into(),
            ),
            _ => {}
        }
        if let Some(t) = &self.tls {
            if !self.server.public_origin.starts_with("https://") {
                p.push(format!(
                    "server.public_origin {:?}: [tls] needs an https:// origin",
                    self.server.public_origin
                ));
            }
            for (k, f) in [
                ("tls.cert_file", &t.cert_file),
                ("tls.key_file", &t.key_file),
            ] {
                let f = self.resolve(f);
                if !f.is_file() {
                    p.push(format!("{k} {}: no such file", f.display()));
                }
            }
            if !(1..=3600).contains(&t.reload_secs) {
                p.push("tls.reload_secs: between 1 and 3600".into());
            }
            if let Some(r) = &t.redirect_listen
                && r.parse::<std::net::SocketAddr>().is_err()
            {
                p.push(format!(
                    "tls.redirect_listen {r:?}: not an address like 0.0.0.0:80"
                ));
            }
            if !t.hsts.is_empty()
                && (!t.hsts.starts_with("max-age=")
                    || !t.hsts.bytes().all(|b| (b' '..=b'~').contains(&b)))
            {
                p.push(format!(
                    "tls.hsts {:?}: \"max-age=SECONDS[; includeSubDomains][; preload]\" or \"\"",
                    t.hsts
                ));
            }
        }
        if self.server.workers > 256 {
            p.push("server.workers: at most 256 (0 = one multi-threaded runtime)".into());
        }
        if self.server.drain_secs > 3600 {
            p.push("server.drain_secs: at most 3600".into());
        }
        if self.server.max_connections == 0 {
            p.push("server.max_connections: at least 1".into());
        }
        if !(1..=3600).contains(&self.server.send_timeout_secs) {
            p.push("server.send_timeout_secs: between 1 and 3600".into());
        }
        if self.server.max_body_bytes < 16 * 1024 || self.server.max_body_bytes > 16 << 20 {
            p.push("server.max_body_bytes: must be between 16384 and 16777216".into());
        }
        let trust = self.resolve(&self.trust.dir);
        if !trust.is_dir() {
            p.push(format!("trust.dir {}: not a directory", trust.display()));
        }
        for prof in &self.purpose.allow_profiles {
            if !["gost2015", "rsa-auth", "rsa-sign", "gost2004"].contains(&prof.as_str()) {
                p.push(format!(
                    "purpose.allow_profiles: unknown profile {prof:?} (gost2015, rsa-auth, rsa-sign, gost2004)"
                ));
            }
        }
        if self.purpose.allow_profiles.is_empty() {
            p.push("purpose.allow_profiles: empty: nobody could log in".into());
        }
        let mode = self.revocation.mode.as_str();
        if mode == "danger-none" {
            if !self.server.plain_http {
                p.push(
                    "revocation.mode = \"danger-none\" is only accepted with plain_http demos"
                        .into(),
                );
            }
        } else if crate::revocation::policy::Mode::from_name(mode).is_none() {
            p.push(format!(
                "revocation.mode {mode:?}: use ocsp-then-crl, ocsp, crl or crl-and-ocsp"
            ));
        } else {
            if mode != "ocsp" && self.revocation.crl.is_empty() {
                p.push(format!(
                    "revocation.mode {mode:?} needs at least one [[revocation.crl]]"
                ));
            }
        }
        if !["sha256", "sha1"].contains(&self.revocation.ocsp_hash.as_str()) {
            p.push(format!(
                "revocation.ocsp_hash {:?}: sha256 or sha1",
                self.revocation.ocsp_hash
            ));
        }
        if let Some(u) = &self.revocation.ocsp_url {
            check_http_url("revocation.ocsp_url", u, &mut p);
        }
        for (i, c) in self.revocation.crl.iter().enumerate() {
            let f = self.resolve(&c.issuer);
            if !f.is_file() {
                p.push(format!(
                    "revocation.crl[{i}].issuer {}: no such file",
                    f.display()
                ));
            }
            check_http_url(&format!("revocation.crl[{i}].url"), &c.url, &mut p);
            if let Some(d) = &c.delta_url {
                check_http_url(&format!("revocation.crl[{i}].delta_url"), d, &mut p);
            }
        }
        match self.session.store.as_str() {
            "embedded" => {}
            "redis" => match &self.session.redis_url {
                Some(u) if u.starts_with("redis://") || u.starts_with("rediss://") => {}
                Some(u) => p.push(format!("session.redis_url {u:?}: expected redis://…")),
                None => p.push("session.store = \"redis\" needs session.redis_url".into()),
            },
            s => p.push(format!("session.store {s:?}: embedded or redis")),
        }
        if !(60..=86_400).contains(&self.session.idle_timeout_secs) {
            p.push("session.idle_timeout_secs: between 60 and 86400".into());
        }
        if !(300..=7 * 86_400).contains(&self.session.absolute_lifetime_secs) {
            p.push("session.absolute_lifetime_secs: between 300 and 604800".into());
        }
        if self.session.idle_timeout_secs > self.session.absolute_lifetime_secs {
            p.push("session.idle_timeout_secs is longer than absolute_lifetime_secs".into());
        }
        if self.session.max_sessions_per_key == 0 {
            p.push("session.max_sessions_per_key: at least 1".into());
        }
        if !(10..=3600).contains(&self.challenge.ttl_secs) {
            p.push("challenge.ttl_secs: between 10 and 3600".into());
        }
        if self.challenge.max_pending_per_client == 0 {
            p.push("challenge.max_pending_per_client: at least 1".into());
        }
        let staff = self.resolve(&self.staff.file);
        if !staff.is_file() {
            p.push(format!("staff.file {}: no such file", staff.display()));
        }
        for (i, m) in self.staff.mapping.iter().enumerate() {
            if m.grant.is_empty() {
                p.push(format!("staff.mapping[{i}].grant: empty"));
            }
            if m.bin.is_none() && m.nca_role.is_none() {
                p.push(format!(
                    "staff.mapping[{i}]: needs bin or nca_role (a rule for everyone is a role in the staff file)"
                ));
            }
            if let Some(b) = &m.bin
                && (b.len() != 12 || !b.bytes().all(|c| c.is_ascii_digit()))
            {
                p.push(format!("staff.mapping[{i}].bin {b:?}: 12 digits"));
            }
            if let Some(r) = &m.nca_role
                && crate::auth::staff::MappingRule::nca_role_from_name(r).is_none()
            {
                p.push(format!(
                    "staff.mapping[{i}].nca_role {r:?}: unknown NCA role"
                ));
            }
        }
        if !["per-record", "batch"].contains(&self.audit.fsync.as_str()) {
            p.push(format!(
                "audit.fsync {:?}: per-record or batch",
                self.audit.fsync
            ));
        }
        if let Some(dir) = self.resolve(&self.audit.file).parent()
            && !dir.as_os_str().is_empty()
            && dir.exists()
            && !dir.is_dir()
        {
            p.push(format!("audit.file: {} is not a directory", dir.display()));
        }
        p.extend(self.route_problems());
        for h in &self.upstream.identity_headers {
            if !IDENTITY_FIELDS.contains(&h.as_str()) {
                p.push(format!(
                    "upstream.identity_headers: unknown field {h:?} ({})",
                    IDENTITY_FIELDS.join(", ")
                ));
            }
        }
        let prefix = &self.upstream.header_prefix;
        if prefix.is_empty()
            || !prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            p.push(format!(
                "upstream.header_prefix {prefix:?}: letters, digits and '-' only"
            ));
        }
        if !["any-staff", "deny"].contains(&self.access.default.as_str()) {
            p.push(format!(
                "access.default {:?}: any-staff or deny",
                self.access.default
            ));
        }
        p.extend(self.access.policy().validate());
        p.extend(self.observability_problems());
        if !(1..=86_400).contains(&self.recheck.ocsp_interval_secs) {
            p.push("recheck.ocsp_interval_secs: between 1 and 86400".into());
        }
        if !(1..=256).contains(&self.recheck.ocsp_concurrency) {
            p.push("recheck.ocsp_concurrency: between 1 and 256".into());
        }
        for a in &self.recheck.webhook_allow {
            if a.parse::<std::net::IpAddr>().is_err() {
                p.push(format!("recheck.webhook_allow {a:?}: not an IP address"));
            }
        }
        if let Some(t) = &self.recheck.webhook_token
            && t.len() < 16
        {
            p.push("recheck.webhook_token: at least 16 characters".into());
        }
        if let Some(f) = &self.admin.api_token_file
            && self.admin.token(self).is_none()
        {
            p.push(format!(
                "admin.api_token_file {}: unreadable or shorter than 32 characters",
                self.resolve(f).display()
            ));
        }
        let nl = &self.login_page.ncalayer_url;
        if !(nl.starts_with("wss://") || nl.starts_with("ws://")) {
            p.push(format!("login_page.ncalayer_url {nl:?}: expected wss://…"));
        }
        p
    }
}

impl Config {
    /// The routes: every `[[route]]`, then `[upstream]` as the default route (prefix `/`),
    /// with defaults filled in. Unvalidated: see [`Config::problems`].
    pub fn routes(&self) -> Vec<RouteSpec> {
        let u = &self.upstream;
        let host = |h: &Option<String>| {
            h.as_deref()
                .or(u.host.as_deref())
                .is_some_and(|h| h == "preserve")
        };
        let mut out: Vec<RouteSpec> = self
            .route
            .iter()
            .map(|r| RouteSpec {
                prefix: r.prefix.clone(),
                name: r.name.clone().unwrap_or_else(|| r.prefix.clone()),
                url: r.url.clone(),
                preserve_host: host(&r.host),
                ca_file: r.ca_file.as_ref().map(|f| self.resolve(f)),
                connect_timeout_secs: r
                    .connect_timeout_secs
                    .or(u.connect_timeout_secs)
                    .unwrap_or(DEFAULT_CONNECT_TIMEOUT_SECS),
                first_byte_timeout_secs: r
                    .first_byte_timeout_secs
                    .or(u.first_byte_timeout_secs)
                    .unwrap_or(DEFAULT_FIRST_BYTE_TIMEOUT_SECS),
                idle_timeout_secs: r
                    .idle_timeout_secs
                    .or(u.idle_timeout_secs)
                    .unwrap_or(DEFAULT_IDLE_TIMEOUT_SECS),
                websocket: r.websocket.or(u.websocket).unwrap_or(false),
            })
            .collect();
        out.push(RouteSpec {
            prefix: "/".into(),
            name: "default".into(),
            url: u.url.clone(),
            preserve_host: host(&None),
            ca_file: u.ca_file.as_ref().map(|f| self.resolve(f)),
            connect_timeout_secs: u
                .connect_timeout_secs
                .unwrap_or(DEFAULT_CONNECT_TIMEOUT_SECS),
            first_byte_timeout_secs: u
                .first_byte_timeout_secs
                .unwrap_or(DEFAULT_FIRST_BYTE_TIMEOUT_SECS),
            idle_timeout_secs: u.idle_timeout_secs.unwrap_or(DEFAULT_IDLE_TIMEOUT_SECS),
            websocket: u.websocket.unwrap_or(false),
        });
        out
    }

    fn route_problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        let u = &self.upstream;
        let mut fields: Vec<RouteFields<'_>> = vec![(
            "upstream".into(),
            &u.host,
            &u.ca_file,
            [
                u.connect_timeout_secs,
                u.first_byte_timeout_secs,
                u.idle_timeout_secs,
            ],
        )];
        for (i, r) in self.route.iter().enumerate() {
            fields.push((
                format!("route[{i}]"),
                &r.host,
                &r.ca_file,
                [
                    r.connect_timeout_secs,
                    r.first_byte_timeout_secs,
                    r.idle_timeout_secs,
                ],
            ));
        }
        let urls = std::iter::once(&u.url).chain(self.route.iter().map(|r| &r.url));
        for ((field, host, ca, timeouts), url) in fields.iter().zip(urls) {
            let scheme = upstream_url_problem(url);
            match &scheme {
                Err(e) => p.push(format!("{field}.url {url:?}: {e}")),
                Ok(s) if s == "https" => match ca {
                    None => p.push(format!(
                        "{field}.url {url:?} is https: set {field}.ca_file (the CA the upstream's certificate chains to)"
                    )),
                    Some(f) => {
                        let f = self.resolve(f);
                        if !f.is_file() {
                            p.push(format!("{field}.ca_file {}: no such file", f.display()));
                        }
                    }
                },
                Ok(_) => {
                    if ca.is_some() {
                        p.push(format!(
                            "{field}.ca_file is set but {field}.url {url:?} is plain http"
                        ));
                    }
                }
            }
            if let Some(h) = host
                && h != "preserve"
                && h != "rewrite"
            {
                p.push(format!("{field}.host {h:?}: preserve or rewrite"));
            }
            for (name, t) in [
                "connect_timeout_secs",
                "first_byte_timeout_secs",
                "idle_timeout_secs",
            ]
            .iter()
            .zip(timeouts)
            {
                if let Some(t) = t
                    && !(1..=86_400).contains(t)
                {
                    p.push(format!("{field}.{name}: between 1 and 86400"));
                }
            }
        }
        let mut seen: Vec<&str> = vec!["/"];
        let mut names: Vec<String> = vec!["default".into()];
        for (i, r) in self.route.iter().enumerate() {
            let pre = r.prefix.as_str();
            if !pre.starts_with('/') {
                p.push(format!("route[{i}].prefix {pre:?}: must start with /"));
            }
            if pre == "/eds" || pre.starts_with("/eds/") {
                p.push(format!(
                    "route[{i}].prefix {pre:?}: /eds/ belongs to the gateway"
                ));
            }
            if pre.contains(['?', '#', '*', ' ', '\\'])
                || pre.contains("//")
                || pre.contains("/../")
            {
                p.push(format!(
                    "route[{i}].prefix {pre:?}: a plain path (no ?, #, *, //, ..)"
                ));
            }
            if seen.contains(&pre) {
                p.push(if pre == "/" {
                    format!("route[{i}].prefix \"/\": that is [upstream], the default route")
                } else {
                    format!("route[{i}].prefix {pre:?}: duplicate prefix")
                });
            }
            seen.push(pre);
            let name = r.name.clone().unwrap_or_else(|| r.prefix.clone());
            if name.is_empty()
                || name.len() > 64
                || name.chars().any(|c| c.is_control() || c == '"')
            {
                p.push(format!(
                    "route[{i}].name {name:?}: 1-64 printable characters"
                ));
            }
            if names.contains(&name) {
                p.push(format!("route[{i}].name {name:?}: duplicate route name"));
            }
            names.push(name);
        }
        p
    }

    /// Problems of `[assertion]`, `[metrics]` and `[log]`.
    fn observability_problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        let a = &self.assertion;
        if !(10..=3600).contains(&a.ttl_secs) {
            p.push("assertion.ttl_secs: between 10 and 3600".into());
        }
        if a.renew_before_secs < 0 || a.renew_before_secs >= a.ttl_secs {
            p.push("assertion.renew_before_secs: at least 0 and less than ttl_secs".into());
        }
        if a.aud.is_empty() {
            p.push("assertion.aud: empty".into());
        }
        for c in &a.claims {
            if !super::assertion::OPTIONAL_CLAIMS.contains(&c.as_str()) {
                p.push(format!(
                    "assertion.claims: unknown claim {c:?} ({})",
                    super::assertion::OPTIONAL_CLAIMS.join(", ")
                ));
            }
        }
        let key = self.resolve(&a.key_file);
        if a.enabled
            && key.exists()
            && let Err(e) = std::fs::read(&key)
                .map_err(|e| super::assertion::KeyError::Io {
                    path: key.clone(),
                    detail: e.to_string(),
                })
                .and_then(|b| super::assertion::AssertionKey::from_pkcs8(&b, &key))
        {
            p.push(e.to_string());
        }
        for ip in &self.metrics.allow {
            if ip.parse::<std::net::IpAddr>().is_err() {
                p.push(format!("metrics.allow: {ip:?} is not an IP address"));
            }
        }
        if let Some(t) = &self.metrics.token
            && t.len() < 16
        {
            p.push("metrics.token: at least 16 characters".into());
        }
        if !["json", "text"].contains(&self.log.format.as_str()) {
            p.push(format!("log.format {:?}: json or text", self.log.format));
        }
        if !["error", "warn", "info", "debug", "trace"].contains(&self.log.level.as_str()) {
            p.push(format!(
                "log.level {:?}: error, warn, info, debug or trace",
                self.log.level
            ));
        }
        p
    }
}

/// What [`Config::route_problems`] checks of `[upstream]` and each `[[route]]`: the field
/// name, `host`, `ca_file`, and the three timeouts.
type RouteFields<'a> = (
    String,
    &'a Option<String>,
    &'a Option<PathBuf>,
    [Option<u64>; 3],
);

/// The scheme of an upstream URL (`http` or `https`), or what is wrong with it.
pub fn upstream_url_problem(u: &str) -> Result<String, String> {
    let url = reqwest::Url::parse(u).map_err(|e| e.to_string())?;
    let scheme = url.scheme();
    if scheme != "http" && scheme != "https" {
        return Err("expected an http:// or https:// URL".into());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("no host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("no user:password@ in upstream URLs".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("no ?query or #fragment in upstream URLs".into());
    }
    Ok(scheme.to_string())
}

/// `scheme://host[:port]` with nothing after it, lowercased; `None` if not an origin.
pub fn parse_origin(s: &str) -> Option<String> {
    let (scheme, rest) = s.split_once("://")?;
    if !(scheme == "http" || scheme == "https") || rest.is_empty() || rest.contains('/') {
        return None;
    }
    if rest.contains(['?', '#', '@', ' ']) {
        return None;
    }
    Some(format!("{scheme}://{}", rest.to_ascii_lowercase()))
}

fn check_http_url(field: &str, u: &str, p: &mut Vec<String>) {
    match reqwest::Url::parse(u) {
        Ok(url) if url.scheme() == "http" || url.scheme() == "https" => {}
        _ => p.push(format!("{field} {u:?}: expected an http(s) URL")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_parsing_refuses_paths_and_userinfo() {
        assert_eq!(
            parse_origin("https://MIS.example.kz").as_deref(),
            Some("https://mis.example.kz")
        );
        assert_eq!(parse_origin("https://a/b"), None);
        assert_eq!(parse_origin("https://u@a"), None);
        assert_eq!(parse_origin("ftp://a"), None);
    }

    fn server_problems(extra: &str) -> Vec<String> {
        let text = format!(
            "[server]\nlisten = \"127.0.0.1:8443\"\npublic_origin = \"http://127.0.0.1:8443\"\n\
             plain_http = true\n{extra}\n[trust]\ndir = \"certs\"\n[staff]\nfile = \"staff.csv\"\n\
             [audit]\nfile = \"audit.jsonl\"\n[upstream]\nurl = \"http://127.0.0.1:9000\"\n"
        );
        let cfg: Config = toml::from_str(&text).expect("parses");
        cfg.problems()
            .into_iter()
            .filter(|p| p.starts_with("server."))
            .collect()
    }

    #[test]
    fn the_send_timeout_defaults_to_a_minute_and_must_be_one_second_to_an_hour() {
        let cfg: Config = toml::from_str(
            "[server]\nlisten = \"127.0.0.1:8443\"\npublic_origin = \"http://x\"\n\
             [trust]\ndir = \"c\"\n[staff]\nfile = \"s\"\n[audit]\nfile = \"a\"\n\
             [upstream]\nurl = \"http://127.0.0.1:9000\"\n",
        )
        .expect("parses");
        assert_eq!(cfg.server.send_timeout_secs, 60);
        assert!(server_problems("send_timeout_secs = 30").is_empty());
        for bad in ["send_timeout_secs = 0", "send_timeout_secs = 3601"] {
            assert_eq!(
                server_problems(bad),
                vec!["server.send_timeout_secs: between 1 and 3600".to_string()],
                "{bad}"
            );
        }
    }
}

//! The proof type: a [`LoginProof`] can only be made by [`crate::auth::login`] after every
//! check passed, and a session can only be created from one ([`NewSession`]).

use crate::session::{Identity, Session};

/// What a successful signature login proved. No public constructor.
#[derive(Debug, Clone)]
pub struct LoginProof {
    identity: Identity,
    cert_der: Vec<u8>,
}

impl LoginProof {
    /// Only the login module makes proofs.
    pub(in crate::auth) fn new(identity: Identity, cert_der: Vec<u8>) -> LoginProof {
        LoginProof { identity, cert_der }
    }

    /// Who logged in.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The login certificate, DER.
    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// Turns the proof into a session record (consumes it: one proof, one session).
    #[allow(clippy::too_many_arguments)]
    pub fn into_session(
        self,
        token_hash: String,
        sid: String,
        now: i64,
        idle_timeout_secs: i64,
        absolute_lifetime_secs: i64,
        ip: String,
        user_agent: String,
        csrf: String,
    ) -> NewSession {
        NewSession(Session {
            token_hash,
            sid,
            identity: self.identity,
            cert_der: self.cert_der,
            created: now,
            last_seen: now,
            idle_timeout_secs,
            absolute_expiry: now.saturating_add(absolute_lifetime_secs),
            ip,
            user_agent: user_agent.chars().take(256).collect(),
            csrf,
        })
    }
}

/// A session that a login made; the only thing [`crate::session::Store::create_session`] takes.
#[derive(Debug, Clone)]
pub struct NewSession(Session);

impl NewSession {
    /// The session record.
    pub fn session(&self) -> &Session {
        &self.0
    }

    /// A session outside any login: only for this crate's unit tests and the session-store
    /// benchmark (`--features bench-support`); absent from every normal build.
    #[cfg(any(test, feature = "bench-support"))]
    #[doc(hidden)]
    pub fn for_store_tests(s: Session) -> NewSession {
        NewSession(s)
    }
}

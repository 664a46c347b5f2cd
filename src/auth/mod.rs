//! Signature login: challenges, the login check (CMS over the challenge → path → purpose →
//! revocation → identity → staff directory → block list), and the proof type that is the only
//! way to a session. DESIGN.md "The flow of one login", steps 1–6.
//!
//! * [`challenge`] — issuing the signed text, judging a challenge taken back from the store;
//! * [`trust`] — the trust store (`certs/`): anchors and intermediates;
//! * [`purpose`] — which key profiles may log in (deny by default);
//! * [`staff`] — the staff directory file, mapping rules, reload;
//! * [`login`] — the whole check, ending in a [`proof::LoginProof`];
//! * [`proof`], [`refusal`] — the proof type and the refusal with its reason code.

pub mod access;
pub mod challenge;
pub mod login;
pub mod proof;
pub mod purpose;
pub mod refusal;
pub mod staff;
pub mod trust;

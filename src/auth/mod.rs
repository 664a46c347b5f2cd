//! Signature login: challenges, the login check (CMS over the challenge → path → purpose →
//! revocation → identity → staff directory → block list), and the proof type that is the only
//! way to a session. DESIGN.md "The flow of one login", steps 1–6.

pub mod proof;
pub mod refusal;

//! The emergency block list (issue 8 item 2): IINs and certificate serials whose logins and live
//! sessions are refused at once, whatever OCSP and the CRL say.
//!
//! The entries live in the session store ([`crate::session::Store::block_put`]: a Redis hash, or
//! `blocklist.json` next to the embedded journal); every instance keeps a copy in memory here,
//! reloaded on a `block_added`/`block_removed` store event and every 30 s (a lost event costs at
//! most that long on a *new* login; live sessions are evicted by the instance that took the
//! block). Pure parts (normalisation, matching) have no I/O.

use std::collections::BTreeMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::session::{BlockEntry, Identity, Store, StoreError};

/// Why an entry could not be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryError {
    /// Neither or both of IIN and serial.
    NeedOneKey,
    /// The IIN is not 12 digits.
    BadIin,
    /// The serial is not hex (colons and spaces allowed) or longer than 40 bytes.
    BadSerial,
    /// The reason is empty or longer than 500 characters.
    BadReason,
}

impl EntryError {
    /// Stable reason code (every variant is `admin_bad_input` for the person; the detail says
    /// which).
    pub fn code(self) -> &'static str {
        "admin_bad_input"
    }

    /// What was wrong, for the operator.
    pub fn detail(self) -> &'static str {
        match self {
            EntryError::NeedOneKey => "give exactly one of iin or serial",
            EntryError::BadIin => "iin: 12 digits",
            EntryError::BadSerial => {
                "serial: hex digits (colons and spaces allowed), at most 40 bytes"
            }
            EntryError::BadReason => "reason: 1 to 500 characters",
        }
    }
}

/// A serial as the block list and [`Identity::cert_serial`] compare it: lowercase hex without
/// separators and leading zeros (`"00:AB cd"` → `"abcd"`). `None` if not hex.
pub fn normalize_serial(s: &str) -> Option<String> {
    let hex: String = s
        .chars()
        .filter(|c| !matches!(c, ':' | ' ' | '-'))
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if hex.is_empty() || hex.len() > 80 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let t = hex.trim_start_matches('0');
    Some(if t.is_empty() { "0".into() } else { t.into() })
}

/// The (kind, value) key of a request naming an IIN or a serial.
pub fn key_of(
    iin: Option<&str>,
    serial: Option<&str>,
) -> Result<(&'static str, String), EntryError> {
    match (iin.map(str::trim), serial.map(str::trim)) {
        (Some(i), None) => {
            if i.len() == 12 && i.bytes().all(|b| b.is_ascii_digit()) {
                Ok(("iin", i.to_string()))
            } else {
                Err(EntryError::BadIin)
            }
        }
        (None, Some(s)) => normalize_serial(s)
            .map(|v| ("serial", v))
            .ok_or(EntryError::BadSerial),
        _ => Err(EntryError::NeedOneKey),
    }
}

/// A new entry (validated).
pub fn new_entry(
    iin: Option<&str>,
    serial: Option<&str>,
    reason: &str,
    by: &str,
    at: i64,
) -> Result<BlockEntry, EntryError> {
    let (kind, value) = key_of(iin, serial)?;
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(EntryError::BadReason);
    }
    Ok(BlockEntry {
        kind: kind.into(),
        value,
        reason: reason.chars().filter(|c| !c.is_control()).collect(),
        by: by.chars().take(200).collect(),
        at,
    })
}

/// Whether `e` covers `id`.
pub fn covers(e: &BlockEntry, id: &Identity) -> bool {
    match e.kind.as_str() {
        "iin" => e.value == id.iin,
        "serial" => normalize_serial(&id.cert_serial).is_some_and(|s| s == e.value),
        _ => false,
    }
}

/// The in-memory copy of the block list.
#[derive(Default)]
pub struct BlockList {
    entries: RwLock<BTreeMap<String, BlockEntry>>,
    loaded: AtomicBool,
}

impl BlockList {
    /// The entry that blocks `id`, if any (an IIN entry first).
    pub fn find(&self, id: &Identity) -> Option<BlockEntry> {
        let m = self
            .entries
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let by_iin = m.get(&format!("iin:{}", id.iin));
        let by_serial =
            normalize_serial(&id.cert_serial).and_then(|s| m.get(&format!("serial:{s}")));
        by_iin.or(by_serial).cloned()
    }

    /// Every entry, oldest first.
    pub fn list(&self) -> Vec<BlockEntry> {
        let m = self
            .entries
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut v: Vec<BlockEntry> = m.values().cloned().collect();
        v.sort_by_key(|a| (a.at, a.key()));
        v
    }

    /// Replaces the copy.
    pub fn replace(&self, list: Vec<BlockEntry>) {
        let m: BTreeMap<String, BlockEntry> = list.into_iter().map(|e| (e.key(), e)).collect();
        *self
            .entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = m;
        self.loaded.store(true, Ordering::SeqCst);
    }

    /// Adds one entry to the copy (after the store took it).
    pub fn insert(&self, e: BlockEntry) {
        self.entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(e.key(), e);
    }

    /// Removes one entry from the copy.
    pub fn remove(&self, key: &str) {
        self.entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(key);
    }

    /// Reloads the copy from the store.
    pub async fn reload(&self, store: &dyn Store) -> Result<(), StoreError> {
        let list = store.block_list().await?;
        self.replace(list);
        Ok(())
    }

    /// Loads the copy once (before the first login is judged). `Err` if it never loaded: the
    /// caller refuses the login (deny by default).
    pub async fn ensure_loaded(&self, store: &dyn Store) -> Result<(), StoreError> {
        if self.loaded.load(Ordering::SeqCst) {
            return Ok(());
        }
        self.reload(store).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(iin: &str, serial: &str) -> Identity {
        Identity {
            iin: iin.into(),
            name: "N".into(),
            bin: None,
            org: None,
            roles: vec![],
            cert_serial: serial.into(),
            cert_issuer: "CN=CA".into(),
            key_id: "k".into(),
            cert_not_after: 0,
        }
    }

    #[test]
    fn serials_compare_without_case_separators_or_leading_zeros() {
        assert_eq!(normalize_serial("00:AB cd").as_deref(), Some("abcd"));
        assert_eq!(normalize_serial("0").as_deref(), Some("0"));
        assert_eq!(normalize_serial("xyz"), None);
        assert_eq!(normalize_serial(""), None);
    }

    #[test]
    fn entries_need_exactly_one_valid_key_and_a_reason() {
        assert_eq!(
            new_entry(None, None, "r", "a", 1),
            Err(EntryError::NeedOneKey)
        );
        assert_eq!(
            new_entry(Some("1"), None, "r", "a", 1),
            Err(EntryError::BadIin)
        );
        assert_eq!(
            new_entry(Some("870412300415"), Some("ab"), "r", "a", 1),
            Err(EntryError::NeedOneKey)
        );
        assert_eq!(
            new_entry(None, Some("AB"), " ", "a", 1),
            Err(EntryError::BadReason)
        );
        let e = new_entry(None, Some("0A:BC"), "lost token", "admin", 5).expect("entry");
        assert_eq!(e.key(), "serial:abc");
    }

    #[test]
    fn a_blocked_iin_or_serial_is_found() {
        let l = BlockList::default();
        l.replace(vec![
            new_entry(Some("870412300415"), None, "lost", "a", 1).expect("e"),
            new_entry(None, Some("0abc"), "stolen", "a", 2).expect("e"),
        ]);
        assert!(l.find(&id("870412300415", "ff")).is_some());
        assert_eq!(
            l.find(&id("111111111111", "ABC")).map(|e| e.reason),
            Some("stolen".to_string())
        );
        assert!(l.find(&id("111111111111", "abd")).is_none());
        l.remove("iin:870412300415");
        assert!(l.find(&id("870412300415", "ff")).is_none());
        assert_eq!(l.list().len(), 1);
    }
}

//! Append-only, hash-chained JSON-lines audit log and its verifier (issue 6 item 6).

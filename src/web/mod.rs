//! Login page, error pages, kk/ru/en messages and embedded static assets (issue 6 item 3).

//! The admin page `/eds/admin` (issue 8 item 3): pure rendering, data in, HTML out.
//!
//! Four panels: live sessions (with a kill button), the block list (add/remove form),
//! revocation health (CRLs, OCSP, re-check passes) and recent audit events (filtered by a plain
//! GET form). No inline script or style: `/eds/static/admin.js` sends the POSTs with the
//! session's CSRF token (read from `<meta name="eds-csrf">`) and reloads; `/eds/static/admin.css`
//! styles it. kk/ru/en.

use std::fmt::Write as _;

use serde_json::Value;

use super::i18n::Lang;
use super::pages::escape;

/// Everything the page shows (JSON values as the admin API returns them).
pub struct AdminView<'a> {
    /// Language.
    pub lang: Lang,
    /// The admin's name.
    pub admin: &'a str,
    /// The session CSRF token.
    pub csrf: &'a str,
    /// `GET /eds/admin/api/sessions` items.
    pub sessions: &'a [Value],
    /// Block list entries.
    pub blocks: &'a [Value],
    /// `GET /eds/admin/api/health`.
    pub health: &'a Value,
    /// Audit records (newest first), already filtered.
    pub audit: &'a [Value],
    /// The audit filter as given.
    pub filter_event: &'a str,
    /// The audit filter as given.
    pub filter_iin: &'a str,
}

fn t(lang: Lang, key: &str) -> &'static str {
    let [kk, ru, en] = match key {
        "title" => [
            "Шлюз әкімшісі",
            "Администрирование шлюза",
            "Gateway administration",
        ],
        "signed_in" => ["Кірген:", "Вы вошли как", "Signed in as"],
        "sessions" => ["Белсенді сеанстар", "Активные сеансы", "Live sessions"],
        "who" => ["Кім", "Кто", "Who"],
        "since" => ["Басталды", "Начало", "Since"],
        "last_seen" => ["Соңғы белсенділік", "Последняя активность", "Last seen"],
        "ip" => ["IP", "IP", "IP"],
        "cert_expiry" => [
            "Сертификат мерзімі",
            "Срок сертификата",
            "Certificate expiry",
        ],
        "serial" => ["Сертификат нөмірі", "Серийный номер", "Serial"],
        "kill" => ["Аяқтау", "Завершить", "Kill"],
        "none" => ["Жоқ", "Нет", "None"],
        "blocks" => ["Бұғаттау тізімі", "Список блокировок", "Block list"],
        "key" => ["Кілт", "Ключ", "Key"],
        "reason" => ["Себебі", "Причина", "Reason"],
        "by" => ["Кім қосты", "Кем добавлено", "By"],
        "when" => ["Қашан", "Когда", "When"],
        "remove" => ["Алып тастау", "Снять", "Remove"],
        "add_block" => ["Бұғаттау", "Заблокировать", "Block"],
        "iin_or_serial" => [
            "ЖСН (12 цифр) немесе сертификат нөмірі (hex)",
            "ИИН (12 цифр) или серийный номер сертификата (hex)",
            "IIN (12 digits) or certificate serial (hex)",
        ],
        "health" => [
            "Кері қайтару күйі",
            "Состояние проверки отзыва",
            "Revocation health",
        ],
        "crl" => ["CRL", "CRL", "CRL"],
        "age" => ["Жасы (с)", "Возраст (с)", "Age (s)"],
        "next_update" => ["nextUpdate", "nextUpdate", "nextUpdate"],
        "entries" => ["Жазбалар", "Записей", "Entries"],
        "error" => ["Қате", "Ошибка", "Error"],
        "ocsp" => ["OCSP", "OCSP", "OCSP"],
        "last_success" => [
            "Соңғы сәтті жауап",
            "Последний успешный ответ",
            "Last success",
        ],
        "latency" => ["Кідіріс (мс)", "Задержка (мс)", "Latency (ms)"],
        "errors" => ["Қателер", "Ошибки", "Errors"],
        "passes" => ["Тексерулер", "Перепроверки", "Re-check passes"],
        "source" => ["Көзі", "Источник", "Source"],
        "evicted" => ["Шығарылды", "Выселено", "Evicted"],
        "inconclusive" => ["Белгісіз", "Без ответа", "Inconclusive"],
        "audit" => [
            "Соңғы аудит оқиғалары",
            "Последние события аудита",
            "Recent audit events",
        ],
        "event" => ["Оқиға", "Событие", "Event"],
        "filter" => ["Сүзу", "Фильтр", "Filter"],
        "time" => ["Уақыт", "Время", "Time"],
        "details" => ["Толығырақ", "Подробности", "Details"],
        _ => ["?", "?", "?"],
    };
    match lang {
        Lang::Kk => kk,
        Lang::Ru => ru,
        Lang::En => en,
    }
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

fn cell(o: &mut String, text: &str) {
    let _ = write!(o, "<td>{}</td>", escape(text));
}

/// The page.
pub fn admin_page(v: &AdminView<'_>) -> String {
    let l = v.lang;
    let mut o = String::with_capacity(16 * 1024);
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"referrer\" content=\"same-origin\">\n<meta name=\"eds-csrf\" content=\"{}\">\n\
         <title>{}</title>\n<link rel=\"icon\" href=\"/eds/static/favicon.svg\" type=\"image/svg+xml\">\n\
         <link rel=\"stylesheet\" href=\"/eds/static/admin.css\">\n\
         <script src=\"/eds/static/admin.js\" defer></script>\n</head>\n<body>\n<main class=\"adm\">\n",
        l.tag(),
        escape(v.csrf),
        escape(t(l, "title"))
    );
    let _ = writeln!(
        o,
        "<nav class=\"adm-lang\"><a href=\"?lang=kk\">Қазақша</a> <a href=\"?lang=ru\">Русский</a> <a href=\"?lang=en\">English</a></nav>"
    );
    let _ = writeln!(
        o,
        "<h1>{}</h1>\n<p>{} <strong>{}</strong></p>\n<p id=\"adm-status\" class=\"adm-status\" role=\"status\"></p>",
        escape(t(l, "title")),
        escape(t(l, "signed_in")),
        escape(v.admin)
    );

    // Sessions.
    let _ = writeln!(
        o,
        "<section id=\"adm-sessions\"><h2>{} ({})</h2>",
        escape(t(l, "sessions")),
        v.sessions.len()
    );
    o.push_str("<table><thead><tr>");
    for k in [
        "who",
        "since",
        "last_seen",
        "ip",
        "cert_expiry",
        "serial",
        "",
    ] {
        let _ = write!(o, "<th>{}</th>", if k.is_empty() { "" } else { t(l, k) });
    }
    o.push_str("</tr></thead><tbody>\n");
    for x in v.sessions {
        o.push_str("<tr class=\"adm-session\">");
        cell(&mut o, &format!("{} ({})", s(x, "name"), s(x, "iin")));
        cell(&mut o, s(x, "created"));
        cell(&mut o, s(x, "last_seen"));
        cell(&mut o, s(x, "ip"));
        cell(&mut o, s(x, "cert_not_after"));
        cell(&mut o, s(x, "cert_serial"));
        let _ = writeln!(
            o,
            "<td><button type=\"button\" class=\"adm-kill\" data-sid=\"{}\">{}</button></td></tr>",
            escape(s(x, "sid")),
            escape(t(l, "kill"))
        );
    }
    if v.sessions.is_empty() {
        let _ = writeln!(
            o,
            "<tr><td colspan=\"7\">{}</td></tr>",
            escape(t(l, "none"))
        );
    }
    o.push_str("</tbody></table></section>\n");

    // Block list.
    let _ = writeln!(
        o,
        "<section id=\"adm-blocks\"><h2>{} ({})</h2>",
        escape(t(l, "blocks")),
        v.blocks.len()
    );
    o.push_str("<table><thead><tr>");
    for k in ["key", "reason", "by", "when", ""] {
        let _ = write!(o, "<th>{}</th>", if k.is_empty() { "" } else { t(l, k) });
    }
    o.push_str("</tr></thead><tbody>\n");
    for x in v.blocks {
        o.push_str("<tr class=\"adm-block\">");
        cell(&mut o, &format!("{}: {}", s(x, "kind"), s(x, "value")));
        cell(&mut o, s(x, "reason"));
        cell(&mut o, s(x, "by"));
        cell(&mut o, s(x, "when"));
        let _ = writeln!(
            o,
            "<td><button type=\"button\" class=\"adm-unblock\" data-kind=\"{}\" data-value=\"{}\">{}</button></td></tr>",
            escape(s(x, "kind")),
            escape(s(x, "value")),
            escape(t(l, "remove"))
        );
    }
    if v.blocks.is_empty() {
        let _ = writeln!(
            o,
            "<tr><td colspan=\"5\">{}</td></tr>",
            escape(t(l, "none"))
        );
    }
    o.push_str("</tbody></table>\n");
    let _ = writeln!(
        o,
        "<form id=\"adm-block-form\" class=\"adm-form\">\
         <label>{} <input name=\"key\" id=\"adm-block-key\" required maxlength=\"100\" autocomplete=\"off\"></label> \
         <label>{} <input name=\"reason\" id=\"adm-block-reason\" required maxlength=\"500\" autocomplete=\"off\"></label> \
         <button type=\"submit\">{}</button></form></section>",
        escape(t(l, "iin_or_serial")),
        escape(t(l, "reason")),
        escape(t(l, "add_block"))
    );

    // Health.
    let _ = writeln!(
        o,
        "<section id=\"adm-health\"><h2>{}</h2>",
        escape(t(l, "health"))
    );
    o.push_str("<table><thead><tr>");
    for k in ["crl", "age", "next_update", "entries", "error"] {
        let _ = write!(o, "<th>{}</th>", t(l, k));
    }
    o.push_str("</tr></thead><tbody>\n");
    for c in v.health["crls"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
    {
        o.push_str("<tr>");
        cell(&mut o, s(c, "url"));
        cell(
            &mut o,
            &c["age_secs"]
                .as_i64()
                .map(|a| a.to_string())
                .unwrap_or_default(),
        );
        cell(&mut o, s(c, "next_update"));
        cell(
            &mut o,
            &c["entries"]
                .as_u64()
                .map(|a| a.to_string())
                .unwrap_or_default(),
        );
        cell(&mut o, s(c, "error"));
        o.push_str("</tr>\n");
    }
    o.push_str("</tbody></table>\n");
    let oc = &v.health["ocsp"];
    let _ = writeln!(
        o,
        "<p class=\"adm-ocsp\">{}: {} {} · {} {} · {} {}</p>",
        escape(t(l, "ocsp")),
        escape(t(l, "last_success")),
        escape(s(oc, "last_success")),
        escape(t(l, "latency")),
        oc["last_latency_ms"]
            .as_u64()
            .map(|x| x.to_string())
            .unwrap_or_default(),
        escape(t(l, "errors")),
        oc["errors"].as_u64().unwrap_or(0)
    );
    o.push_str("<table><thead><tr>");
    for k in ["passes", "time", "sessions", "evicted", "inconclusive"] {
        let _ = write!(o, "<th>{}</th>", t(l, k));
    }
    o.push_str("</tr></thead><tbody>\n");
    for p in v.health["passes"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
    {
        o.push_str("<tr>");
        cell(&mut o, s(p, "source"));
        cell(&mut o, s(p, "when"));
        for k in ["sessions", "evicted", "inconclusive"] {
            cell(&mut o, &p[k].as_u64().unwrap_or(0).to_string());
        }
        o.push_str("</tr>\n");
    }
    o.push_str("</tbody></table></section>\n");

    // Audit.
    let _ = writeln!(
        o,
        "<section id=\"adm-audit\"><h2>{}</h2>\
         <form method=\"get\" action=\"/eds/admin\" class=\"adm-form\">\
         <input type=\"hidden\" name=\"lang\" value=\"{}\">\
         <label>{} <input name=\"event\" value=\"{}\" maxlength=\"64\"></label> \
         <label>IIN <input name=\"iin\" value=\"{}\" maxlength=\"12\"></label> \
         <button type=\"submit\">{}</button></form>",
        escape(t(l, "audit")),
        l.tag(),
        escape(t(l, "event")),
        escape(v.filter_event),
        escape(v.filter_iin),
        escape(t(l, "filter"))
    );
    o.push_str("<table><thead><tr>");
    for k in ["time", "event", "details"] {
        let _ = write!(o, "<th>{}</th>", t(l, k));
    }
    o.push_str("</tr></thead><tbody>\n");
    for r in v.audit {
        o.push_str("<tr class=\"adm-audit-row\">");
        cell(&mut o, s(r, "ts"));
        cell(&mut o, s(r, "event"));
        let mut d = r.clone();
        if let Value::Object(m) = &mut d {
            for k in ["ts", "event", "seq", "prev", "hash", "instance"] {
                m.remove(k);
            }
        }
        let text: String = d.to_string().chars().take(400).collect();
        let _ = writeln!(o, "<td><code>{}</code></td></tr>", escape(&text));
    }
    o.push_str("</tbody></table></section>\n</main>\n</body>\n</html>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn page_escapes_everything_and_has_no_inline_script() {
        let sessions = vec![json!({"sid": "s1\"", "name": "<b>Ә</b>", "iin": "870412300415"})];
        let blocks = vec![json!({"kind": "iin", "value": "870412300415", "reason": "<script>"})];
        let health = json!({"crls": [], "ocsp": {}, "passes": []});
        let audit = vec![json!({"ts": "t", "event": "login_ok", "x": "</td>"})];
        for lang in [Lang::Kk, Lang::Ru, Lang::En] {
            let html = admin_page(&AdminView {
                lang,
                admin: "A",
                csrf: "c",
                sessions: &sessions,
                blocks: &blocks,
                health: &health,
                audit: &audit,
                filter_event: "\"><x",
                filter_iin: "",
            });
            assert!(!html.contains("<b>Ә"), "{html}");
            assert!(!html.contains("<script>"));
            assert!(!html.contains("</td>\"}"));
            assert!(html.contains("<script src=\"/eds/static/admin.js\" defer></script>"));
            assert_eq!(html.matches("<script").count(), 1);
            assert!(!html.contains(" style="));
        }
    }
}

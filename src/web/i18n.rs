//! Kazakh, Russian and English for people: the language a page is shown in, and a plain
//! message for every reason code the gateway emits (DESIGN.md: "Every refusal has a stable reason
//! code … and a message in kk/ru/en").
//!
//! Messages are written for a nurse at a ward computer, not for an engineer: what happened and
//! what to do next (get a new key, check the computer's clock, ask HR to be added, call IT and
//! give them the code). Many codes of the verification core share one text (a damaged chain is
//! a damaged chain, whichever RFC 5280 check caught it), but the families a person can act on
//! differently stay apart: expired, not yet valid, revoked, status unknown, not from NCA RK,
//! wrong key purpose, unknown/disabled/expired staff, blocked key, NCALayer problems, and faults
//! that are IT's to fix. The code itself is shown beside the text in small print (the login
//! page and [`super::pages::error_page`] do that), so IT can always find the exact cause in the
//! audit log.
//!
//! Terms: ЭЦП / ЭЦҚ (электронная цифровая подпись / электрондық цифрлық қолтаңба), НУЦ РК / ҰКО
//! (the National Certification Authority, pki.gov.kz), ИИН / ЖСН and БИН / БСН (the personal
//! and business identification numbers), ЦОН / ХҚКО (public service centres).
//!
//! # Which language
//! [`Lang::negotiate`]: an explicit choice wins (`?lang=` on the URL, then the `eds_lang`
//! cookie the gateway sets when `?lang=` is used, see [`lang_cookie`]); otherwise the
//! `Accept-Language` header by q-value (RFC 9110 §12.5.4); otherwise Russian. Russian is the
//! default because it is the language most MIS screens and most hospital staff in Kazakhstan
//! work in (and is used officially alongside Kazakh, Constitution art. 7); Kazakh, the state
//! language, is one click away on every page and is chosen whenever the browser prefers it.

use std::fmt;

/// A language of the pages and messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    /// Kazakh (қазақ тілі), the state language.
    Kk,
    /// Russian, the default (see the module documentation).
    #[default]
    Ru,
    /// English.
    En,
}

/// Name of the cookie that remembers an explicit language choice.
pub const LANG_COOKIE: &str = "eds_lang";

/// At most this many `Accept-Language` entries are looked at (a header is attacker-controlled;
/// real browsers send fewer than ten).
const MAX_ACCEPT_ENTRIES: usize = 32;

/// Longest `Accept-Language` value considered; longer ones are cut here (RFC 9110 sets no
/// limit; browsers send well under 200 bytes).
const MAX_ACCEPT_LEN: usize = 1024;

impl Lang {
    /// All languages, in the order the language switch shows them (state language first).
    pub const ALL: [Lang; 3] = [Lang::Kk, Lang::Ru, Lang::En];

    /// The BCP 47 tag (`kk`, `ru`, `en`): `<html lang>`, `?lang=`, NCALayer's `locale`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Kk => "kk",
            Lang::Ru => "ru",
            Lang::En => "en",
        }
    }

    /// The language's own name, for the switch.
    pub fn native_name(self) -> &'static str {
        match self {
            Lang::Kk => "Қазақша",
            Lang::Ru => "Русский",
            Lang::En => "English",
        }
    }

    /// Parses a language tag: `kk`, `ru`, `en`, with any region (`kk-KZ`, `ru-KZ`, `en-GB`),
    /// case-insensitive. `kz` is taken as Kazakh: it is not a language code, but Kazakh sites
    /// and some configurations use it (NCALayer's own `changeLocale` accepts it).
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let tag = tag.trim();
        let primary = tag.split(['-', '_']).next().unwrap_or("");
        if primary.eq_ignore_ascii_case("kk") || primary.eq_ignore_ascii_case("kz") {
            Some(Lang::Kk)
        } else if primary.eq_ignore_ascii_case("ru") {
            Some(Lang::Ru)
        } else if primary.eq_ignore_ascii_case("en") {
            Some(Lang::En)
        } else {
            None
        }
    }

    /// The best of our languages by an `Accept-Language` header (RFC 9110 §12.5.4): highest
    /// q-value wins, ties go to the earlier entry; `q=0` means "not this one"; `*` and other
    /// languages are ignored. `None` when nothing matches.
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        let header = truncate(header, MAX_ACCEPT_LEN);
        let mut best: Option<(u16, Lang)> = None;
        for entry in header.split(',').take(MAX_ACCEPT_ENTRIES) {
            let mut parts = entry.split(';');
            let Some(lang) = Lang::from_tag(parts.next().unwrap_or("")) else {
                continue;
            };
            let mut q = 1000u16;
            for p in parts {
                if let Some(v) = p
                    .trim()
                    .strip_prefix("q=")
                    .or_else(|| p.trim().strip_prefix("Q="))
                {
                    q = parse_qvalue(v).unwrap_or(0);
                }
            }
            if q == 0 {
                continue;
            }
            if best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map(|(_, l)| l)
    }

    /// The page language: `explicit` (`?lang=`), then the `eds_lang` cookie, then
    /// `Accept-Language`, then Russian. Values that are not one of our languages are skipped.
    pub fn negotiate(
        explicit: Option<&str>,
        cookie: Option<&str>,
        accept_language: Option<&str>,
    ) -> Lang {
        explicit
            .and_then(Lang::from_tag)
            .or_else(|| cookie.and_then(Lang::from_tag))
            .or_else(|| accept_language.and_then(Lang::from_accept_language))
            .unwrap_or_default()
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.tag())
    }
}

/// The `Set-Cookie` value that remembers an explicit language choice for a year. Not a secret,
/// so readable by scripts is fine; `Secure` is left to the caller's choice (`secure`) because
/// the same value serves plain-HTTP test servers.
pub fn lang_cookie(lang: Lang, secure: bool) -> String {
    let mut c = format!(
        "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
        lang.tag()
    );
    if secure {
        c.push_str("; Secure");
    }
    c
}

/// RFC 9110 §12.4.2 qvalue, in thousandths.
fn parse_qvalue(v: &str) -> Option<u16> {
    let v = v.trim();
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole = match int {
        "0" => 0u16,
        "1" => 1000,
        _ => return None,
    };
    let mut thousandths = 0u16;
    for (i, b) in frac.bytes().enumerate() {
        let digit = u16::from(b - b'0');
        thousandths += digit * [100, 10, 1][i];
    }
    let q = whole + thousandths;
    (q <= 1000).then_some(q)
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// One text in three languages.
struct Text {
    kk: &'static str,
    ru: &'static str,
    en: &'static str,
}

impl Text {
    fn get(&self, lang: Lang) -> &'static str {
        match lang {
            Lang::Kk => self.kk,
            Lang::Ru => self.ru,
            Lang::En => self.en,
        }
    }
}

// ---- Certificate: time and revocation -------------------------------------------------------

const CERT_EXPIRED: Text = Text {
    kk: "ЭЦҚ сертификатыңыздың қолданылу мерзімі өтіп кеткен. Жаңа ЭЦҚ кілтін алыңыз (egov.kz порталында немесе ХҚКО-да) және сонымен кіріңіз.",
    ru: "Срок действия вашего сертификата ЭЦП истёк. Получите новый ключ ЭЦП (на egov.kz или в ЦОН) и войдите с ним.",
    en: "Your EDS certificate has expired. Get a new EDS key (at egov.kz or a public service centre) and sign in with it.",
};

const CERT_NOT_YET_VALID: Text = Text {
    kk: "ЭЦҚ сертификатыңыз әлі күшіне енбеген. Компьютердегі күн мен уақытты тексеріңіз; олар дұрыс болса, сертификаттың күшіне енетін күнін күтіңіз.",
    ru: "Ваш сертификат ЭЦП ещё не вступил в силу. Проверьте дату и время на компьютере; если они верны, дождитесь даты начала действия сертификата.",
    en: "Your EDS certificate is not valid yet. Check the date and time on this computer; if they are right, wait until the certificate's start date.",
};

const CERT_REVOKED: Text = Text {
    kk: "ЭЦҚ сертификатыңызды ҰКО кері қайтарған немесе тоқтата тұрған, онымен кіруге болмайды. Егер оны өзіңіз қайтармаған болсаңыз, ҰКО-ға (pki.gov.kz) жүгініп, жаңа кілт алыңыз.",
    ru: "Ваш сертификат ЭЦП отозван или приостановлен НУЦ РК, войти с ним нельзя. Если вы не отзывали его сами, обратитесь в НУЦ РК (pki.gov.kz) и получите новый ключ.",
    en: "Your EDS certificate has been revoked or suspended by NCA RK; it cannot be used to sign in. If you did not revoke it yourself, contact NCA RK (pki.gov.kz) and get a new key.",
};

const REVOCATION_STATUS_UNKNOWN: Text = Text {
    kk: "ҰКО сертификатыңыздың мәртебесін растамады (мәртебесі «белгісіз»), сондықтан онымен кіруге болмайды. ҰКО-ға немесе АТ қызметіне хабарласып, қате кодын айтыңыз.",
    ru: "НУЦ РК не подтвердил статус вашего сертификата (статус «неизвестен»), поэтому войти с ним нельзя. Обратитесь в НУЦ РК или в IT-службу и сообщите код ошибки.",
    en: "NCA RK did not confirm the status of your certificate (status \"unknown\"), so it cannot be used to sign in. Contact NCA RK or IT and give them the error code.",
};

const REVOCATION_UNREACHABLE: Text = Text {
    kk: "Сертификаттардың кері қайтарылуын тексеретін ҰКО қызметі қазір жауап бермей тұр, сондықтан кіру мүмкін емес. Бірнеше минуттан кейін қайталаңыз; ұзаққа созылса, АТ қызметіне хабарлаңыз.",
    ru: "Сервис НУЦ РК для проверки отзыва сертификатов сейчас не отвечает, поэтому войти нельзя. Попробуйте через несколько минут; если это продолжается, сообщите в IT-службу.",
    en: "NCA RK's certificate status service is not answering right now, so you cannot sign in. Try again in a few minutes; if it goes on, tell IT.",
};

const REVOCATION_CRL_STALE: Text = Text {
    kk: "Шлюздегі кері қайтарылған сертификаттар тізімі ескірген, сондықтан сертификатыңызды тексеру мүмкін емес. Бұл сіздің қатеңіз емес: АТ қызметіне қате кодын айтыңыз.",
    ru: "Список отозванных сертификатов на шлюзе устарел, поэтому проверить ваш сертификат невозможно. Это не ваша ошибка: сообщите в IT-службу код ошибки.",
    en: "The gateway's list of revoked certificates is out of date, so your certificate cannot be checked. This is not your fault: give IT the error code.",
};

const REVOCATION_SOFT_FAIL_EXPIRED: Text = Text {
    kk: "Сертификаттардың мәртебесін тексеру қызметі тым ұзақ уақыт қолжетімсіз, шлюз енді тексерусіз кіргізе алмайды. Бұл сіздің қатеңіз емес: АТ қызметіне қате кодын айтыңыз.",
    ru: "Сервис проверки статуса сертификатов недоступен слишком долго, и шлюз больше не может впускать без проверки. Это не ваша ошибка: сообщите в IT-службу код ошибки.",
    en: "The certificate status service has been unavailable for too long, and the gateway can no longer let you in without a check. This is not your fault: give IT the error code.",
};

const REVOCATION_NO_URL: Text = Text {
    kk: "Сертификатыңызда оның мәртебесін қайдан тексеру керектігі көрсетілмеген, ал шлюз мұндай жағдайға бапталмаған. АТ қызметіне қате кодын айтыңыз.",
    ru: "В вашем сертификате не указано, где проверять его статус, а шлюз не настроен на такой случай. Сообщите в IT-службу код ошибки.",
    en: "Your certificate does not say where its status can be checked, and the gateway is not set up for that case. Give IT the error code.",
};

const REVOCATION_INVALID: Text = Text {
    kk: "Шлюз сертификатыңыздың мәртебесі туралы сенімсіз жауап алды. Бұл сіздің қатеңіз емес: АТ қызметіне қате кодын айтыңыз.",
    ru: "Шлюз получил недостоверный ответ о статусе вашего сертификата. Это не ваша ошибка: сообщите в IT-службу код ошибки.",
    en: "The gateway received an untrustworthy answer about your certificate's status. This is not your fault: give IT the error code.",
};

// ---- Certificate: trust, shape, purpose -----------------------------------------------------

const UNTRUSTED_ISSUER: Text = Text {
    kk: "Сертификатыңызды ҰКО емес немесе бұл шлюз сенбейтін куәландырушы орталық берген. ҰКО берген ЭЦҚ кілтімен кіріңіз. Кілтті ҰКО бергеніне сенімді болсаңыз, АТ қызметіне хабарласып, қате кодын айтыңыз.",
    ru: "Ваш сертификат выдан не НУЦ РК или удостоверяющим центром, которому этот шлюз не доверяет. Войдите с ключом ЭЦП, выданным НУЦ РК. Если вы уверены, что ключ выдан НУЦ РК, обратитесь в IT-службу и сообщите код ошибки.",
    en: "Your certificate was not issued by NCA RK, or by an authority this gateway trusts. Sign in with an EDS key issued by NCA RK. If you are sure it was, call IT and give them the error code.",
};

const CERT_DAMAGED: Text = Text {
    kk: "ЭЦҚ сертификатыңыз немесе сертификаттар тізбегі бүлінген не дұрыс құрастырылмаған, сондықтан шлюз оларды тексере алмайды. АТ қызметіне хабарласып, қате кодын айтыңыз.",
    ru: "Ваш сертификат ЭЦП или цепочка сертификатов повреждены или составлены неправильно, поэтому шлюз не может их проверить. Обратитесь в IT-службу и сообщите код ошибки.",
    en: "Your EDS certificate or its certificate chain is damaged or badly formed, so the gateway cannot check it. Call IT and give them the error code.",
};

const WRONG_PURPOSE: Text = Text {
    kk: "Бұл ЭЦҚ кілті жүйеге кіруге арналмаған (мысалы, тек қол қоюға арналған RSA кілті). NCALayer-де басқа кілтті таңдаңыз: ГОСТ 2015 кілтін немесе аутентификация кілтін (AUTH_RSA).",
    ru: "Этот ключ ЭЦП не предназначен для входа в систему (например, это ключ RSA только для подписи). Выберите в NCALayer другой ключ: ключ ГОСТ 2015 или ключ аутентификации (AUTH_RSA).",
    en: "This EDS key is not meant for signing in (for example, an RSA signing-only key). Choose another key in NCALayer: a GOST 2015 key or an authentication key (AUTH_RSA).",
};

const WEAK_OR_UNSUPPORTED_KEY: Text = Text {
    kk: "ЭЦҚ-ның алгоритміне немесе кілтіне қолдау көрсетілмейді не ол ескірген. ҰКО-ның қолданыстағы кілтімен (ГОСТ 2015) кіріңіз. Ондай кілт болмаса, АТ қызметіне хабарласып, қате кодын айтыңыз.",
    ru: "Алгоритм или ключ вашей ЭЦП не поддерживается или устарел. Войдите с действующим ключом НУЦ РК (ГОСТ 2015). Если такого ключа нет, обратитесь в IT-службу и сообщите код ошибки.",
    en: "The algorithm or key of your EDS is not supported or is outdated. Sign in with a current NCA RK key (GOST 2015). If you have none, call IT and give them the error code.",
};

const BAD_SIGNATURE: Text = Text {
    kk: "Қолтаңба тексеруден өтпеді: ол бүлінген немесе жалған. Қайта кіріп көріңіз; қате қайталанса, АТ қызметіне хабарласып, қате кодын айтыңыз.",
    ru: "Подпись не прошла проверку: она повреждена или подделана. Попробуйте войти ещё раз; если ошибка повторяется, обратитесь в IT-службу и сообщите код ошибки.",
    en: "The signature did not verify: it is damaged or forged. Try again; if it happens again, call IT and give them the error code.",
};

const CERT_NO_IIN: Text = Text {
    kk: "Сертификатта ЖСН жоқ — бұл қызметкердің жеке сертификаты емес (мысалы, ұйымның немесе ақпараттық жүйенің сертификаты). Өзіңіздің жеке ЭЦҚ кілтіңізді таңдаңыз.",
    ru: "В сертификате нет ИИН — это не личный сертификат сотрудника (например, сертификат организации или информационной системы). Выберите свой личный ключ ЭЦП.",
    en: "The certificate has no IIN: it is not a personal certificate (for example, an organisation's or an information system's). Choose your personal EDS key.",
};

// ---- The signature (CMS) --------------------------------------------------------------------

const CMS_UNREADABLE: Text = Text {
    kk: "Шлюз NCALayer қайтарған қолтаңбаны оқи алмады. NCALayer-ді жаңартып, қайталап көріңіз; қате қайталанса, АТ қызметіне хабарласып, қате кодын айтыңыз.",
    ru: "Шлюз не смог прочитать подпись, которую вернул NCALayer. Обновите NCALayer и попробуйте ещё раз; если ошибка повторяется, обратитесь в IT-службу и сообщите код ошибки.",
    en: "The gateway could not read the signature NCALayer returned. Update NCALayer and try again; if it happens again, call IT and give them the error code.",
};

const SIGNED_OTHER_DATA: Text = Text {
    kk: "Шлюз осы кіру үшін сұраған деректерге емес, басқа деректерге қол қойылған. Қайта кіріп көріңіз — жаңа сұрауға қол қою ұсынылады.",
    ru: "Подписаны не те данные, которые шлюз запросил для этого входа. Попробуйте войти ещё раз — будет предложено подписать новый запрос.",
    en: "What was signed is not the data the gateway asked for this sign-in. Try again: you will be asked to sign a fresh request.",
};

const CMS_SEVERAL_SIGNERS: Text = Text {
    kk: "Қолтаңбада бірнеше қол қоюшы бар. Кіру үшін тек өз кілтіңізбен қол қойыңыз.",
    ru: "В подписи несколько подписантов. Для входа подпишите только своим ключом.",
    en: "The signature has several signers. To sign in, sign with your own key only.",
};

const CMS_SIGNING_TIME_SKEW: Text = Text {
    kk: "Қол қою уақыты сервер уақытымен сәйкес келмейді. Компьютердегі күнді, уақытты және уақыт белдеуін тексеріп, қайталап көріңіз.",
    ru: "Время подписи не совпадает со временем сервера. Проверьте дату, время и часовой пояс на компьютере и попробуйте ещё раз.",
    en: "The signing time does not match the server's clock. Check this computer's date, time and time zone, then try again.",
};

// ---- Staff directory and block list ---------------------------------------------------------

const STAFF_UNKNOWN: Text = Text {
    kk: "ЖСН-іңіз аурухана қызметкерлерінің тізімінен табылмады. Тізімге қосу үшін кадр бөліміне немесе АТ қызметіне хабарласыңыз.",
    ru: "Ваш ИИН не найден в списке сотрудников больницы. Обратитесь в отдел кадров или в IT-службу, чтобы вас добавили.",
    en: "Your IIN is not in the hospital's staff list. Ask HR or IT to add you.",
};

const STAFF_DISABLED: Text = Text {
    kk: "Жүйеге кіру құқығыңыз өшірілген. Басшыңызға немесе АТ қызметіне хабарласыңыз.",
    ru: "Ваш доступ к системе отключён. Обратитесь к руководителю или в IT-службу.",
    en: "Your access to the system has been switched off. Contact your manager or IT.",
};

const STAFF_EXPIRED: Text = Text {
    kk: "Жүйеге кіру құқығыңыздың мерзімі аяқталды. Ұзарту үшін кадр бөліміне немесе АТ қызметіне хабарласыңыз.",
    ru: "Срок вашего доступа к системе истёк. Обратитесь в отдел кадров или в IT-службу, чтобы его продлили.",
    en: "Your access to the system has expired. Ask HR or IT to extend it.",
};

const STAFF_BIN_MISMATCH: Text = Text {
    kk: "Бұл сертификат басқа ұйымға (басқа БСН) берілген. Осы ауруханаға берілген ЭЦҚ кілтімен немесе жеке кілтіңізбен кіріңіз.",
    ru: "Этот сертификат выдан для другой организации (другой БИН). Войдите с ключом ЭЦП, выданным для этой больницы, или с личным ключом.",
    en: "This certificate was issued for another organisation (a different BIN). Sign in with an EDS key issued for this hospital, or with your personal key.",
};

const KEY_BLOCKED: Text = Text {
    kk: "Бұл ЭЦҚ кілтін аурухана әкімшісі бұғаттаған. АТ қызметіне хабарласыңыз.",
    ru: "Этот ключ ЭЦП заблокирован администратором больницы. Обратитесь в IT-службу.",
    en: "This EDS key has been blocked by the hospital's administrator. Contact IT.",
};

const SESSION_REVOKED: Text = Text {
    kk: "Сеансыңыз аяқталды: ЭЦҚ сертификатыңыз кері қайтарылды. Жаңа кілтпен кіріңіз немесе АТ қызметіне хабарласыңыз.",
    ru: "Ваш сеанс завершён: сертификат ЭЦП отозван. Войдите с новым ключом или обратитесь в IT-службу.",
    en: "Your session was ended: your EDS certificate has been revoked. Log in with a new key or contact IT.",
};

const SESSION_BLOCKED: Text = Text {
    kk: "Сеансыңыз аяқталды: ЭЦҚ кілтіңізді аурухана әкімшісі бұғаттады. АТ қызметіне хабарласыңыз.",
    ru: "Ваш сеанс завершён: ключ ЭЦП заблокирован администратором больницы. Обратитесь в IT-службу.",
    en: "Your session was ended: your EDS key has been blocked by the hospital's administrator. Contact IT.",
};

const ADMIN_ONLY: Text = Text {
    kk: "Бұл бет тек шлюз әкімшілеріне арналған.",
    ru: "Эта страница только для администраторов шлюза.",
    en: "This page is for gateway administrators only.",
};

const ADMIN_BAD_INPUT: Text = Text {
    kk: "Сұрау дұрыс емес: ЖСН (12 цифр) немесе сертификат нөмірін (hex) және себебін көрсетіңіз.",
    ru: "Неверный запрос: укажите ИИН (12 цифр) или серийный номер сертификата (hex) и причину.",
    en: "Invalid request: give an IIN (12 digits) or a certificate serial (hex) and a reason.",
};

const SESSION_NOT_FOUND: Text = Text {
    kk: "Бұл сеанс енді белсенді емес.",
    ru: "Этот сеанс уже не активен.",
    en: "That session is no longer live.",
};

// ---- The login exchange ---------------------------------------------------------------------

const CHALLENGE_UNKNOWN: Text = Text {
    kk: "Кіру сұрауы табылмады немесе бұрын пайдаланылған. Қайта кіріп көріңіз.",
    ru: "Запрос на вход не найден или уже использован. Попробуйте войти ещё раз.",
    en: "The sign-in request was not found or was already used. Please try again.",
};

const CHALLENGE_EXPIRED: Text = Text {
    kk: "Қол қоюға берілген уақыт өтіп кетті. Қайта кіріп, бірден қол қойыңыз.",
    ru: "Время на подпись истекло. Попробуйте войти ещё раз и подпишите без задержки.",
    en: "The time to sign ran out. Try again and sign without delay.",
};

const CHALLENGE_WRONG_BROWSER: Text = Text {
    kk: "Кіру басқа терезеде немесе басқа браузерде басталған, не браузерде cookie өшірілген. Cookie-ге рұқсат беріп, осы терезеде қайта кіріңіз.",
    ru: "Вход был начат в другом окне или браузере, или в браузере отключены cookie. Разрешите cookie и войдите ещё раз в этом окне.",
    en: "The sign-in was started in another window or browser, or cookies are switched off. Allow cookies and sign in again in this window.",
};

const RATE_LIMITED: Text = Text {
    kk: "Кіру әрекеттері тым көп. Бірнеше минут күтіп, қайталап көріңіз.",
    ru: "Слишком много попыток входа. Подождите несколько минут и попробуйте снова.",
    en: "Too many sign-in attempts. Wait a few minutes and try again.",
};

const STALE_PAGE: Text = Text {
    kk: "Кіру беті ескірген немесе сұрау басқа сайттан келген. Кіру бетін жаңартып, қайталап көріңіз.",
    ru: "Страница входа устарела или запрос пришёл с другого сайта. Обновите страницу входа и попробуйте снова.",
    en: "The sign-in page is out of date, or the request came from another site. Reload the sign-in page and try again.",
};

const BAD_REQUEST: Text = Text {
    kk: "Браузер шлюз қабылдай алмайтын сұрау жіберді. Бетті жаңартып, қайталап көріңіз; қате қайталанса, АТ қызметіне хабарласып, қате кодын айтыңыз.",
    ru: "Браузер отправил запрос, который шлюз не может принять. Обновите страницу и попробуйте снова; если ошибка повторяется, обратитесь в IT-службу и сообщите код ошибки.",
    en: "The browser sent a request the gateway cannot accept. Reload the page and try again; if it happens again, call IT and give them the error code.",
};

// ---- Sessions and access --------------------------------------------------------------------

const SESSION_EXPIRED_IDLE: Text = Text {
    kk: "Жүйеде ұзақ уақыт әрекет болмағандықтан, сеанс аяқталды. Қайта кіріңіз.",
    ru: "Вы долго не работали в системе, и сеанс завершён. Войдите снова.",
    en: "Your session ended after a period of inactivity. Please sign in again.",
};

const SESSION_EXPIRED_ABSOLUTE: Text = Text {
    kk: "Сеанс ең ұзақ мерзіміне жетіп, аяқталды. Қайта кіріңіз.",
    ru: "Сеанс достиг максимальной длительности и завершён. Войдите снова.",
    en: "Your session reached its maximum length and has ended. Please sign in again.",
};

const SESSION_ENDED: Text = Text {
    kk: "Сеанс аяқталды (жүйеден шықтыңыз немесе әкімші аяқтады). Қайта кіріңіз.",
    ru: "Сеанс завершён (вы вышли из системы или его завершил администратор). Войдите снова.",
    en: "Your session has ended (you signed out, or an administrator ended it). Please sign in again.",
};

const SESSION_REPLACED: Text = Text {
    kk: "Сіздің ЭЦҚ кілтіңізбен басқа компьютерде немесе басқа браузерде кіру орындалды, сондықтан бұл сеанс аяқталды. Бұл сіз болмасаңыз, дереу АТ қызметіне хабарлаңыз.",
    ru: "С вашим ключом ЭЦП выполнен вход на другом компьютере или в другом браузере, поэтому этот сеанс завершён. Если это были не вы, сразу сообщите в IT-службу.",
    en: "Someone signed in with your EDS key on another computer or browser, so this session has ended. If it was not you, tell IT at once.",
};

const NOT_AUTHENTICATED: Text = Text {
    kk: "Жалғастыру үшін ЭЦҚ арқылы жүйеге кіріңіз.",
    ru: "Чтобы продолжить, войдите в систему с ЭЦП.",
    en: "Please sign in with your EDS to continue.",
};

const FORBIDDEN: Text = Text {
    kk: "Бұл бетке кіру құқығыңыз жоқ. Жұмысыңызға қажет болса, басшыңызға немесе АТ қызметіне хабарласыңыз.",
    ru: "У вас нет доступа к этой странице. Если он нужен для работы, обратитесь к руководителю или в IT-службу.",
    en: "You do not have access to this page. If you need it for your work, ask your manager or IT.",
};

const NOT_FOUND: Text = Text {
    kk: "Мұндай бет жоқ. Мекенжайды тексеріңіз немесе басты бетке оралыңыз.",
    ru: "Такой страницы нет. Проверьте адрес или вернитесь на главную.",
    en: "There is no such page. Check the address or go back to the start page.",
};

// ---- Faults on our side ---------------------------------------------------------------------

const INTERNAL: Text = Text {
    kk: "Кіру шлюзінде техникалық ақау болды. Бірнеше минуттан кейін қайталаңыз; қате қайталанса, АТ қызметіне хабарласып, қате кодын айтыңыз.",
    ru: "Техническая неисправность шлюза входа. Попробуйте через несколько минут; если ошибка повторяется, обратитесь в IT-службу и сообщите код ошибки.",
    en: "A technical fault in the sign-in gateway. Try again in a few minutes; if it happens again, call IT and give them the error code.",
};

const UPSTREAM_UNAVAILABLE: Text = Text {
    kk: "Медициналық ақпараттық жүйе қазір қолжетімсіз. Бірнеше минуттан кейін қайталаңыз; болмаса, АТ қызметіне хабарлаңыз.",
    ru: "Медицинская информационная система сейчас недоступна. Попробуйте через несколько минут; если не получится, сообщите в IT-службу.",
    en: "The medical information system is not available right now. Try again in a few minutes; if that fails, tell IT.",
};

const UPSTREAM_TIMEOUT: Text = Text {
    kk: "Медициналық ақпараттық жүйе уақытында жауап бермеді. Қайталап көріңіз; болмаса, АТ қызметіне хабарлаңыз.",
    ru: "Медицинская информационная система не ответила вовремя. Попробуйте ещё раз; если не получится, сообщите в IT-службу.",
    en: "The medical information system did not answer in time. Try again; if that fails, tell IT.",
};

const NETWORK_ERROR: Text = Text {
    kk: "Кіру шлюзімен байланыс жоқ. Желіге қосылуды тексеріп, қайталап көріңіз.",
    ru: "Нет связи со шлюзом входа. Проверьте подключение к сети и попробуйте снова.",
    en: "The sign-in gateway cannot be reached. Check the network connection and try again.",
};

// ---- NCALayer (reported by the login page's script) ----------------------------------------

/// Where NCALayer is downloaded from (NCA RK's own page).
pub const NCALAYER_DOWNLOAD_URL: &str = "https://pki.gov.kz/ncalayer/";

const NCALAYER_NOT_RUNNING: Text = Text {
    kk: "NCALayer іске қосылмаған немесе қолжетімсіз. NCALayer-ді іске қосыңыз (жүктеп алу: https://pki.gov.kz/ncalayer/), тапсырмалар тақтасында белгішесі пайда болғанын күтіп, қайталап көріңіз.",
    ru: "NCALayer не запущен или недоступен. Запустите NCALayer (скачать: https://pki.gov.kz/ncalayer/), дождитесь его значка на панели задач и попробуйте снова.",
    en: "NCALayer is not running or cannot be reached. Start NCALayer (download: https://pki.gov.kz/ncalayer/), wait for its icon in the taskbar, then try again.",
};

const NCALAYER_CANCELLED: Text = Text {
    kk: "NCALayer-де қол қою тоқтатылды. Кіру үшін қайталап, өз кілтіңізді таңдаңыз. Кілтіңіз тізімде болмаса, басқа сақтау орнын (файл немесе токен) таңдаңыз.",
    ru: "Подписание отменено в NCALayer. Чтобы войти, попробуйте снова и выберите свой ключ. Если вашего ключа не было в списке, выберите другое хранилище (файл или токен).",
    en: "Signing was cancelled in NCALayer. To sign in, try again and choose your key. If your key was not in the list, choose another storage (file or token).",
};

const NCALAYER_NO_KEY: Text = Text {
    kk: "NCALayer сәйкес кілт таппады: токен немесе жеке куәлік қосылмаған, не таңдалған сақтау орнында ЭЦҚ кілті жоқ. Тасығышты қосыңыз немесе басқа сақтау орнын таңдаңыз.",
    ru: "NCALayer не нашёл подходящего ключа: токен или удостоверение личности не подключены, либо в выбранном хранилище нет ключа ЭЦП. Подключите носитель или выберите другое хранилище.",
    en: "NCALayer found no suitable key: no token or ID card is connected, or the chosen storage holds no EDS key. Connect your device or choose another storage.",
};

const NCALAYER_WRONG_PASSWORD: Text = Text {
    kk: "ЭЦҚ кілтінің құпиясөзі қате. Қайталап, кілттің құпиясөзін мұқият енгізіңіз.",
    ru: "Неверный пароль ключа ЭЦП. Попробуйте снова и внимательно введите пароль от ключа.",
    en: "Wrong password for the EDS key. Try again and type the key's password carefully.",
};

const NCALAYER_ERROR: Text = Text {
    kk: "Қол қою кезінде NCALayer қате туралы хабарлады. NCALayer-ді қайта іске қосып, қайталап көріңіз; қате қайталанса, АТ қызметіне хабарласып, қате кодын айтыңыз.",
    ru: "NCALayer сообщил об ошибке при подписании. Перезапустите NCALayer и попробуйте снова; если ошибка повторяется, обратитесь в IT-службу и сообщите код ошибки.",
    en: "NCALayer reported an error while signing. Restart NCALayer and try again; if it happens again, call IT and give them the error code.",
};

/// The codes the login page's own script reports (no server round trip): their messages are
/// passed to the page in `<meta>` tags by [`super::pages::login_page`].
pub const CLIENT_CODES: [&str; 7] = [
    "ncalayer_not_running",
    "ncalayer_cancelled",
    "ncalayer_no_key",
    "ncalayer_wrong_password",
    "ncalayer_error",
    "network_error",
    "internal_error",
];

/// The text for a code, when we have one.
fn lookup(code: &str) -> Option<&'static Text> {
    let t = match code {
        // Certificate validity period (RFC 5280 §4.1.2.5).
        "cert_expired" => &CERT_EXPIRED,
        "cert_not_yet_valid" => &CERT_NOT_YET_VALID,

        // Revocation verdicts (src/revocation/policy.rs, src/pki/revocation.rs).
        "cert_revoked" => &CERT_REVOKED,
        "revocation_status_unknown" => &REVOCATION_STATUS_UNKNOWN,
        "revocation_unreachable" | "revocation_try_later" => &REVOCATION_UNREACHABLE,
        "revocation_crl_stale" => &REVOCATION_CRL_STALE,
        "revocation_soft_fail_expired" => &REVOCATION_SOFT_FAIL_EXPIRED,
        "revocation_no_url" => &REVOCATION_NO_URL,
        "revocation_invalid_response" => &REVOCATION_INVALID,
        // Broken revocation evidence (src/pki/crl.rs, src/pki/ocsp.rs through
        // PathError::Revocation): untrustworthy answers, IT's to look at.
        "crl_bad_entry"
        | "crl_bad_extension"
        | "crl_bad_signature"
        | "crl_bad_version"
        | "crl_delta_without_base"
        | "crl_duplicate_extension"
        | "crl_extension_wrongly_critical"
        | "crl_issuer_missing_crl_sign"
        | "crl_malformed"
        | "crl_next_update_missing"
        | "crl_not_yet_valid"
        | "crl_number_missing"
        | "crl_remove_from_crl_in_complete_crl"
        | "crl_signature_algorithm_mismatch"
        | "crl_signature_not_verified"
        | "crl_too_large"
        | "crl_too_many_elements"
        | "crl_unhandled_critical_extension"
        | "ocsp_bad_embedded_certificate"
        | "ocsp_bad_signature"
        | "ocsp_certid_mismatch"
        | "ocsp_expired"
        | "ocsp_issuer_mismatch"
        | "ocsp_malformed"
        | "ocsp_malformed_request"
        | "ocsp_no_matching_response"
        | "ocsp_nonce_mismatch"
        | "ocsp_nonce_missing"
        | "ocsp_not_yet_valid"
        | "ocsp_over_budget"
        | "ocsp_sig_required"
        | "ocsp_too_large"
        | "ocsp_too_old"
        | "ocsp_unauthorized_responder"
        | "ocsp_unknown_critical_extension"
        | "ocsp_unknown_response_status"
        | "ocsp_unsupported_certid_hash"
        | "ocsp_unsupported_response_type"
        | "ocsp_unsupported_version" => &REVOCATION_INVALID,
        "crl_stale" => &REVOCATION_CRL_STALE,
        // The responder itself said it cannot answer now (RFC 6960 §2.3).
        "ocsp_try_later" | "ocsp_internal_error" => &REVOCATION_UNREACHABLE,
        "ocsp_unauthorized" => &REVOCATION_STATUS_UNKNOWN,

        // Not from NCA RK or a CA we trust (RFC 5280 §6.1: no path to a trust anchor, or a
        // path that breaks the CA's own rules: name constraints, policies, CA flags).
        "unknown_issuer"
        | "anchor_key_id_mismatch"
        | "issuer_not_ca"
        | "issuer_key_cert_sign_missing"
        | "name_constraints_violation"
        | "no_acceptable_policy"
        | "path_len_exceeded" => &UNTRUSTED_ISSUER,
        // A certificate or chain that does not parse or is badly formed.
        "cert_malformed"
        | "cert_bad_extension"
        | "cert_bad_version"
        | "cert_duplicate_extension"
        | "cert_signature_algorithm_mismatch"
        | "cert_too_large"
        | "signature_algorithm_mismatch"
        | "unsupported_certificate_version"
        | "key_cert_sign_without_ca"
        | "max_depth_exceeded"
        | "unhandled_critical_extension"
        | "extension_must_not_be_critical"
        | "missing_authority_key_id"
        | "missing_subject_key_id"
        | "empty_name"
        | "bad_subject_alt_name"
        | "invalid_subject_alt_name"
        | "name_constraints_in_end_entity"
        | "name_constraints_invalid"
        | "any_policy_mapping"
        | "policy_tree_too_large"
        | "budget_exceeded" => &CERT_DAMAGED,
        // Key usage / EKU / the gateway's purpose policy (RFC 5280 §4.2.1.3, §4.2.1.12).
        "required_eku_missing"
        | "empty_extended_key_usage"
        | "required_key_usage_missing"
        | "cert_purpose_not_allowed" => &WRONG_PURPOSE,
        // Algorithms and keys we refuse or do not implement (src/pki/signature.rs, gost/).
        "unacceptable_public_key"
        | "unsupported_signature_algorithm"
        | "sha1_not_allowed"
        | "key_algorithm_mismatch"
        | "bad_public_key"
        | "rsa_key_too_small"
        | "bad_algorithm_parameters"
        | "gost_bad_public_key"
        | "gost_bad_public_key_length"
        | "gost_bad_private_key"
        | "gost_key_algorithm_mismatch"
        | "gost_missing_key_parameters"
        | "gost_public_key_not_on_curve"
        | "gost_unknown_algorithm"
        | "gost_unknown_digest_parameters"
        | "gost_unknown_parameter_set"
        | "cms_digest_unavailable"
        | "cms_algorithm_mismatch" => &WEAK_OR_UNSUPPORTED_KEY,
        // A signature that does not verify: forged or corrupted.
        "bad_signature"
        | "gost_bad_signature"
        | "gost_bad_signature_length"
        | "gost_signature_out_of_range" => &BAD_SIGNATURE,
        "cert_no_iin" => &CERT_NO_IIN,

        // The CMS from NCALayer (RFC 5652).
        "cms_bad_encoding"
        | "cms_malformed"
        | "cms_not_signed_data"
        | "cms_bad_certificate"
        | "cms_no_content"
        | "cms_no_signers"
        | "cms_too_deep"
        | "cms_too_large"
        | "cms_too_many"
        | "cms_unexpected_pem_label"
        | "cms_unsupported_version"
        | "cms_bad_signed_attribute"
        | "cms_content_type_mismatch"
        | "cms_duplicate_signed_attribute"
        | "cms_missing_signed_attribute"
        | "cms_signed_attributes_required"
        | "cms_signer_certificate_not_found" => &CMS_UNREADABLE,
        "cms_content_mismatch" | "cms_message_digest_mismatch" => &SIGNED_OTHER_DATA,
        "cms_several_signers" => &CMS_SEVERAL_SIGNERS,
        "cms_signing_time_skew" => &CMS_SIGNING_TIME_SKEW,

        // Staff directory and block list.
        "staff_unknown" => &STAFF_UNKNOWN,
        "staff_disabled" => &STAFF_DISABLED,
        "staff_expired" => &STAFF_EXPIRED,
        "staff_bin_mismatch" => &STAFF_BIN_MISMATCH,
        "key_blocked" => &KEY_BLOCKED,
        "session_revoked" => &SESSION_REVOKED,
        "session_blocked" => &SESSION_BLOCKED,
        "admin_only" | "webhook_forbidden" => &ADMIN_ONLY,
        "admin_bad_input" => &ADMIN_BAD_INPUT,
        "session_not_found" => &SESSION_NOT_FOUND,

        // The challenge/login exchange.
        "challenge_unknown" => &CHALLENGE_UNKNOWN,
        "challenge_expired" => &CHALLENGE_EXPIRED,
        "challenge_wrong_browser" => &CHALLENGE_WRONG_BROWSER,
        "challenge_rate_limited" | "login_rate_limited" => &RATE_LIMITED,
        "csrf_failed" | "origin_mismatch" => &STALE_PAGE,
        "body_too_large" | "unsupported_media_type" | "bad_request" => &BAD_REQUEST,

        // Sessions and access.
        "session_expired_idle" => &SESSION_EXPIRED_IDLE,
        "session_expired_absolute" => &SESSION_EXPIRED_ABSOLUTE,
        "session_ended" => &SESSION_ENDED,
        "session_replaced" => &SESSION_REPLACED,
        "not_authenticated" => &NOT_AUTHENTICATED,
        "forbidden" => &FORBIDDEN,
        "not_found" => &NOT_FOUND,

        // Faults on our side or upstream (502/504, STYLE.md "upstream failure is 502/504").
        "store_unavailable"
        | "store_io_error"
        | "store_corrupt"
        | "internal_error"
        | "gost_random_unavailable" => &INTERNAL,
        "upstream_unavailable" => &UPSTREAM_UNAVAILABLE,
        "upstream_timeout" => &UPSTREAM_TIMEOUT,
        "network_error" => &NETWORK_ERROR,

        // NCALayer, as seen by the login page's script.
        "ncalayer_not_running" => &NCALAYER_NOT_RUNNING,
        "ncalayer_cancelled" => &NCALAYER_CANCELLED,
        "ncalayer_no_key" => &NCALAYER_NO_KEY,
        "ncalayer_wrong_password" => &NCALAYER_WRONG_PASSWORD,
        "ncalayer_error" => &NCALAYER_ERROR,
        _ => return None,
    };
    Some(t)
}

/// Whether `code` has its own message (otherwise [`message`] gives the generic one).
pub fn is_known(code: &str) -> bool {
    lookup(code).is_some()
}

/// The message for a reason code, in `lang`. Unknown codes get a generic message that names
/// the code (only if it looks like one: `[a-z0-9_]`, at most 64 characters; anything else is
/// not repeated back).
pub fn message(code: &str, lang: Lang) -> String {
    if let Some(t) = lookup(code) {
        return t.get(lang).to_string();
    }
    let shown = if !code.is_empty()
        && code.len() <= 64
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        code
    } else {
        "?"
    };
    match lang {
        Lang::Kk => {
            format!("Кіру орындалмады (код: {shown}). АТ қызметіне хабарласып, осы кодты айтыңыз.")
        }
        Lang::Ru => {
            format!("Вход не выполнен (код: {shown}). Обратитесь в IT-службу и сообщите этот код.")
        }
        Lang::En => format!("Sign-in failed (code: {shown}). Call IT and give them this code."),
    }
}

/// The login and error pages' own words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Ui {
    /// Page title and heading.
    Title,
    /// One line under the heading.
    Intro,
    /// "Language" (the switch's label).
    Language,
    /// Storage choice legend.
    StorageLegend,
    /// Any storage.
    StorageAny,
    /// A .p12 file.
    StorageFile,
    /// Hardware token or ID card.
    StorageToken,
    /// The sign-in button.
    Submit,
    /// Busy: connecting to NCALayer.
    BusyConnect,
    /// Busy: waiting for the signature.
    BusySign,
    /// Busy: the gateway checks the signature.
    BusyVerify,
    /// Signed in, being redirected.
    Success,
    /// Help line about NCALayer (followed by the download link).
    NcaLayerHelp,
    /// Shown without JavaScript.
    NoScript,
    /// Label before the error code.
    ErrorCode,
    /// Error page heading.
    ErrorTitle,
    /// Link from an error page to the login page.
    BackToLogin,
    /// Logout page heading.
    LogoutTitle,
    /// Logout page text before the name.
    LogoutSignedInAs,
    /// Logout button.
    LogoutButton,
}

/// A page string in `lang`.
pub fn ui(key: Ui, lang: Lang) -> &'static str {
    let t: [&'static str; 3] = match key {
        Ui::Title => ["ЭЦҚ арқылы кіру", "Вход по ЭЦП", "Sign in with EDS"],
        Ui::Intro => [
            "Жүйеге кіру үшін NCALayer арқылы ЭЦҚ кілтіңізбен қол қойыңыз.",
            "Чтобы войти в систему, подпишите вход своим ключом ЭЦП через NCALayer.",
            "To sign in, sign with your EDS key through NCALayer.",
        ],
        Ui::Language => ["Тіл", "Язык", "Language"],
        Ui::StorageLegend => [
            "Кілт қайда сақталған",
            "Где хранится ключ",
            "Where your key is",
        ],
        Ui::StorageAny => ["Кез келген", "Любое хранилище", "Any storage"],
        Ui::StorageFile => [
            "Файл (PKCS#12, .p12)",
            "Файл (PKCS#12, .p12)",
            "File (PKCS#12, .p12)",
        ],
        Ui::StorageToken => [
            "Токен немесе жеке куәлік (KAZTOKEN, eToken, JaCarta, aKey)",
            "Токен или удостоверение личности (KAZTOKEN, eToken, JaCarta, aKey)",
            "Token or ID card (KAZTOKEN, eToken, JaCarta, aKey)",
        ],
        Ui::Submit => ["Қол қойып кіру", "Подписать и войти", "Sign and sign in"],
        Ui::BusyConnect => [
            "NCALayer-ге қосылуда…",
            "Подключение к NCALayer…",
            "Connecting to NCALayer…",
        ],
        Ui::BusySign => [
            "NCALayer терезесінде кілтті таңдап, қол қойыңыз…",
            "Выберите ключ и подпишите в окне NCALayer…",
            "Choose your key and sign in the NCALayer window…",
        ],
        Ui::BusyVerify => [
            "Қолтаңба тексерілуде…",
            "Проверка подписи…",
            "Checking the signature…",
        ],
        Ui::Success => [
            "Кіру орындалды, ашылуда…",
            "Вход выполнен, открываем…",
            "Signed in, opening…",
        ],
        Ui::NcaLayerHelp => [
            "Қол қою үшін NCALayer бағдарламасы іске қосылып тұруы керек. Жүктеп алу:",
            "Для подписи должна быть запущена программа NCALayer. Скачать:",
            "NCALayer must be running to sign. Download:",
        ],
        Ui::NoScript => [
            "Кіру үшін браузерде JavaScript қосулы болуы керек.",
            "Для входа в браузере должен быть включён JavaScript.",
            "JavaScript must be enabled in the browser to sign in.",
        ],
        Ui::ErrorCode => [
            "АТ қызметі үшін қате коды",
            "Код ошибки для IT-службы",
            "Error code for IT",
        ],
        Ui::ErrorTitle => [
            "Жалғастыру мүмкін болмады",
            "Не удалось продолжить",
            "Could not continue",
        ],
        Ui::BackToLogin => ["Кіру бетіне оралу", "Вернуться ко входу", "Back to sign-in"],
        Ui::LogoutTitle => ["Жүйеден шығу", "Выход из системы", "Sign out"],
        Ui::LogoutSignedInAs => ["Сіз жүйедесіз:", "Вы вошли как:", "You are signed in as:"],
        Ui::LogoutButton => ["Шығу", "Выйти", "Sign out"],
    };
    match lang {
        Lang::Kk => t[0],
        Lang::Ru => t[1],
        Lang::En => t[2],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// The gateway's own codes (issue 6), beyond those the core's `fn code()`s return.
    const GATEWAY_CODES: &[&str] = &[
        "challenge_unknown",
        "challenge_expired",
        "challenge_wrong_browser",
        "challenge_rate_limited",
        "cms_content_mismatch",
        "cms_several_signers",
        "cms_signing_time_skew",
        "cert_no_iin",
        "cert_purpose_not_allowed",
        "staff_unknown",
        "staff_disabled",
        "staff_expired",
        "staff_bin_mismatch",
        "key_blocked",
        "session_revoked",
        "session_blocked",
        "admin_only",
        "webhook_forbidden",
        "admin_bad_input",
        "session_not_found",
        "login_rate_limited",
        "csrf_failed",
        "origin_mismatch",
        "body_too_large",
        "unsupported_media_type",
        "bad_request",
        "session_expired_idle",
        "session_expired_absolute",
        "session_ended",
        "session_replaced",
        "not_authenticated",
        "forbidden",
        "not_found",
        "store_unavailable",
        "internal_error",
        "upstream_unavailable",
        "upstream_timeout",
        "ncalayer_not_running",
        "ncalayer_cancelled",
        "ncalayer_no_key",
        "ncalayer_error",
    ];

    /// Source files whose reason codes reach a person. `fn code()` / `fn refusal_code()` bodies
    /// are parsed for `=> "code"`; in the revocation files, verdict literals are added too.
    const SOURCES: &[&str] = &[
        "src/pki/path.rs",
        "src/pki/cms.rs",
        "src/pki/cert.rs",
        "src/pki/policy.rs",
        "src/pki/signature.rs",
        "src/pki/gost/mod.rs",
        "src/pki/crl.rs",
        "src/pki/ocsp.rs",
        "src/pki/revocation.rs",
        "src/revocation/policy.rs",
        "src/session/mod.rs",
    ];

    /// `=> "x"` strings inside the bodies of functions named `name`.
    fn arrow_strings_in_fn(src: &str, name: &str) -> Vec<String> {
        let mut out = Vec::new();
        let needle = format!("fn {name}(");
        let mut rest = src;
        while let Some(at) = rest.find(&needle) {
            let after = &rest[at..];
            let Some(open) = after.find('{') else { break };
            let mut depth = 0usize;
            let mut end = after.len();
            for (i, c) in after[open..].char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            end = open + i;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            out.extend(quoted_after(&after[open..end], "=> \""));
            rest = &after[end..];
        }
        out
    }

    /// Every `"x"` that follows `prefix` (which ends with the opening quote).
    fn quoted_after(s: &str, prefix: &str) -> Vec<String> {
        s.match_indices(prefix)
            .filter_map(|(i, _)| {
                let tail = &s[i + prefix.len()..];
                tail.find('"').map(|j| tail[..j].to_string())
            })
            .collect()
    }

    fn emitted_codes() -> BTreeSet<String> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut codes: BTreeSet<String> = GATEWAY_CODES.iter().map(|s| s.to_string()).collect();
        for f in SOURCES {
            let src = std::fs::read_to_string(root.join(f))
                .unwrap_or_else(|e| panic!("reading {f}: {e}"));
            codes.extend(arrow_strings_in_fn(&src, "code"));
            codes.extend(arrow_strings_in_fn(&src, "refusal_code"));
            if f.contains("revocation") {
                codes.extend(quoted_after(&src, "verdict(false, \""));
                codes.extend(quoted_after(&src, "code: \""));
                // Verdict codes built elsewhere in the file (`refusal_code`, soft-fail), but not
                // JSON keys (`"revocation_time": …`).
                for (i, _) in src.match_indices("\"revocation_") {
                    let lit = &src[i + 1..];
                    let Some(end) = lit.find('"') else { continue };
                    let (word, after) = (&lit[..end], &lit[end + 1..]);
                    if !after.starts_with(':') && !word.contains(' ') {
                        codes.insert(word.to_string());
                    }
                }
            }
        }
        codes
    }

    #[test]
    fn every_emitted_code_has_its_own_text_in_all_three_languages() {
        let codes = emitted_codes();
        // The parser really found the core's codes (guards against a parser that finds nothing).
        for must in [
            "unknown_issuer",
            "cert_revoked",
            "cms_bad_encoding",
            "cert_malformed",
            "revocation_unreachable",
            "revocation_soft_fail_expired",
            "bad_signature",
            "gost_bad_signature",
            "store_corrupt",
        ] {
            assert!(codes.contains(must), "parser missed {must}");
        }
        assert!(codes.len() > 120, "only {} codes parsed", codes.len());
        let mut missing = Vec::new();
        for code in &codes {
            if !is_known(code) {
                missing.push(code.clone());
                continue;
            }
            let [kk, ru, en] = Lang::ALL.map(|l| message(code, l));
            assert!(!kk.is_empty() && !ru.is_empty() && !en.is_empty(), "{code}");
            assert!(
                kk != ru && ru != en && kk != en,
                "{code}: same text in two languages"
            );
            assert!(
                kk.chars().any(|c| "әғқңөұүһі".contains(c)),
                "{code}: Kazakh text has no Kazakh letters: {kk}"
            );
            assert!(
                ru.chars().any(|c| ('а'..='я').contains(&c)),
                "{code}: Russian text is not Cyrillic"
            );
            assert!(en.is_ascii(), "{code}: English text is not ASCII: {en}");
        }
        assert!(missing.is_empty(), "codes without a message: {missing:?}");
    }

    #[test]
    fn codes_a_nurse_acts_on_differently_get_different_texts() {
        let distinct = [
            "cert_expired",
            "cert_not_yet_valid",
            "cert_revoked",
            "revocation_status_unknown",
            "revocation_unreachable",
            "unknown_issuer",
            "cert_malformed",
            "required_eku_missing",
            "staff_unknown",
            "staff_disabled",
            "staff_expired",
            "key_blocked",
            "ncalayer_not_running",
            "ncalayer_cancelled",
            "ncalayer_no_key",
            "ncalayer_error",
            "internal_error",
            "challenge_expired",
        ];
        let texts: BTreeSet<String> = distinct.iter().map(|c| message(c, Lang::Ru)).collect();
        assert_eq!(texts.len(), distinct.len());
    }

    #[test]
    fn unknown_code_gets_a_generic_message_naming_it() {
        for l in Lang::ALL {
            let m = message("brand_new_code", l);
            assert!(m.contains("brand_new_code"), "{m}");
        }
        assert_ne!(
            message("brand_new_code", Lang::Kk),
            message("brand_new_code", Lang::Ru)
        );
        // Not a code: not echoed (it may be attacker text).
        let m = message("<script>alert(1)</script>", Lang::En);
        assert!(!m.contains("script"), "{m}");
        assert!(!is_known("brand_new_code"));
    }

    #[test]
    fn ncalayer_not_running_says_where_to_get_it() {
        for l in Lang::ALL {
            assert!(message("ncalayer_not_running", l).contains(NCALAYER_DOWNLOAD_URL));
        }
    }

    #[test]
    fn accept_language_picks_the_highest_q_of_our_languages() {
        let f = Lang::from_accept_language;
        assert_eq!(f("kk-KZ,kk;q=0.9,ru;q=0.8,en;q=0.5"), Some(Lang::Kk));
        assert_eq!(f("ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7"), Some(Lang::Ru));
        assert_eq!(f("en;q=0.5, kk;q=0.8"), Some(Lang::Kk));
        assert_eq!(f("de-DE,de;q=0.9,en;q=0.3"), Some(Lang::En));
        assert_eq!(f("kk;q=0, ru;q=0.1"), Some(Lang::Ru));
        assert_eq!(f("ru;q=0.5, en;q=0.5"), Some(Lang::Ru), "tie: first wins");
        assert_eq!(f("fr, de, *"), None);
        assert_eq!(f(""), None);
        assert_eq!(f("kz"), Some(Lang::Kk));
        assert_eq!(f("ru;q=2, en"), Some(Lang::En), "an invalid q counts as 0");
        // Huge header: bounded work, no panic.
        let long = "xx;q=0.1,".repeat(10_000) + "kk";
        assert_eq!(f(&long), None);
        let multibyte = "ә".repeat(2000);
        assert_eq!(f(&multibyte), None);
    }

    #[test]
    fn explicit_choice_beats_cookie_beats_accept_language_beats_russian() {
        assert_eq!(
            Lang::negotiate(Some("en"), Some("kk"), Some("ru")),
            Lang::En
        );
        assert_eq!(Lang::negotiate(None, Some("kk"), Some("en")), Lang::Kk);
        assert_eq!(
            Lang::negotiate(Some("zz"), Some("kk"), Some("en")),
            Lang::Kk
        );
        assert_eq!(Lang::negotiate(None, None, Some("en-GB")), Lang::En);
        assert_eq!(Lang::negotiate(None, None, Some("de")), Lang::Ru);
        assert_eq!(Lang::negotiate(None, None, None), Lang::Ru);
    }

    #[test]
    fn language_cookie_is_scoped_and_optionally_secure() {
        assert_eq!(
            lang_cookie(Lang::Kk, true),
            "eds_lang=kk; Path=/; Max-Age=31536000; SameSite=Lax; Secure"
        );
        assert!(!lang_cookie(Lang::Ru, false).contains("Secure"));
    }

    #[test]
    fn page_strings_exist_in_every_language() {
        use Ui::*;
        for k in [
            Title,
            Intro,
            Language,
            StorageLegend,
            StorageAny,
            StorageFile,
            StorageToken,
            Submit,
            BusyConnect,
            BusySign,
            BusyVerify,
            Success,
            NcaLayerHelp,
            NoScript,
            ErrorCode,
            ErrorTitle,
            BackToLogin,
            LogoutTitle,
            LogoutSignedInAs,
            LogoutButton,
        ] {
            for l in Lang::ALL {
                assert!(!ui(k, l).is_empty(), "{k:?} {l}");
            }
            assert_ne!(ui(k, Lang::Ru), ui(k, Lang::En), "{k:?}");
        }
    }
}

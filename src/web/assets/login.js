// eds-gateway login page script (issue 6 item 3). Plain modern JavaScript, no framework, no
// build step; served as /eds/static/login.js under a CSP without 'unsafe-inline'.
//
// Configuration comes from <meta name="eds-…"> tags written by src/web/pages.rs:
//   eds-csrf, eds-ncalayer-url, eds-next, eds-lang, eds-msg-<code> (texts for the codes this
//   script reports itself), eds-ui-* (button and busy texts).
//
// One attempt, each with a fresh challenge:
//   1. Open NCALayer's WebSocket (default wss://127.0.0.1:13579). If it does not open:
//      `ncalayer_not_running` (and no challenge is spent).
//   2. POST /eds/challenge  {}  (Content-Type: application/json, X-EDS-CSRF)
//      → 200 {"challenge_id", "data": base64 of the bytes to sign, "expires_at"}
//      → non-2xx {"ok": false, "code", "message" (already in the page language)}
//   3. NCALayer (../shared/NCA.md §2): kz.gov.pki.knca.basics `sign`, format cms, decode true,
//      encapsulate true. Answers: {"status":true,"body":{"result":[PEM…] | PEM}} = signed;
//      {"status":true,"body":{}} = dialog closed (cancel, or no key could be chosen);
//      {"status":false,"code":…,"details":…} = error. An NCALayer without basics answers in the
//      old module's shape ({"code":"500","message":…}) and we fall back to
//      kz.gov.pki.knca.commonUtils createCMSSignatureFromBase64(storage, "SIGNATURE", data, true):
//      {"code":"200","responseObject": base64 CMS}; {"code":"500","message":"action.canceled"}.
//   4. POST /eds/login {"challenge_id", "cms" (PEM or base64, as NCALayer gave it), "next"}
//      → 200 {"ok": true, "redirect": "/path"} → location.assign(redirect)
//      → non-2xx {"ok": false, "code", "message"}: the server's message is shown, the code in
//        small print for IT.
//
// Cancel vs "no suitable key": NCALayer answers both the same way (the dialog was closed). When
// the person chose "token" we ask getActiveTokens: none connected means `ncalayer_no_key`;
// otherwise it was a cancel, and the cancel text says what to do if the key was not listed.
'use strict';

(() => {
  const BASICS = 'kz.gov.pki.knca.basics';
  const COMMON_UTILS = 'kz.gov.pki.knca.commonUtils';
  // NCA.md §2.1: the hardware storages NCALayer knows (KAZTOKEN, ID card, eToken, JaCarta, aKey).
  const TOKEN_STORAGES = ['AKKaztokenStore', 'AKKZIDCardStore', 'AKEToken72KStore',
    'AKEToken5110Store', 'AKJaCartaStore', 'AKAKEYStore'];
  // A WebSocket that has not opened in this time counts as "NCALayer not running".
  const OPEN_TIMEOUT_MS = 10000;
  // Replies to non-interactive calls (getActiveTokens, changeLocale) come at once.
  const QUICK_REPLY_MS = 10000;
  // The signing dialog waits for a person; after this long we give up on it.
  const SIGN_TIMEOUT_MS = 10 * 60 * 1000;
  // Longest NCALayer detail shown in small print.
  const MAX_DETAIL = 300;

  const meta = (name) => {
    const m = document.querySelector(`meta[name="${name}"]`);
    return m ? m.content : '';
  };

  const cfg = {
    csrf: meta('eds-csrf'),
    ncalayerUrl: meta('eds-ncalayer-url') || 'wss://127.0.0.1:13579',
    next: meta('eds-next') || '/',
    lang: meta('eds-lang') || 'ru',
  };

  /** A failure with a reason code; `message` (optional) is an already localized text. */
  class Failure extends Error {
    constructor(code, detail, message) {
      super(code);
      this.code = code;
      this.detail = detail ? String(detail).slice(0, MAX_DETAIL) : '';
      this.serverMessage = message || '';
    }
  }

  const localText = (code) => meta(`eds-msg-${code}`) || meta('eds-msg-internal_error') || code;

  // ---- NCALayer over WebSocket ----------------------------------------------------------

  /** Opens the socket; resolves to a connection with call(request, timeoutMs). */
  function openNcaLayer(url) {
    return new Promise((resolve, reject) => {
      let ws;
      try {
        ws = new WebSocket(url);
      } catch (e) {
        reject(new Failure('ncalayer_not_running', e && e.message));
        return;
      }
      let opened = false;
      let closed = false;
      const waiting = [];
      const fail = (f) => {
        while (waiting.length) waiting.shift().reject(f);
      };
      const timer = setTimeout(() => {
        if (!opened) {
          try { ws.close(); } catch (_) { /* already closing */ }
          reject(new Failure('ncalayer_not_running', 'timeout'));
        }
      }, OPEN_TIMEOUT_MS);

      ws.onopen = () => {
        opened = true;
        clearTimeout(timer);
        resolve(conn);
      };
      ws.onerror = () => {
        if (!opened) {
          clearTimeout(timer);
          reject(new Failure('ncalayer_not_running', 'connection refused'));
        }
      };
      ws.onclose = () => {
        closed = true;
        clearTimeout(timer);
        if (!opened) reject(new Failure('ncalayer_not_running', 'connection closed'));
        fail(new Failure('ncalayer_error', 'NCALayer closed the connection'));
      };
      ws.onmessage = (ev) => {
        if (typeof ev.data !== 'string' || ev.data === '--heartbeat--') return;
        let v;
        try {
          v = JSON.parse(ev.data);
        } catch (_) {
          v = { unparsable: ev.data.slice(0, MAX_DETAIL) };
        }
        // The greeting on connect: {"result":{"version":"1.4"}}. Not a reply to anything.
        if (v && typeof v === 'object' && v.result && v.result.version
            && !('status' in v) && !('code' in v)) {
          return;
        }
        // Requests go one at a time, so a reply belongs to the oldest waiting call; anything
        // unasked-for is dropped.
        if (waiting.length) waiting.shift().resolve(v);
      };

      const conn = {
        call(request, timeoutMs) {
          if (closed) return Promise.reject(new Failure('ncalayer_error', 'connection closed'));
          return new Promise((res, rej) => {
            const t = setTimeout(() => {
              const i = waiting.indexOf(w);
              if (i >= 0) waiting.splice(i, 1);
              rej(new Failure('ncalayer_error', 'no answer from NCALayer'));
            }, timeoutMs);
            const w = {
              resolve: (v) => { clearTimeout(t); res(v); },
              reject: (e) => { clearTimeout(t); rej(e); },
            };
            waiting.push(w);
            try {
              ws.send(JSON.stringify(request));
            } catch (e) {
              waiting.splice(waiting.indexOf(w), 1);
              w.reject(new Failure('ncalayer_error', e && e.message));
            }
          });
        },
        close() {
          closed = true;
          try { ws.close(); } catch (_) { /* already closed */ }
        },
      };
    });
  }

  /** The CMS from a result: a PEM or base64 string, or an array of them (the first). */
  function pickCms(result) {
    const v = Array.isArray(result) ? result[0] : result;
    if (typeof v === 'string' && v.trim() !== '') return v.trim();
    return null;
  }

  /** An NCALayer error: a wrong key password gets its own code (NCA.md §2, simulator shapes). */
  function layerError(detail) {
    const d = String(detail || '');
    if (/wrong\.password|UnrecoverableKey|password was incorrect/i.test(d)) {
      return new Failure('ncalayer_wrong_password', d);
    }
    return new Failure('ncalayer_error', d);
  }

  async function activeTokens(conn) {
    const r = await conn.call({ module: COMMON_UTILS, method: 'getActiveTokens' }, QUICK_REPLY_MS);
    if (r && r.code === '200' && Array.isArray(r.responseObject)) {
      return r.responseObject.filter((s) => typeof s === 'string');
    }
    return [];
  }

  /** The dialog was closed without a signature: a cancel, or nothing could be chosen. */
  async function closedDialog(conn, storage) {
    if (storage === 'token') {
      let tokens = [];
      try {
        tokens = await activeTokens(conn);
      } catch (_) { /* keep "cancelled" */ }
      if (tokens.length === 0) return new Failure('ncalayer_no_key', 'no token connected');
    }
    return new Failure('ncalayer_cancelled', '');
  }

  /** Whether a reply to a basics call says the module does not exist (an older NCALayer). */
  function basicsMissing(r) {
    if (!r || typeof r !== 'object') return false;
    if (!('status' in r) && 'code' in r && String(r.code) !== '200') return true;
    return r.status === false
      && /module/i.test(`${r.code || ''} ${r.message || ''} ${r.details || ''}`)
      && /not found|unknown|no such/i.test(`${r.code || ''} ${r.message || ''} ${r.details || ''}`);
  }

  async function signBasics(conn, dataB64, storage) {
    const allowedStorages = storage === 'file' ? ['PKCS12']
      : storage === 'token' ? TOKEN_STORAGES.slice() : null;
    const r = await conn.call({
      module: BASICS,
      method: 'sign',
      args: {
        allowedStorages,
        format: 'cms',
        data: dataB64,
        signingParams: { decode: true, encapsulate: true, digested: false },
        signerParams: { extKeyUsageOids: [], chain: [] },
        locale: cfg.lang,
      },
    }, SIGN_TIMEOUT_MS);
    if (basicsMissing(r)) return signCommonUtils(conn, dataB64, storage);
    if (r && r.status === true) {
      const result = r.body ? r.body.result : undefined;
      const cms = pickCms(result);
      if (cms) return cms;
      if (result === undefined || result === null) throw await closedDialog(conn, storage);
      throw new Failure('ncalayer_error', 'unexpected result');
    }
    if (r && r.status === false) throw layerError(r.details || r.message || r.code);
    throw new Failure('ncalayer_error', JSON.stringify(r).slice(0, MAX_DETAIL));
  }

  async function signCommonUtils(conn, dataB64, storage) {
    try {
      await conn.call({ module: COMMON_UTILS, method: 'changeLocale', args: [cfg.lang] },
        QUICK_REPLY_MS);
    } catch (_) { /* the dialog language is a nicety */ }
    let store = 'PKCS12';
    if (storage !== 'file') {
      const tokens = await activeTokens(conn);
      if (tokens.length > 0) store = tokens[0];
      else if (storage === 'token') throw new Failure('ncalayer_no_key', 'no token connected');
    }
    const r = await conn.call({
      module: COMMON_UTILS,
      method: 'createCMSSignatureFromBase64',
      args: [store, 'SIGNATURE', dataB64, true],
    }, SIGN_TIMEOUT_MS);
    if (r && String(r.code) === '200') {
      const cms = pickCms(r.responseObject);
      if (cms) return cms;
      throw new Failure('ncalayer_error', 'empty result');
    }
    if (r && r.message === 'action.canceled') throw await closedDialog(conn, storage);
    throw layerError(r && (r.message || r.code));
  }

  // ---- The gateway ------------------------------------------------------------------------

  async function postJson(path, body) {
    let res;
    try {
      res = await fetch(path, {
        method: 'POST',
        credentials: 'same-origin',
        cache: 'no-store',
        headers: { 'Content-Type': 'application/json', 'X-EDS-CSRF': cfg.csrf },
        body: JSON.stringify(body),
      });
    } catch (e) {
      throw new Failure('network_error', e && e.message);
    }
    let json = null;
    try {
      json = await res.json();
    } catch (_) { /* not JSON: a proxy's error page */ }
    if (!res.ok || !json || typeof json !== 'object') {
      const code = json && typeof json.code === 'string' ? json.code
        : (res.status >= 500 ? 'network_error' : 'internal_error');
      const message = json && typeof json.message === 'string' ? json.message : '';
      throw new Failure(code, res.ok ? 'unexpected answer' : `HTTP ${res.status}`, message);
    }
    return json;
  }

  /** Only a same-origin path is followed (the gateway checks `next` too). */
  function safeRedirect(r) {
    if (typeof r === 'string' && r.startsWith('/') && !r.startsWith('//') && !r.startsWith('/\\')) {
      return r;
    }
    return '/';
  }

  // ---- The page ---------------------------------------------------------------------------

  const form = document.getElementById('eds-login');
  const button = document.getElementById('eds-submit');
  const statusLine = document.getElementById('eds-status');
  const errorBox = document.getElementById('eds-error');
  const errorText = document.getElementById('eds-error-text');
  const errorCode = document.getElementById('eds-error-code');
  const errorDetail = document.getElementById('eds-error-detail');
  if (!form || !button) return;
  let busy = false;

  function setBusy(uiName) {
    busy = true;
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    button.textContent = meta(`eds-ui-${uiName}`);
    statusLine.textContent = '';
  }

  function setIdle() {
    busy = false;
    button.disabled = false;
    button.removeAttribute('aria-busy');
    button.textContent = meta('eds-ui-submit');
  }

  /** Writes `text` into `el`, turning the NCALayer download address into a link. */
  function fillWithLinks(el, text) {
    el.textContent = '';
    const url = 'https://pki.gov.kz/ncalayer/';
    const parts = text.split(url);
    parts.forEach((part, i) => {
      el.appendChild(document.createTextNode(part));
      if (i < parts.length - 1) {
        const a = document.createElement('a');
        a.href = url;
        a.target = '_blank';
        a.rel = 'noopener noreferrer';
        a.textContent = url;
        el.appendChild(a);
      }
    });
  }

  function showError(f) {
    const failure = f instanceof Failure ? f : new Failure('internal_error', f && f.message);
    fillWithLinks(errorText, failure.serverMessage || localText(failure.code));
    errorCode.textContent = failure.code;
    errorDetail.textContent = failure.detail ? `(${failure.detail})` : '';
    errorBox.hidden = false;
    errorBox.dataset.code = failure.code;
  }

  function hideError() {
    errorBox.hidden = true;
    errorText.textContent = '';
    errorCode.textContent = '';
    errorDetail.textContent = '';
    delete errorBox.dataset.code;
  }

  function chosenStorage() {
    const r = form.querySelector('input[name="storage"]:checked');
    return r ? r.value : 'any';
  }

  async function attempt() {
    let conn = null;
    try {
      setBusy('busy-connect');
      conn = await openNcaLayer(cfg.ncalayerUrl);
      const challenge = await postJson('/eds/challenge', {});
      if (typeof challenge.challenge_id !== 'string' || typeof challenge.data !== 'string') {
        throw new Failure('internal_error', 'malformed challenge');
      }
      setBusy('busy-sign');
      const cms = await signBasics(conn, challenge.data, chosenStorage());
      conn.close();
      conn = null;
      setBusy('busy-verify');
      const r = await postJson('/eds/login', {
        challenge_id: challenge.challenge_id,
        cms,
        next: cfg.next,
      });
      if (r.ok !== true) {
        throw new Failure(typeof r.code === 'string' ? r.code : 'internal_error', '',
          typeof r.message === 'string' ? r.message : '');
      }
      statusLine.textContent = meta('eds-ui-success');
      window.location.assign(safeRedirect(r.redirect));
    } catch (e) {
      setIdle();
      showError(e);
    } finally {
      if (conn) conn.close();
    }
  }

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (busy) return;
    hideError();
    attempt();
  });
  setIdle();
})();

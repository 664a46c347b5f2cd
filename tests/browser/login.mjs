// Drives Debian's headless Chromium through playwright-core for tests/it/login_page.rs.
//
// Usage: node login.mjs '<json plan>'
//   plan = {"chromium": "/usr/bin/chromium", "locale": "ru-RU", "steps": [step…]}
//   step = {"goto": url} | {"check": selector} | {"click": selector} (a link: waits for the load)
//        | {"submit": true} (clicks #eds-submit, waits until the page left /eds/login or shows an
//          error) | {"snapshot": name} | {"screenshot": path}
// Prints one JSON object: {"snapshots": {name: …}, "console": […], "pageErrors": […],
// "csp": […]}. The Rust test asserts on it; this script only observes (it exits non-zero only
// when the browser cannot be driven at all).
import { chromium } from 'playwright-core';

const plan = JSON.parse(process.argv[2]);
const SETTLE_MS = 30000;

const browser = await chromium.launch({
  executablePath: plan.chromium,
  headless: true,
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});
const out = { snapshots: {}, console: [], pageErrors: [], csp: [] };
try {
  const context = await browser.newContext({
    locale: plan.locale,
    extraHTTPHeaders: { 'Accept-Language': plan.acceptLanguage || plan.locale },
    viewport: { width: 900, height: 760 },
  });
  // Runs before any page script, outside the page's CSP: records CSP violations and whether the
  // button ever went busy (lost on navigation, so read at each snapshot).
  await context.addInitScript(() => {
    window.__eds = { csp: [], busySeen: false };
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__eds.csp.push(`${e.violatedDirective} ${e.blockedURI}`);
    });
    new MutationObserver((records) => {
      for (const r of records) {
        if (r.target.getAttribute && r.target.getAttribute('aria-busy') === 'true') {
          window.__eds.busySeen = true;
        }
      }
    }).observe(document, { subtree: true, attributes: true, attributeFilter: ['aria-busy'] });
  });
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') {
      out.console.push({ type: m.type(), text: m.text() });
    }
  });
  page.on('pageerror', (e) => out.pageErrors.push(String(e)));

  for (const step of plan.steps) {
    if (step.goto) {
      await page.goto(step.goto, { waitUntil: 'load' });
      // The script enables the button once it has wired the form.
      await page.waitForSelector('#eds-submit:not([disabled])', { timeout: SETTLE_MS })
        .catch(() => {});
    } else if (step.check) {
      await page.check(step.check);
    } else if (step.click) {
      await Promise.all([page.waitForEvent('load'), page.click(step.click)]);
      await page.waitForSelector('#eds-submit:not([disabled])', { timeout: SETTLE_MS })
        .catch(() => {});
    } else if (step.submit) {
      await page.click('#eds-submit');
      await Promise.race([
        page.waitForURL((u) => !u.pathname.startsWith('/eds/login'), { timeout: SETTLE_MS }),
        page.waitForSelector('#eds-error:not([hidden])', { timeout: SETTLE_MS }),
      ]).catch(() => {});
      await page.waitForLoadState('load');
    } else if (step.snapshot) {
      out.snapshots[step.snapshot] = await page.evaluate(() => {
        const $ = (s) => document.querySelector(s);
        const text = (s) => ($(s) ? $(s).textContent.trim() : null);
        const meta = (n) => {
          const m = document.querySelector(`meta[name="${n}"]`);
          return m ? m.content : null;
        };
        const err = $('#eds-error');
        const button = $('#eds-submit');
        return {
          url: location.href,
          lang: document.documentElement.lang,
          title: document.title,
          h1: text('h1'),
          body: document.body ? document.body.innerText : '',
          next: meta('eds-next'),
          cookie: document.cookie,
          button: button ? {
            text: button.textContent.trim(),
            disabled: button.disabled,
            busy: button.getAttribute('aria-busy'),
          } : null,
          error: err ? {
            visible: !err.hidden,
            text: text('#eds-error-text'),
            code: text('#eds-error-code'),
            detail: text('#eds-error-detail'),
            links: [...err.querySelectorAll('a')].map((a) => a.href),
          } : null,
          status: text('#eds-status'),
          busySeen: window.__eds ? window.__eds.busySeen : null,
          csp: window.__eds ? window.__eds.csp : [],
        };
      });
      out.csp.push(...out.snapshots[step.snapshot].csp);
    } else if (step.screenshot) {
      await page.screenshot({ path: step.screenshot, fullPage: true });
    } else {
      throw new Error(`unknown step ${JSON.stringify(step)}`);
    }
  }
} finally {
  await browser.close();
}
process.stdout.write(`${JSON.stringify(out)}\n`);

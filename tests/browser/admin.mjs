// Drives Debian's headless Chromium through playwright-core for tests/it/admin_page.rs.
//
// Usage: node admin.mjs '<json plan>'
//   plan = {"chromium": path, "locale": "ru", "cookies": [{name, value, url}], "steps": [step…]}
//   step = {"goto": url} | {"fill": selector, "value": text} | {"submit": formSelector}
//          (submits and waits for admin.js to reload the page) | {"snapshot": name}
//        | {"screenshot": path}
// Prints one JSON object: {"snapshots": {name: {status, url, lang, title, sessions, blocks,
// text}}, "console": […], "pageErrors": […], "csp": […]}. Observes only; the Rust test asserts.
import { chromium } from 'playwright-core';

const plan = JSON.parse(process.argv[2]);
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
    extraHTTPHeaders: { 'Accept-Language': plan.locale },
    viewport: { width: 1280, height: 900 },
  });
  await context.addInitScript(() => {
    window.__eds = { csp: [] };
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__eds.csp.push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  // The session cookie of a login the Rust test made (a __Host- cookie: Secure, Path=/, no
  // Domain). Chromium counts http://127.0.0.1 as a secure context, as it does when the gateway
  // sets the cookie itself; CDP may still refuse a Secure cookie for an http URL, so the page
  // sets it instead (not HttpOnly then, which changes nothing the test looks at).
  const page = await context.newPage();
  try {
    await context.addCookies(plan.cookies.map((c) => ({
      name: c.name, value: c.value, domain: new URL(c.url).hostname, path: '/',
      secure: true, httpOnly: true, sameSite: 'Lax',
    })));
  } catch (e) {
    for (const c of plan.cookies) {
      await page.goto(`${c.url}/eds/healthz`);
      await page.evaluate((v) => { document.cookie = v; },
        `${c.name}=${c.value}; Secure; Path=/; SameSite=Lax`);
    }
  }
  page.on('console', (m) => {
    if (m.type() === 'error') { out.console.push({ type: m.type(), text: m.text() }); }
  });
  page.on('pageerror', (e) => out.pageErrors.push(String(e)));
  let lastStatus = 0;
  for (const step of plan.steps) {
    if (step.goto) {
      const r = await page.goto(step.goto, { waitUntil: 'load' });
      lastStatus = r ? r.status() : 0;
    } else if (step.fill) {
      await page.fill(step.fill, step.value);
    } else if (step.submit) {
      const nav = page.waitForNavigation({ waitUntil: 'load', timeout: 15000 });
      await page.locator(`${step.submit} button[type=submit]`).click();
      const r = await nav;
      lastStatus = r ? r.status() : lastStatus;
    } else if (step.snapshot) {
      out.snapshots[step.snapshot] = await page.evaluate((status) => ({
        status,
        url: location.pathname,
        lang: document.documentElement.lang,
        title: document.title,
        sessions: document.querySelectorAll('tr.adm-session').length,
        blocks: document.querySelectorAll('tr.adm-block').length,
        text: document.body ? document.body.innerText : '',
        csp: window.__eds ? window.__eds.csp : ['init script did not run'],
      }), lastStatus);
      out.csp.push(...out.snapshots[step.snapshot].csp);
    } else if (step.screenshot) {
      await page.screenshot({ path: step.screenshot, fullPage: true });
    }
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));

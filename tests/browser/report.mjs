// Opens a drill report (report.html, a local file) in Debian's headless Chromium through
// playwright-core, reads what a person would see, and takes a full-page screenshot.
//
// Usage: node report.mjs '{"chromium": "/usr/bin/chromium", "file": "/abs/report.html",
//                          "screenshot": "/abs/out.png"}'
// Prints one JSON object: {"title", "verdict", "timelines": [{"scenario", "lanes", "width",
// "height", "evicted", "t0"}], "expectations": {"pass": n, "fail": n}, "requests": [urls other
// than the file itself], "pageErrors": [...]}.
import { chromium } from 'playwright-core';

const plan = JSON.parse(process.argv[2]);
const browser = await chromium.launch({
  executablePath: plan.chromium,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const out = { requests: [], pageErrors: [] };
try {
  const page = await browser.newPage({ viewport: { width: 1240, height: 900 } });
  const url = 'file://' + plan.file;
  page.on('request', (r) => { if (r.url() !== url) out.requests.push(r.url()); });
  page.on('pageerror', (e) => out.pageErrors.push(String(e)));
  await page.goto(url, { waitUntil: 'load' });
  Object.assign(out, await page.evaluate(() => ({
    title: document.title,
    verdict: document.querySelector('.verdict')?.textContent ?? '',
    timelines: [...document.querySelectorAll('section.scenario')].map((s) => {
      const svg = s.querySelector('svg.timeline');
      const box = svg ? svg.getBoundingClientRect() : { width: 0, height: 0 };
      return {
        scenario: s.id,
        lanes: svg ? svg.querySelectorAll('g.lane').length : 0,
        width: box.width,
        height: box.height,
        evicted: svg ? svg.querySelectorAll('g.evicted').length : 0,
        t0: svg ? svg.querySelectorAll('g.mark').length : 0,
      };
    }),
    expectations: {
      pass: document.querySelectorAll('table.expectations tr.held').length,
      fail: document.querySelectorAll('table.expectations tr.broken').length,
    },
  })));
  await page.screenshot({ path: plan.screenshot, fullPage: true });
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));

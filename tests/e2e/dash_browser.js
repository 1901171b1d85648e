// The ps-dash page in a real browser: Debian's chromium driven by
// puppeteer-core (scripts/puppeteer.sh).  Used by tests/e2e/dash_browser.sh.
//
//   node dash_browser.js static FILE OUT.json SHOT.png
//       open file://FILE; write every data-k number, console errors and
//       whether the page works without scripts
//   node dash_browser.js live URL OUT.json SHOT.png GO_FILE
//       open URL (ps-dash --serve), wait until the SSE stream is open,
//       create GO_FILE (the shell then feeds ps-gold), wait for the page to
//       update in place (no reload), write the numbers before and after
//       and the milliseconds from GO_FILE to the update
//
// The browser never leaves 127.0.0.1: no QUIC, no background networking,
// no component updates, no sync, a fresh profile each run; any request to
// another host fails the test.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const puppeteer = require('puppeteer-core');

const [mode, target, outJson, shot, goFile] = process.argv.slice(2);

function numbers(page) {
	return page.evaluate(() => {
		const o = {};
		for (const el of document.querySelectorAll('[data-k]'))
			o[el.dataset.k] = el.textContent.trim();
		return { seq: document.body.dataset.seq, values: o,
			 live: (document.getElementById('live') || {}).textContent || null };
	});
}

(async () => {
	const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-chromium-'));
	const browser = await puppeteer.launch({
		executablePath: process.env.PS_CHROMIUM || '/usr/bin/chromium',
		headless: true,
		userDataDir: profile,
		args: ['--headless', '--no-sandbox', '--disable-gpu',
		       '--disable-quic', '--no-first-run',
		       '--disable-background-networking',
		       '--disable-component-update', '--disable-sync',
		       '--disable-dev-shm-usage', '--no-default-browser-check',
		       '--disable-features=Translate,MediaRouter,OptimizationHints',
		       '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'],
	});
	const out = { errors: [], offsite: [] };
	try {
		const page = await browser.newPage();
		await page.setViewport({ width: 1100, height: 900 });
		page.on('console', (m) => {
			if (m.type() === 'error')
				out.errors.push('console: ' + m.text());
		});
		page.on('pageerror', (err) => out.errors.push('pageerror: ' + err.message));
		page.on('request', (r) => {
			const u = r.url();
			if (!/^(file:|data:|http:\/\/127\.0\.0\.1[:/])/.test(u))
				out.offsite.push(u);
		});
		if (mode === 'static') {
			await page.goto('file://' + path.resolve(target), { waitUntil: 'load' });
			Object.assign(out, await numbers(page));
			// The page reads the same with scripts off.
			const p2 = await browser.newPage();
			await p2.setJavaScriptEnabled(false);
			await p2.goto('file://' + path.resolve(target), { waitUntil: 'load' });
			out.noscript_cells = await p2.evaluate(() =>
				document.querySelectorAll('[data-k]').length);
			await p2.close();
			await page.screenshot({ path: shot });
		} else if (mode === 'live') {
			await page.goto(target, { waitUntil: 'load' });
			await page.waitForFunction(() => {
				const l = document.getElementById('live');
				return l && l.textContent.startsWith('live');
			}, { timeout: 10000 });
			out.before = await numbers(page);
			await page.evaluate(() => { window.__not_reloaded = true; });
			const t0 = Date.now();
			fs.writeFileSync(goFile, 'go\n');
			await page.waitForFunction((s) => document.body.dataset.seq !== s,
				{ timeout: 20000, polling: 20 }, out.before.seq);
			out.update_ms = Date.now() - t0;
			out.reloaded = !(await page.evaluate(() => window.__not_reloaded === true));
			// gold may commit more than once: settle on the last update
			await new Promise((r) => setTimeout(r, 1500));
			out.after = await numbers(page);
			await page.screenshot({ path: shot });
		} else {
			throw new Error('unknown mode ' + mode);
		}
	} catch (e) {
		out.errors.push('driver: ' + e.message);
	} finally {
		await browser.close();
		fs.rmSync(profile, { recursive: true, force: true });
	}
	fs.writeFileSync(outJson, JSON.stringify(out));
})();

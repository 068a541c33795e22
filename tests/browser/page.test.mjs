// Browser tests of the publishing page against a running `pubq serve`.
// tests/integration/browser_page.sh starts the daemon and sets:
//   PUBQ_URL           base URL of the daemon
//   PUBQ_BIN           the pubq binary, for the CLI steps
//   PUBQ_CONFIG        the daemon's configuration file
//   PUBQ_WORK          the scripts' directory; the file "fixed" in it
//                      makes the "broken" platform succeed
//   PUBQ_HOOK_PORT     port of the "gated" webhook, served here with 401
//   PUBQ_TOKEN         the API token the daemon requires
//   PUBQ_ARTIFACT_DIR  where screenshots go
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { chromium } from 'playwright-core';

const run = promisify(execFile);
const env = (name) => {
    const value = process.env[name];
    if (!value)
        throw new Error(`${name} is not set; run tests/integration/browser_page.sh`);
    return value;
};
const BASE = env('PUBQ_URL');
const BIN = env('PUBQ_BIN');
const CONFIG = env('PUBQ_CONFIG');
const WORK = env('PUBQ_WORK');
const HOOK_PORT = Number(env('PUBQ_HOOK_PORT'));
const TOKEN = env('PUBQ_TOKEN');
const ARTIFACTS = env('PUBQ_ARTIFACT_DIR');
const ZONE = 'America/New_York';
const XSS_TEXT = '<img src=x onerror=alert(1)>';
const XSS_TITLE = '<script>alert(3)</script>';
// Markup in every other field the page shows: content id, link, post URL
// (from the "hostile" platform's program) and pause reason. Intake
// accepts only http and https links without spaces, quotes or angle
// brackets, so the links try to break out of an attribute with ' and &.
const XSS_ID = '<svg onload=alert(4)>';
const XSS_LINK = "https://blog.example/x'onmouseover='alert(5)";
const XSS_ID_2 = '"><img src=i onerror=alert(6)>';
const XSS_LINK_2 = "https://blog.example/?a=1&amp;b='/onfocus=alert(7)//";
const XSS_REASON = '<img src=r onerror=alert(9)>';
const BULK_COUNT = 10000;
const WAIT_MS = 30000;

let browser;
let context;
let page;
let hookServer;
const dialogs = [];

// ---- helpers -----------------------------------------------------------

async function api(method, urlPath, body) {
    const response = await fetch(BASE + urlPath, {
        method,
        headers: {
            Authorization: `Bearer ${TOKEN}`,
            'Content-Type': 'application/json',
        },
        body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok)
        throw new Error(`${method} ${urlPath}: HTTP ${response.status} ${text}`);
    return text ? JSON.parse(text) : null;
}

function schedule(contentItemId, platforms, content, scheduledAt) {
    return api('POST', '/v1/events', {
        name: 'publishing.scheduled',
        data: { contentItemId, platforms, scheduledAt, content },
    });
}

async function cli(...args) {
    const { stdout } = await run(BIN, ['--config', CONFIG, '--json', ...args]);
    return JSON.parse(stdout);
}

async function entriesOf(contentId) {
    const reply = await api('GET',
        `/v1/entries?contentId=${encodeURIComponent(contentId)}&limit=100`);
    return reply.entries;
}

// Polls until check() returns a truthy value; fails after WAIT_MS.
async function eventually(what, check) {
    const deadline = Date.now() + WAIT_MS;
    let last;
    while (Date.now() < deadline) {
        last = await check();
        if (last)
            return last;
        await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`timed out after ${WAIT_MS} ms waiting for ${what}`);
}

async function entryWithStatus(contentId, platform, status) {
    return eventually(`${contentId} on ${platform} to be ${status}`,
        async () => (await entriesOf(contentId)).find(
            (e) => e.platform === platform && e.status === status));
}

function inDays(days) {
    return new Date(Date.now() + days * 86400000).toISOString();
}

// The row of one entry; `entry` comes from the API.
function row(entry) {
    return page.locator(`tr.entry[data-entry-id="${entry.id}"]`);
}

// ---- set-up ------------------------------------------------------------

// A webhook receiver that rejects every post with 401, which pauses the
// "gated" platform.
function startHook() {
    hookServer = http.createServer((request, response) => {
        request.resume();
        request.on('end', () => {
            response.writeHead(401, { 'Content-Type': 'application/json' });
            response.end('{"error":"token revoked"}');
        });
    });
    return new Promise((resolve) =>
        hookServer.listen(HOOK_PORT, '127.0.0.1', resolve));
}

// Imports `count` pending entries on "outbox" with the CLI.
async function importCalendar(prefix, count) {
    const lines = [];
    const at = inDays(2);
    for (let i = 1; i <= count; i++) {
        const id = `${prefix}-${String(i).padStart(5, '0')}`;
        lines.push(JSON.stringify({
            contentItemId: id, platforms: ['outbox'], scheduledAt: at,
            content: { text: `Calendar post ${i}` },
        }));
    }
    const file = path.join(WORK, `${prefix}.jsonl`);
    await writeFile(file, lines.join('\n') + '\n');
    await cli('import', file);
}

// One entry in every status, oldest (the bulk import) first so the
// newest page shows the rest.
async function createEntries() {
    await importCalendar('bulk', BULK_COUNT);
    // One job per retry budget: a job's entries share the largest
    // max_retries of its platforms.
    await schedule('launch-1', ['outbox', 'broken'],
        { text: 'Launch day', title: 'We launched',
          link: 'https://blog.example/launch' });
    await schedule('busy-1', ['flaky'], { text: 'Busy service' });
    await schedule('down-1', ['down'], { text: 'Nobody listens' });
    await schedule('hold-1', ['hung'], { text: 'Maybe posted' });
    await schedule('slow-1', ['slow'], { text: 'Takes its time' });
    await schedule('xss-1', ['broken'], { text: XSS_TEXT, title: XSS_TITLE });
    await schedule(XSS_ID, ['hostile'],
        { text: XSS_TEXT, title: XSS_TITLE, link: XSS_LINK });
    await schedule(XSS_ID_2, ['hostile'],
        { text: XSS_TEXT, title: XSS_TITLE, link: XSS_LINK_2 });
    await cli('publish', '--text', 'Next week', '--platform', 'outbox',
        '--at', inDays(7), '--id', 'later-1');
    const cancelled = await cli('publish', '--text', 'Never mind',
        '--platform', 'outbox', '--at', inDays(7), '--id', 'cancel-1');
    await cli('cancel', String(cancelled.entries[0].id));

    await entryWithStatus('launch-1', 'outbox', 'published');
    await entryWithStatus('busy-1', 'flaky', 'retrying');
    await entryWithStatus('launch-1', 'broken', 'failed');
    await entryWithStatus('down-1', 'down', 'failed');
    await entryWithStatus('hold-1', 'hung', 'failed');
    await entryWithStatus('slow-1', 'slow', 'publishing');
    await entryWithStatus('xss-1', 'broken', 'failed');
    await entryWithStatus(XSS_ID, 'hostile', 'published');
    await entryWithStatus(XSS_ID_2, 'hostile', 'published');
}

before(async () => {
    await startHook();
    await createEntries();

    browser = await chromium.launch({
        executablePath: '/usr/bin/chromium',
        args: ['--headless', '--no-sandbox', '--disable-gpu',
            '--disable-background-networking', '--disable-component-update',
            '--disable-sync', '--no-first-run'],
    });
    context = await browser.newContext({
        timezoneId: ZONE, locale: 'en-US',
        viewport: { width: 1280, height: 900 },
    });
    // Records any script that markup from the data might run, and any
    // inline code the Content-Security-Policy had to block.
    await context.addInitScript(() => {
        window.__ran = [];
        for (const name of ['alert', 'confirm', 'prompt'])
            window[name] = (...args) => window.__ran.push([name, ...args]);
        document.addEventListener('securitypolicyviolation', (event) =>
            window.__ran.push(['csp', event.violatedDirective]));
    });
    page = await context.newPage();
    page.on('dialog', (dialog) => {
        dialogs.push(dialog.message());
        dialog.dismiss();
    });
    await page.goto(BASE + '/');
    await page.locator('tr.entry').first().waitFor();
    await page.locator('#connection.live').waitFor();
    await page.evaluate(() => { window.__sameDocument = true; });
});

after(async () => {
    await browser?.close();
    hookServer?.close();
});

// ---- tests ---------------------------------------------------------------

test('page shows every status as text', async () => {
    for (const status of ['pending', 'publishing', 'published', 'retrying',
        'failed', 'cancelled']) {
        const badge = page.locator(
            `tr.entry[data-status="${status}"] .badge`).first();
        await badge.waitFor();
        assert.equal(await badge.textContent(), status);
    }
});

test('counts match the API', async () => {
    const counts = (await api('GET', '/v1/counts')).all;
    assert.ok(counts.total >= BULK_COUNT, `total ${counts.total}`);
    for (const status of ['all', 'pending', 'failed', 'cancelled']) {
        const expected = counts[status === 'all' ? 'total' : status];
        await page.waitForFunction(([name, value]) =>
            Number(document.querySelector(`#counts li[data-status="${name}"]` +
                ' .count-number').dataset.count) === value,
        [status, expected]);
        const number = page.locator(
            `#counts li[data-status="${status}"] .count-number`);
        assert.equal(await number.textContent(),
            expected.toLocaleString('en-US'));
    }
});

test('entries of one job are grouped', async () => {
    const [entry] = await entriesOf('launch-1');
    const group = page.locator(`tbody.group[data-job-id="${entry.jobId}"]`);
    assert.equal(await group.locator('.content-id').textContent(), 'launch-1');
    assert.equal(await group.locator('tr.entry').count(), 2);
});

test('times show in the viewer time zone', async () => {
    assert.equal(await page.locator('#zone').textContent(), `Times in ${ZONE}`);
    const entry = (await entriesOf('later-1'))[0];
    const cell = row(entry).locator('td[data-label="Scheduled"] time');
    assert.equal(await cell.getAttribute('datetime'), entry.scheduledAt);
    const expected = await page.evaluate(([iso, zone]) =>
        new Intl.DateTimeFormat(undefined, {
            year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit',
            minute: '2-digit', second: '2-digit', timeZone: zone,
        }).format(new Date(iso)), [entry.scheduledAt, ZONE]);
    assert.equal(await cell.textContent(), expected);
});

test('retry count shows as n / max', async () => {
    const broken = (await entriesOf('launch-1'))
        .find((e) => e.platform === 'broken');
    assert.equal(await row(broken).locator('.retries').textContent(), '0 / 3');
    const [flaky] = await entriesOf('busy-1');
    assert.match(await row(flaky).locator('.retries').textContent(),
        /^\d+ \/ 1000$/);
});

test('failed entry shows attempt history', async () => {
    const entry = await entryWithStatus('down-1', 'down', 'failed');
    const toggle = row(entry).locator('button[data-action="expand"]');
    await toggle.click();
    assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
    const attempts = page.locator(`#detail-${entry.id} table.attempts tbody tr`);
    await attempts.first().waitFor();
    assert.equal(await attempts.count(), 1);
    const outcome = attempts.first().locator('td[data-label="Outcome"]');
    assert.equal(await outcome.textContent(), 'transient');
    const error = await attempts.first()
        .locator('td[data-label="Error"]').textContent();
    assert.match(error, /refused|connect/i);
    assert.equal(await page.locator(`#detail-${entry.id} .content-text`)
        .textContent(), 'Nobody listens');
});

test('retry with token updates live', async () => {
    const entry = await entryWithStatus('launch-1', 'broken', 'failed');
    const entryRow = row(entry);
    await entryRow.locator('button[data-action="expand"]').click();
    await page.locator(`#detail-${entry.id} table.attempts tbody tr`)
        .first().waitFor();
    await writeFile(path.join(WORK, 'fixed'), '');

    await entryRow.locator('button[data-action="retry"]').click();
    await page.locator('#token-panel').waitFor({ state: 'visible' });
    await page.fill('#token-input', TOKEN);
    await page.click('#token-panel button[type="submit"]');

    await page.locator(`tr.entry[data-entry-id="${entry.id}"]` +
        '[data-status="published"]').waitFor();
    const link = entryRow.locator('a.post-link');
    assert.match(await link.getAttribute('href'),
        /^https:\/\/social\.example\/posts\/\d+$/);
    assert.equal(await entryRow.locator('.retries').textContent(), '0 / 3');
    const outcomes = page.locator(
        `#detail-${entry.id} table.attempts td[data-label="Outcome"]`);
    await page.waitForFunction((id) => document.querySelectorAll(
        `#detail-${id} table.attempts tbody tr`).length === 2, entry.id);
    assert.deepEqual(await outcomes.allTextContents(),
        ['permanent', 'success']);
    assert.equal(await page.evaluate(() => window.__sameDocument), true);
});

test('outcome unknown offers two actions', async () => {
    const entry = await entryWithStatus('hold-1', 'hung', 'failed');
    const entryRow = row(entry);
    assert.equal(entry.failReason, 'outcome unknown');
    assert.match(await entryRow.locator('.reason').textContent(),
        /outcome unknown/);
    const retry = entryRow.locator('button[data-action="retry"]');
    assert.match(await retry.textContent(), /^Retry anyway/);
    await entryRow.locator('button[data-action="mark-published"]').click();
    await page.locator(`tr.entry[data-entry-id="${entry.id}"]` +
        '[data-status="published"]').waitFor();
    assert.equal((await entriesOf('hold-1'))[0].status, 'published');
});

test('cancel takes a second click to confirm', async () => {
    const entry = await entryWithStatus('later-1', 'outbox', 'pending');
    const cancel = row(entry).locator('button[data-action="cancel"]');
    await cancel.click();
    assert.match(await cancel.textContent(), /^Confirm cancel/);
    assert.equal((await entriesOf('later-1'))[0].status, 'pending');
    await cancel.click();
    await page.locator(`tr.entry[data-entry-id="${entry.id}"]` +
        '[data-status="cancelled"]').waitFor();
    assert.equal((await entriesOf('later-1'))[0].status, 'cancelled');
});

test('event sent with curl appears live', async () => {
    const totalBefore = Number(await page.locator(
        '#counts li[data-status="all"] .count-number')
        .getAttribute('data-count'));
    const body = JSON.stringify({
        name: 'publishing.scheduled',
        data: { contentItemId: 'live-1', platforms: ['outbox'],
            content: { text: 'Sent from a shell' } },
    });
    await run('curl', ['-sf', '-X', 'POST', '-H',
        `Authorization: Bearer ${TOKEN}`, '-H', 'Content-Type: application/json',
        '--data', body, `${BASE}/v1/events`]);

    const group = page.locator('tbody.group', {
        has: page.locator('.content-id', { hasText: /^live-1$/ }) });
    await group.locator('tr.entry[data-status="published"]').waitFor();
    await page.waitForFunction((before) => Number(document.querySelector(
        '#counts li[data-status="all"] .count-number').dataset.count) ===
        before + 1, totalBefore);
    assert.equal(await page.evaluate(() => window.__sameDocument), true);
});

test('paused platform banner and resume', async () => {
    await schedule('gate-1', ['gated'], { text: 'Behind a revoked token' });
    const banner = page.locator('#paused .banner[data-platform="gated"]');
    await banner.waitFor();
    assert.match(await banner.textContent(), /authentication rejected/i);

    // The screenshot for the documentation: a banner, counts, and the
    // attempt history of the retried entry.
    await page.setViewportSize({ width: 1280, height: 1300 });
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(ARTIFACTS, 'page.png') });
    await page.setViewportSize({ width: 1280, height: 900 });
    await banner.locator('button[data-action="resume"]').click();
    await banner.waitFor({ state: 'detached' });
    const platforms = await api('GET', '/v1/platforms');
    const gated = (Array.isArray(platforms) ? platforms : platforms.platforms)
        .find((p) => p.name === 'gated');
    assert.equal(gated.pausedUntil, null);
});

test('markup in content and errors stays text', async () => {
    const entry = await entryWithStatus('xss-1', 'broken', 'failed');
    const entryRow = row(entry);
    assert.match(await entryRow.locator('.error-text').textContent(),
        /<img src=y onerror=alert\(2\)>/);
    await entryRow.locator('button[data-action="expand"]').click();
    const detail = page.locator(`#detail-${entry.id}`);
    await detail.locator('table.attempts').waitFor();
    assert.equal(await detail.locator('.content-text').textContent(),
        XSS_TEXT);
    assert.match(await detail.locator('.content').textContent(),
        /<script>alert\(3\)<\/script>/);
    assert.equal(await page.locator('main img, main script').count(), 0);
    assert.deepEqual(await page.evaluate(() => window.__ran), []);
    assert.deepEqual(dialogs, []);
});

test('markup in every field stays text', async () => {
    const ranBefore = await page.evaluate(() => window.__ran.length);
    await api('POST', '/v1/platforms/hostile/pause', { reason: XSS_REASON });
    const banner = page.locator('#paused .banner[data-platform="hostile"]');
    await banner.waitFor();
    assert.match(await banner.textContent(),
        /<img src=r onerror=alert\(9\)>/);

    for (const id of [XSS_ID, XSS_ID_2]) {
        const [entry] = await entriesOf(id);
        const entryRow = row(entry);
        await entryRow.waitFor();
        const group = page.locator(`tbody.group[data-job-id="${entry.jobId}"]`);
        assert.equal(await group.locator('.content-id').textContent(), id);
        assert.equal(await entryRow.locator('a.post-link').getAttribute('href'),
            new URL(entry.postUrl).href);
        await entryRow.locator('button[data-action="expand"]').click();
        const detail = page.locator(`#detail-${entry.id}`);
        await detail.locator('.content-text').waitFor();
        assert.equal(await detail.locator('.content-text').textContent(),
            XSS_TEXT);
        assert.match(await detail.locator('.content').textContent(),
            /<script>alert\(3\)<\/script>/);
        assert.match(await detail.locator('.content').textContent(),
            /blog\.example/);
    }

    // Every href the page built is http or https, with markup
    // percent-encoded.
    const hrefs = await page.locator('main a[href]').evaluateAll(
        (links) => links.map((a) => a.getAttribute('href')));
    assert.ok(hrefs.length > 0);
    for (const href of hrefs)
        assert.match(href, /^https?:\/\/[^"<> ]*$/, href);
    assert.equal(await page.locator('main img, main script, main svg').count(),
        0);
    assert.equal(await page.evaluate(() => window.__ran.length), ranBefore);
    assert.deepEqual(dialogs, []);

    await banner.locator('button[data-action="resume"]').click();
    await banner.waitFor({ state: 'detached' });
});

test('filters and search narrow the list', async () => {
    await page.selectOption('#filter-status', 'failed');
    await page.waitForFunction(() => location.search === '?status=failed');
    await page.waitForFunction(() => {
        const rows = [...document.querySelectorAll('tr.entry')];
        return rows.length > 0 &&
            rows.every((r) => r.dataset.status === 'failed');
    });
    await page.selectOption('#filter-status', '');
    await page.fill('#filter-content', 'launch-1');
    await page.press('#filter-content', 'Enter');
    await page.waitForFunction(() => {
        const ids = [...document.querySelectorAll('tr.entry')];
        return ids.length === 2 && [...document.querySelectorAll(
            '.content-id')].every((c) => c.textContent === 'launch-1');
    });
    await page.click('#filters button[type="reset"]');
    await page.waitForFunction(() =>
        document.querySelectorAll('tr.entry').length === 100);
});

test('load more pages through 10,000 entries', async () => {
    assert.equal(await page.locator('tr.entry').count(), 100);
    const more = page.locator('#load-more');
    await more.click();
    await page.waitForFunction(() =>
        document.querySelectorAll('tr.entry').length === 200);
    const ids = await page.locator('tr.entry').evaluateAll(
        (rows) => rows.map((r) => r.dataset.entryId));
    assert.equal(new Set(ids).size, ids.length);
    assert.equal(await more.isVisible(), true);
});

test('import while open offers newer entries', async () => {
    const before = await page.locator('tr.entry').count();
    await importCalendar('late-import', 150);

    const newer = page.locator('#show-newer');
    await newer.waitFor();
    await page.waitForFunction(() => document.getElementById('show-newer')
        .textContent === 'Show 50 newer entries');
    assert.equal(await page.locator('tr.entry').count(), before + 100);
    await newer.click();
    await page.waitForFunction(() =>
        document.querySelectorAll('tr.entry').length === 100);
    assert.equal(await newer.isVisible(), false);
    assert.equal(await page.locator('.content-id').first().textContent(),
        'late-import-00150');
});

// Fails when the page scrolls sideways at the current viewport width.
async function assertNoSideScroll() {
    const [scroll, client] = await page.evaluate(() => [
        document.documentElement.scrollWidth,
        document.documentElement.clientWidth]);
    assert.ok(scroll <= client,
        `page is ${scroll} px wide in a ${client} px window`);
}

test('wide and tablet widths fit', async () => {
    const entry = await entryWithStatus('hold-1', 'hung', 'published');
    await page.fill('#filter-content', 'hold-1');
    await page.press('#filter-content', 'Enter');
    await row(entry).locator('button[data-action="expand"]').click();
    await page.locator(`#detail-${entry.id} table.attempts`).waitFor();
    for (const width of [1280, 1024, 941, 800]) {
        await page.setViewportSize({ width, height: 900 });
        await assertNoSideScroll();
    }
    assert.equal(await row(entry).evaluate(
        (node) => getComputedStyle(node).display), 'block');
    assert.equal(await page.locator(`#detail-${entry.id}`).isVisible(), true);
});

test('phone width shows cards', async () => {
    await page.setViewportSize({ width: 375, height: 812 });
    await page.evaluate(() => window.scrollTo(0, 0));
    await assertNoSideScroll();
    const display = await page.locator('tr.entry').first().evaluate(
        (node) => getComputedStyle(node).display);
    assert.equal(display, 'block');
    const label = await page.locator('tr.entry td[data-label="Status"]')
        .first().evaluate((node) =>
            getComputedStyle(node, '::before').content);
    assert.equal(label, '"Status"');
    await page.screenshot({ path: path.join(ARTIFACTS, 'page-phone.png') });
});

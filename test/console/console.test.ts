// The operator console in a real browser (headless chromium) against the real service and the fake
// opencode in server mode: the token form, the live state (rows appear and change without a reload),
// the actions (abort, reset, restart, delete) and the pager. Screenshots go to test-artifacts/console/;
// OCPM_WRITE_DOC_SCREENSHOT=1 also refreshes docs/console.png.
import assert from 'node:assert/strict';
import { copyFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'puppeteer-core';
import { SESSION_STATES } from '../../src/contracts/vocabulary.js';
import { launchBrowser, openPage, screenshot, SKIP_WITHOUT_CHROMIUM } from '../helpers/browser.js';
import { PROJECT_ROOT } from '../helpers/fixtures.js';
import { call, callOk, TEST_API_TOKEN } from '../helpers/http.js';
import { startTestService, type TestService } from '../helpers/test-service.js';

// What the page functions below use of the browser's globals (the tests compile without the DOM lib).
interface PageNode {
  readonly textContent: string | null;
  getAttribute(name: string): string | null;
}
declare const document: { querySelector(selector: string): PageNode | null; querySelectorAll(selector: string): { readonly length: number } };
declare const sessionStorage: { getItem(key: string): string | null };
declare const localStorage: { readonly length: number };

const WAIT = { timeout: 15_000 };

/** The state the sessions table shows for a session (undefined while it has no row). */
async function rowState(page: Page, id: string): Promise<string | undefined> {
  return page.$eval(`#sessions tr[data-session-id="${id}"]`, (row) => row.getAttribute('data-state') ?? undefined).catch(() => undefined);
}

async function waitForRowState(page: Page, id: string, state: string): Promise<void> {
  await page.waitForSelector(`#sessions tr[data-session-id="${id}"][data-state="${state}"]`, WAIT);
}

/**
 * Finds and clicks in one step inside the page: a live update may move a row (the sessions sort by
 * last activity) between the separate look-up, scroll and click that page.click() makes.
 */
async function clickNow(page: Page, selector: string, enableFirst = false): Promise<void> {
  await page.waitForSelector(selector, WAIT);
  // One step, so no live update can land between enabling a disabled button and clicking it.
  await page.$eval(
    selector,
    (node, enable) => {
      if (enable) node.removeAttribute('disabled');
      (node as unknown as { click(): void }).click();
    },
    enableFirst,
  );
}

/** Clicks an action button, confirms in the page's dialog, and waits for the reported outcome. */
async function runAction(page: Page, selector: string, expect: RegExp, options: { enableFirst?: boolean } = {}): Promise<string> {
  const before = await page.$eval('#action-result', (node) => node.textContent ?? '');
  await clickNow(page, selector, options.enableFirst);
  await page.waitForSelector('#confirm-dialog[open]', WAIT);
  await page.click('#confirm-yes');
  await page.waitForFunction((previous) => (document.querySelector('#action-result')?.textContent ?? '') !== previous, WAIT, before);
  const text = await page.$eval('#action-result', (node) => node.textContent ?? '');
  assert.match(text, expect);
  return text;
}

describe('operator console in a browser', { skip: SKIP_WITHOUT_CHROMIUM, timeout: 180_000 }, () => {
  let svc: TestService;
  let browser: Browser;
  let page: Page;
  let problems: string[];

  before(async () => {
    svc = await startTestService({ OCPM_MODE: 'server', OCPM_POOL_SIZE: '2', OCPM_EVENTS_INTERVAL_MS: '200' });
    browser = await launchBrowser();
    ({ page, problems } = await openPage(browser));
  });

  after(async () => {
    await browser?.close();
    await svc?.close();
  });

  it('GET / leads to the console, which refuses a wrong token with a clear message', async () => {
    const response = await page.goto(`${svc.url}/`);
    assert.equal(new URL(page.url()).pathname, '/console');
    assert.equal(response?.status(), 200);
    await page.waitForSelector('#token-form', { visible: true, ...WAIT });
    await page.type('#token', 'not-the-token');
    await page.click('#token-form button[type="submit"]');
    await page.waitForSelector('#login-message:not([hidden])', WAIT);
    assert.match(await page.$eval('#login-message', (node) => node.textContent ?? ''), /The token was refused \(401\)/);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('ocpm-console-token')), null, 'a refused token is not kept');
    await screenshot(page, 'console', '01-token-refused');
  });

  it('with the right token shows the mode, readiness, isolation and the pool, kept in sessionStorage only', async () => {
    await page.type('#token', TEST_API_TOKEN);
    await page.click('#token-form button[type="submit"]');
    await page.waitForSelector('#dashboard:not([hidden])', WAIT);
    await page.waitForFunction(() => document.querySelector('[data-figure="mode"] .value')?.textContent === 'server', WAIT);
    assert.equal(await page.$eval('[data-figure="state"] .value', (node) => node.textContent), 'ready');
    assert.equal(await page.$eval('[data-figure="isolation"] .value', (node) => node.textContent), 'none');
    await page.waitForFunction(() => document.querySelectorAll('#instances tbody tr').length === 2, WAIT);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('ocpm-console-token')), TEST_API_TOKEN);
    assert.equal(await page.evaluate(() => localStorage.length), 0);
    assert.equal(await page.$eval('#connection', (node) => node.getAttribute('data-state')), 'live');
    // The state filter offers the service's states (from GET /console/vocabulary.js), after "all states".
    assert.deepEqual(await page.$$eval('#state-filter option', (options) => options.map((option) => [option.getAttribute('value'), option.textContent])), [
      ['', 'all states'],
      ...SESSION_STATES.map((state) => [state, state.replaceAll('_', ' ')]),
    ]);
  });

  it('shows sessions as they are created, and their state going idle -> busy -> idle without a reload', async () => {
    for (const id of ['alpha', 'bravo', 'charlie']) await callOk(`${svc.url}/api/sessions/${id}`, 'PUT', { workspace: id });
    await page.waitForSelector('#sessions tr[data-session-id="charlie"]', WAIT);
    assert.equal(await rowState(page, 'alpha'), 'idle');
    // Live updates change rows in place: the row (and the button an operator may be about to click)
    // stays the same element through the turn. A property survives only on the same element.
    await page.$eval('#sessions tr[data-session-id="alpha"]', (row) => Object.assign(row, { keptAcrossUpdates: true }));
    const turn = call(`${svc.url}/api/sessions/alpha/messages`, 'POST', { text: '#fake delay=1500\nslow hello' });
    await waitForRowState(page, 'alpha', 'busy');
    await page.waitForSelector('#turns tr[data-session-id="alpha"][data-status="running"]', WAIT);
    assert.equal((await turn).status, 200);
    await waitForRowState(page, 'alpha', 'idle');
    await page.waitForSelector('#turns tr[data-session-id="alpha"][data-status="success"]', WAIT);
    assert.match(await page.$eval('#sessions tr[data-session-id="alpha"] td:nth-child(4)', (node) => node.textContent ?? ''), /^1$/);
    assert.equal(
      await page.$eval('#sessions tr[data-session-id="alpha"]', (row) => (row as unknown as { keptAcrossUpdates?: boolean }).keptAcrossUpdates),
      true,
      'the row was replaced instead of updated in place',
    );
    // The turn's usage shows in its row and in the totals, as the API has it.
    const { usage } = await callOk<{ usage: { tokens: Record<string, number>; cost: number } }>(`${svc.url}/api/sessions/alpha`, 'GET');
    const tokens = Object.values(usage.tokens).reduce((sum, n) => sum + n, 0);
    assert.ok(tokens > 0 && usage.cost > 0, JSON.stringify(usage));
    await page.waitForFunction(
      (expected) => document.querySelector('#sessions tr[data-session-id="alpha"] td:nth-child(5)')?.textContent === expected,
      WAIT,
      String(tokens),
    );
    assert.equal(await page.$eval('#sessions tr[data-session-id="alpha"] td:nth-child(6)', (node) => node.textContent), `$${usage.cost.toFixed(4)}`);
    assert.equal(await page.$eval('[data-figure="cost"] .value', (node) => node.textContent), `$${usage.cost.toFixed(4)}`);
  });

  it('lists a pending permission while the turn waits on a person, and clears it once answered', async () => {
    const turn = call(`${svc.url}/api/sessions/bravo/messages`, 'POST', { text: '#fake ask\nplease run it' });
    await waitForRowState(page, 'bravo', 'waiting_on_user');
    // The state's badge: its label, in the colour the service's BADGE_TONES give it.
    assert.deepEqual(await page.$eval('#sessions tr[data-session-id="bravo"] .badge', (node) => [node.textContent, node.getAttribute('class')]), [
      'waiting on user',
      'badge tone-warn',
    ]);
    await page.waitForSelector('#pending tr[data-kind="permission"]', WAIT);
    const sent = call(`${svc.url}/api/sessions/charlie/messages`, 'POST', { text: '#fake delay=3000\nbusy while the screenshot is taken' });
    await waitForRowState(page, 'charlie', 'busy');
    const shot = await screenshot(page, 'console', '02-live');
    if (process.env.OCPM_WRITE_DOC_SCREENSHOT === '1') await copyFile(shot, path.join(PROJECT_ROOT, 'docs', 'console.png'));
    const pending = await callOk<{ permissions: Array<{ id: string }> }>(`${svc.url}/api/sessions/bravo/pending`, 'GET');
    await callOk(`${svc.url}/api/sessions/bravo/permissions/${pending.permissions[0]?.id}`, 'POST', { reply: 'once' });
    assert.equal((await turn).status, 200);
    await waitForRowState(page, 'bravo', 'idle');
    await page.waitForSelector('#pending-empty:not([hidden])', WAIT);
    assert.equal((await sent).status, 200);
  });

  it('aborts a running turn from the page: its request answers aborted', async () => {
    const turn = call(`${svc.url}/api/sessions/charlie/messages`, 'POST', { text: '#fake hang\nnever ends' });
    await waitForRowState(page, 'charlie', 'busy');
    await runAction(page, '#sessions tr[data-session-id="charlie"] button[data-action="abort"]', /abort charlie: done \(HTTP 202\)/);
    const answer = await turn;
    assert.equal(answer.status, 409);
    assert.equal(answer.body.error.code, 'aborted');
    await waitForRowState(page, 'charlie', 'idle');
    await page.waitForSelector('#turns tr[data-session-id="charlie"][data-status="aborted"]', WAIT);
    // An abort of an idle session reports the API's error.
    await runAction(page, '#sessions tr[data-session-id="charlie"] button[data-action="abort"]', /abort charlie failed \(HTTP 409\): session_idle/, {
      enableFirst: true,
    });
    await screenshot(page, 'console', '03-aborted');
  });

  it('resets a session from the page (POST /api/sessions/:id/reset)', async () => {
    const before = await callOk<{ opencodeSessionId: string | null }>(`${svc.url}/api/sessions/alpha`, 'GET');
    await runAction(page, '#sessions tr[data-session-id="alpha"] button[data-action="reset"]', /reset alpha: done \(HTTP 200\)/);
    const afterReset = await callOk<{ opencodeSessionId: string | null }>(`${svc.url}/api/sessions/alpha`, 'GET');
    assert.notEqual(afterReset.opencodeSessionId, before.opencodeSessionId, 'a new opencode conversation');
  });

  it('restarts a server instance from the page (POST /api/instances/:name/restart)', async () => {
    const id = await page.$eval('#instances tbody tr', (row) => row.getAttribute('data-instance-id') ?? '');
    await runAction(page, `#instances tr[data-instance-id="${id}"] button[data-action="restart"]`, new RegExp(`restart ${id}: done \\(HTTP 200\\)`));
    await page.waitForFunction(
      (instance) => Number(document.querySelector(`#instances tr[data-instance-id="${instance}"] td:nth-child(6)`)?.textContent) >= 1,
      WAIT,
      id,
    );
  });

  it('deletes a session from the page after a confirmation; Cancel leaves it', async () => {
    await clickNow(page, '#sessions tr[data-session-id="bravo"] button[data-action="delete"]');
    await page.waitForSelector('#confirm-dialog[open]', WAIT);
    await page.click('#confirm-no');
    await page.waitForSelector('#confirm-dialog:not([open])', WAIT);
    assert.equal((await call(`${svc.url}/api/sessions/bravo`, 'GET')).status, 200, 'Cancel deletes nothing');
    await runAction(page, '#sessions tr[data-session-id="bravo"] button[data-action="delete"]', /delete bravo: done \(HTTP 204\)/);
    await page.waitForFunction(() => document.querySelector('#sessions tr[data-session-id="bravo"]') === null, WAIT);
    assert.equal((await call(`${svc.url}/api/sessions/bravo`, 'GET')).status, 404);
  });

  it('pages, filters and sorts many sessions', async () => {
    const ids = Array.from({ length: 60 }, (_, i) => `many-${String(i).padStart(2, '0')}`);
    await Promise.all(ids.map((id) => callOk(`${svc.url}/api/sessions/${id}`, 'PUT', { workspace: id })));
    await page.waitForFunction(() => /^62 of 62$/.test(document.querySelector('#session-count')?.textContent ?? ''), WAIT);
    assert.equal(await page.$$eval('#sessions tbody tr', (rows) => rows.length), 50);
    assert.equal(await page.$eval('#page-info', (node) => node.textContent), 'page 1 of 2');
    await page.click('#next-page');
    await page.waitForFunction(() => document.querySelector('#page-info')?.textContent === 'page 2 of 2', WAIT);
    assert.equal(await page.$$eval('#sessions tbody tr', (rows) => rows.length), 12);
    await page.click('#sessions th button[data-sort="id"]');
    await page.waitForFunction(() => document.querySelector('#sessions tbody tr')?.getAttribute('data-session-id') === 'alpha', WAIT);
    await page.type('#session-filter', 'many-1');
    await page.waitForFunction(() => document.querySelector('#session-count')?.textContent === '10 of 62', WAIT);
    await page.select('#state-filter', 'busy');
    await page.waitForFunction(() => document.querySelectorAll('#sessions tbody tr').length === 0, WAIT);
    await screenshot(page, 'console', '04-filtered');
    // The refusals the tests asked for are logged by chromium; anything else (a CSP violation, a script error) is a failure.
    const expected = /Failed to load resource: the server responded with a status of (401|409)/;
    assert.deepEqual(
      problems.filter((problem) => !expected.test(problem)),
      [],
    );
  });

  it('stays usable with 1,000 sessions: one page of rows, the pager, and live state on the first page', async () => {
    await page.click('#session-filter', { count: 3 });
    await page.keyboard.press('Backspace');
    await page.select('#state-filter', '');
    const have = (await callOk<{ total: number }>(`${svc.url}/api/sessions?limit=1`, 'GET')).total;
    const ids = Array.from({ length: 1000 - have }, (_, i) => `bulk-${String(i).padStart(4, '0')}`);
    for (let i = 0; i < ids.length; i += 25) {
      await Promise.all(ids.slice(i, i + 25).map((id) => callOk(`${svc.url}/api/sessions/${id}`, 'PUT', { workspace: id })));
    }
    await page.waitForFunction(() => document.querySelector('#session-count')?.textContent === '1,000 of 1,000', WAIT);
    assert.equal(await page.$$eval('#sessions tbody tr', (rows) => rows.length), 50, 'only one page of rows is in the DOM');
    assert.equal(await page.$eval('#page-info', (node) => node.textContent), 'page 1 of 20');
    // Sorted by last activity, newest first: a session that starts a turn moves to the top and shows busy.
    // A column sorts ascending on its first click and descending on the second.
    for (const direction of ['ascending', 'descending']) {
      await page.click('#sessions th button[data-sort="lastActivity"]');
      await page.waitForSelector(`#sessions th[aria-sort="${direction}"] button[data-sort="lastActivity"]`, WAIT);
    }
    const turn = call(`${svc.url}/api/sessions/bulk-0000/messages`, 'POST', { text: '#fake delay=1500\nin a crowd' });
    await page.waitForSelector('#sessions tbody tr:first-child[data-session-id="bulk-0000"][data-state="busy"]', WAIT);
    assert.equal((await turn).status, 200);
    await waitForRowState(page, 'bulk-0000', 'idle');
    await screenshot(page, 'console', '05-thousand-sessions');
  });
});

// Headless Debian chromium driven by puppeteer-core, for the console's browser test. Every page's
// console errors and uncaught exceptions are collected, so a CSP violation or a script error fails
// the test that caused it.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { PROJECT_ROOT } from './fixtures.js';

export const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((file) => existsSync(file));

/** Why a browser suite cannot run here (false when it can); in CI the suite runs and fails instead. */
export const SKIP_WITHOUT_CHROMIUM =
  CHROMIUM === undefined && process.env.CI === undefined ? 'chromium is not installed (apt-get install chromium); in CI this suite fails instead' : false;

export async function launchBrowser(): Promise<Browser> {
  if (CHROMIUM === undefined) throw new Error('chromium is not installed (apt-get install --no-install-recommends chromium)');
  // --no-sandbox: chromium's own sandbox needs user namespaces that test containers often lack.
  return puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
}

export interface WatchedPage {
  readonly page: Page;
  /** Console errors and uncaught exceptions of the page so far. */
  readonly problems: string[];
}

export async function openPage(browser: Browser, width = 1400, height = 1000): Promise<WatchedPage> {
  const page = await browser.newPage();
  await page.setViewport({ width, height });
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error instanceof Error ? error.message : String(error)}`));
  return { page, problems };
}

const ARTIFACTS = path.join(PROJECT_ROOT, 'test-artifacts');

/** Saves a screenshot under test-artifacts/<folder>/<name>.png (ignored by git) and returns its path. */
export async function screenshot(page: Page, folder: string, name: string): Promise<string> {
  const dir = path.join(ARTIFACTS, folder);
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `${name}.png`) as `${string}.png`;
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

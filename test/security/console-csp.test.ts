// The console page keeps the strict Content-Security-Policy: nothing inline, nothing from elsewhere,
// and no upgrade to HTTPS (which would leave the page blank over plain HTTP inside a cluster).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { call } from '../helpers/http.js';
import { startTestService, type TestService } from '../helpers/test-service.js';

describe('console page security headers', () => {
  let svc: TestService;
  before(async () => {
    svc = await startTestService();
  });
  after(async () => {
    await svc.close();
  });

  it('serves /console under a CSP without inline code, and the page has none', async () => {
    const page = await call(`${svc.url}/console`, 'GET', undefined, { authorization: '' });
    assert.equal(page.status, 200);
    const csp = page.headers.get('content-security-policy') ?? '';
    const directives = new Map(
      csp
        .split(';')
        .map((d) => d.trim().split(/\s+/) as [string, ...string[]])
        .map(([name, ...values]) => [name, values]),
    );
    assert.deepEqual(directives.get('default-src'), ["'self'"]);
    assert.deepEqual(directives.get('script-src'), ["'self'"]);
    assert.deepEqual(directives.get('style-src'), ["'self'"]);
    assert.equal(directives.has('upgrade-insecure-requests'), false, csp);
    const html = String(page.body);
    for (const tag of html.match(/<script\b[^>]*>/g) ?? []) assert.match(tag, /\bsrc="\/console\/[^"]+\.js"/, `an inline script: ${tag}`);
    assert.equal(/<style\b|\sstyle="|\son[a-z]+="/i.test(html), false, 'inline style or event handler');
    assert.equal(/https?:\/\//.test(html.replace(/<!--[\s\S]*?-->/g, '')), false, 'a URL to another origin');
  });
});

// Token matching and token sources without HTTP: constant-time digest comparison that copes with any
// length, principals that do not reveal the token, and a token file that is re-read when rotated.
import assert from 'node:assert/strict';
import { utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadApiAuth, parseTokenFile } from '../../src/auth/api-tokens.js';
import { principalOf, TokenVerifier } from '../../src/auth/token-verifier.js';
import { createSilentLogger } from '../../src/logging/logger.js';
import { makeTempDir } from '../helpers/fixtures.js';

describe('TokenVerifier', () => {
  const verifier = new TokenVerifier(['alpha-token', 'beta-token']);

  it('matches each configured token and nothing else, whatever the length of the candidate', () => {
    assert.equal(verifier.verify('alpha-token'), principalOf('alpha-token'));
    assert.equal(verifier.verify('beta-token'), principalOf('beta-token'));
    // timingSafeEqual throws on buffers of different lengths: digests make every length comparable.
    for (const wrong of ['', 'a', 'alpha-toke', 'alpha-tokenX', 'x'.repeat(10_000), 'ALPHA-TOKEN', 'alpha-token\n', '\u00e9\u0301']) {
      assert.equal(verifier.verify(wrong), undefined, JSON.stringify(wrong.slice(0, 20)));
    }
  });

  it('names a caller by a digest that does not contain the token', () => {
    const principal = principalOf('alpha-token');
    assert.match(principal, /^token:[0-9a-f]{16}$/);
    assert.ok(!principal.includes('alpha'));
    assert.notEqual(principal, principalOf('beta-token'));
  });

  it('swaps its tokens on replace()', () => {
    const rotating = new TokenVerifier(['old']);
    rotating.replace(['new']);
    assert.equal(rotating.verify('old'), undefined);
    assert.ok(rotating.verify('new') !== undefined);
  });
});

describe('token file', () => {
  let temp: { dir: string; remove: () => Promise<void> };
  before(async () => {
    temp = await makeTempDir('token-file');
  });
  after(async () => {
    await temp.remove();
  });

  it('parses lines and commas, skipping blanks and comments', () => {
    assert.deepEqual(parseTokenFile('# c\n a \n\nb,c\r\n'), ['a', 'b', 'c']);
  });

  it('picks up a rotated file on the next failed check', async () => {
    const file = path.join(temp.dir, 'token');
    await writeFile(file, 'first-token\n');
    const auth = loadApiAuth({ auth: 'enabled', apiToken: [], metricsToken: [], apiTokenFile: file, dataDir: temp.dir }, createSilentLogger(), 0);
    assert.ok(auth.verifier?.verify('first-token') !== undefined);
    await writeFile(file, 'second-token\n');
    // mtime resolution can hide a change made within the same tick: make it visible.
    await utimes(file, new Date(), new Date(Date.now() + 2000));
    assert.equal(auth.refresh(), true);
    assert.equal(auth.verifier?.verify('first-token'), undefined);
    assert.ok(auth.verifier?.verify('second-token') !== undefined);
  });

  it('keeps the current tokens when the file turns unreadable', async () => {
    const file = path.join(temp.dir, 'flaky');
    await writeFile(file, 'kept-token\n');
    const auth = loadApiAuth({ auth: 'enabled', apiToken: [], metricsToken: [], apiTokenFile: file, dataDir: temp.dir }, createSilentLogger(), 0);
    await writeFile(file, '\n');
    await utimes(file, new Date(), new Date(Date.now() + 4000));
    assert.equal(auth.refresh(), false);
    assert.ok(auth.verifier?.verify('kept-token') !== undefined);
  });
});

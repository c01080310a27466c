// stripAnsi: opencode's coloured stderr becomes plain text for error messages.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stripAnsi } from '../../src/util/strip-ansi.js';

describe('stripAnsi', () => {
  it("removes opencode's colour codes from an argument error", () => {
    assert.equal(stripAnsi('\u001b[91m\u001b[1mError: \u001b[0mSession not found'), 'Error: Session not found');
  });

  it('removes every sequence on every line', () => {
    assert.equal(stripAnsi('\u001b[33mwarn\u001b[39m one\n\u001b[1;31mfail\u001b[0m two\u001b[K'), 'warn one\nfail two');
  });

  it('removes cursor and private-mode sequences', () => {
    assert.equal(stripAnsi('\u001b[2K\u001b[1Gdone\u001b[?25h'), 'done');
  });

  it('leaves plain text unchanged', () => {
    const plain = 'Error: [1m] is not a colour; 100% done';
    assert.equal(stripAnsi(plain), plain);
    assert.equal(stripAnsi(''), '');
  });
});

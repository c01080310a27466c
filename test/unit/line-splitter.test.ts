// createLineSplitter: lines across chunk boundaries (also inside a UTF-8 character), CRLF, the
// last line flushed by end(), and the cap on line length.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLineSplitter, TRUNCATED_SUFFIX } from '../../src/util/line-splitter.js';

function splitter(maxLineChars = 1000): { lines: string[]; push: (chunk: Buffer | string) => void; end: () => void } {
  const lines: string[] = [];
  const s = createLineSplitter((line) => lines.push(line), maxLineChars);
  return { lines, push: (chunk) => s.push(chunk), end: () => s.end() };
}

describe('createLineSplitter', () => {
  it('splits one chunk holding several lines', () => {
    const s = splitter();
    s.push('one\ntwo\nthree\n');
    assert.deepEqual(s.lines, ['one', 'two', 'three']);
  });

  it('joins a line split over chunks and emits it only when its newline arrives', () => {
    const s = splitter();
    s.push('{"type":"te');
    s.push('xt","part"');
    assert.deepEqual(s.lines, []);
    s.push(':{}}\n{"ty');
    assert.deepEqual(s.lines, ['{"type":"text","part":{}}']);
    s.push('pe":"x"}\n');
    assert.deepEqual(s.lines, ['{"type":"text","part":{}}', '{"type":"x"}']);
  });

  it('keeps empty lines', () => {
    const s = splitter();
    s.push('a\n\nb\n');
    assert.deepEqual(s.lines, ['a', '', 'b']);
  });

  it('decodes a 3-byte UTF-8 character split across Buffers', () => {
    const bytes = Buffer.from('price: 5€ ok\nnext\n', 'utf8');
    const euro = bytes.indexOf(Buffer.from('€', 'utf8'));
    assert.equal(Buffer.from('€', 'utf8').length, 3);
    const s = splitter();
    s.push(bytes.subarray(0, euro + 1));
    s.push(bytes.subarray(euro + 1, euro + 2));
    s.push(bytes.subarray(euro + 2));
    assert.deepEqual(s.lines, ['price: 5€ ok', 'next']);
  });

  it('decodes multibyte characters when fed one byte at a time', () => {
    const text = 'héllo → 世界 🎉\nzwei\n';
    const bytes = Buffer.from(text, 'utf8');
    const s = splitter();
    for (let i = 0; i < bytes.length; i += 1) s.push(bytes.subarray(i, i + 1));
    assert.deepEqual(s.lines, ['héllo → 世界 🎉', 'zwei']);
  });

  it('strips the CR of CRLF line endings, also when CR and LF arrive in different chunks', () => {
    const s = splitter();
    s.push('alpha\r\nbeta\r');
    s.push('\ngamma\r\n');
    assert.deepEqual(s.lines, ['alpha', 'beta', 'gamma']);
  });

  it('keeps a CR that is not at the end of a line', () => {
    const s = splitter();
    s.push('progress 10%\rprogress 100%\n');
    assert.deepEqual(s.lines, ['progress 10%\rprogress 100%']);
  });

  it('flushes a final line without newline on end()', () => {
    const s = splitter();
    s.push('first\nlast without newline');
    assert.deepEqual(s.lines, ['first']);
    s.end();
    assert.deepEqual(s.lines, ['first', 'last without newline']);
  });

  it('flushes an incomplete UTF-8 sequence on end() as a replacement character', () => {
    const s = splitter();
    s.push(Buffer.from('ab', 'utf8'));
    s.push(Buffer.from('€', 'utf8').subarray(0, 2));
    s.end();
    assert.deepEqual(s.lines, ['ab\ufffd']);
  });

  it('emits nothing on end() after a trailing newline', () => {
    const s = splitter();
    s.push('done\n');
    s.end();
    assert.deepEqual(s.lines, ['done']);
  });

  it('emits nothing on end() when nothing was pushed', () => {
    const s = splitter();
    s.end();
    assert.deepEqual(s.lines, []);
  });

  it('keeps a CRLF line of exactly the cap intact', () => {
    const s = splitter(4);
    s.push('next\r\nabcd\n');
    assert.deepEqual(s.lines, ['next', 'abcd']);
  });

  it('never cuts a surrogate pair in half', () => {
    const s = splitter(3);
    s.push('ab\u{1F600}cd\n');
    assert.deepEqual(s.lines, [`ab${TRUNCATED_SUFFIX}`]);
  });

  it('keeps a line of exactly the cap intact', () => {
    const s = splitter(10);
    s.push('0123456789\nnext\n');
    assert.deepEqual(s.lines, ['0123456789', 'next']);
  });

  it('cuts a line longer than the cap to the cap plus the suffix; the next line is intact', () => {
    const s = splitter(10);
    s.push('0123456789ABCDEF\nshort\n');
    assert.deepEqual(s.lines, [`0123456789${TRUNCATED_SUFFIX}`, 'short']);
  });

  it('cuts a long line that arrives over many chunks, and the next line is intact', () => {
    const s = splitter(16);
    s.push('{"type":"text"');
    for (let i = 0; i < 1000; i += 1) s.push('x'.repeat(97));
    s.push('"}\n{"type":"n');
    s.push('ext"}\n');
    assert.deepEqual(s.lines, [`{"type":"text"xx${TRUNCATED_SUFFIX}`, '{"type":"next"}']);
  });

  it('cuts a long line given as Buffers', () => {
    const s = splitter(5);
    s.push(Buffer.from('abcdefgh'));
    s.push(Buffer.from('ijkl\nok\n'));
    assert.deepEqual(s.lines, [`abcde${TRUNCATED_SUFFIX}`, 'ok']);
  });

  it('cuts a long last line without newline on end()', () => {
    const s = splitter(4);
    s.push('abcdefgh');
    s.push('ijkl');
    s.end();
    assert.deepEqual(s.lines, [`abcd${TRUNCATED_SUFFIX}`]);
  });

  it('cuts a long CRLF-terminated line without keeping its CR', () => {
    const s = splitter(4);
    s.push('abcdefgh\r\nok\r\n');
    assert.deepEqual(s.lines, [`abcd${TRUNCATED_SUFFIX}`, 'ok']);
  });
});

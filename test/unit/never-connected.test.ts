// neverConnected decides whether a failed server-mode request may be sent elsewhere: only when no
// connection was made. Real sockets for a refused connect and for a reset after the request was sent;
// the `connect ECONNRESET` of a dying server's backlog cannot be provoked on demand, so that case uses
// the error shape Node gives it (seen in CI: "fetch failed (connect ECONNRESET 127.0.0.1:35551)").
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { neverConnected } from '../../src/manager/server/opencode-client.js';
import { findFreePort } from '../../src/util/free-port.js';

async function fetchError(url: string): Promise<unknown> {
  try {
    await fetch(url, { method: 'POST', body: '{"parts":[]}' });
  } catch (error) {
    return error;
  }
  throw new Error('the request was expected to fail');
}

function errnoError(code: string, syscall: string): Error {
  return Object.assign(new Error(`${syscall} ${code} 127.0.0.1:35551`), { code, syscall, errno: -104 });
}

describe('neverConnected', () => {
  it('is true for a refused connection (nothing listening)', async () => {
    const port = await findFreePort();
    assert.equal(neverConnected(await fetchError(`http://127.0.0.1:${port}/session`)), true);
  });

  it('is false when the connection was reset after the request went out', async () => {
    const server = net.createServer((socket) => socket.once('data', () => socket.resetAndDestroy()));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    try {
      assert.equal(neverConnected(await fetchError(`http://127.0.0.1:${port}/session`)), false);
    } finally {
      server.close();
    }
  });

  it('is true for a reset during the connect, however deep in the cause chain', () => {
    const reset = errnoError('ECONNRESET', 'connect');
    assert.equal(neverConnected(new TypeError('fetch failed', { cause: reset })), true);
    assert.equal(neverConnected(new Error('wrapped', { cause: new TypeError('fetch failed', { cause: reset }) })), true);
  });

  it('is false for a reset on read, a timeout, and values that are not errors', () => {
    assert.equal(neverConnected(new TypeError('fetch failed', { cause: errnoError('ECONNRESET', 'read') })), false);
    assert.equal(neverConnected(new DOMException('timed out', 'TimeoutError')), false);
    assert.equal(neverConnected('ECONNREFUSED'), false);
    assert.equal(neverConnected(undefined), false);
  });
});

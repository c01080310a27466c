// The virtual keys opencode children call the model gateway with: one per session or shared
// server, random, known only to this process, revocable at once.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VirtualKeys } from '../../src/gateway/virtual-keys.js';

describe('VirtualKeys', () => {
  it('mints keys that start with ocpm-vk- and carry enough randomness', () => {
    const keys = new VirtualKeys();
    const key = keys.forSession('s1');
    assert.match(key, /^ocpm-vk-[A-Za-z0-9_-]{32}$/);
  });

  it('gives a session the same key every time and each session its own', () => {
    const keys = new VirtualKeys();
    const a = keys.forSession('s1');
    assert.equal(keys.forSession('s1'), a);
    const b = keys.forSession('s2');
    assert.notEqual(a, b);
    assert.equal(keys.size, 2);
  });

  it('maps a key back to its holder', () => {
    const keys = new VirtualKeys();
    const a = keys.forSession('s1');
    const b = keys.forSession('s2');
    assert.deepEqual(keys.holderOf(a), { kind: 'session', sessionId: 's1' });
    assert.deepEqual(keys.holderOf(b), { kind: 'session', sessionId: 's2' });
  });

  it('knows no unknown, garbage or missing key', () => {
    const keys = new VirtualKeys();
    const a = keys.forSession('s1');
    assert.equal(keys.holderOf(undefined), undefined);
    assert.equal(keys.holderOf(''), undefined);
    assert.equal(keys.holderOf('garbage'), undefined);
    assert.equal(keys.holderOf('ocpm-vk-'), undefined);
    assert.equal(keys.holderOf(`${a}x`), undefined);
    assert.equal(keys.holderOf(a.slice(0, -1)), undefined);
    assert.equal(keys.holderOf(a.toUpperCase()), undefined);
    assert.equal(keys.holderOf(new VirtualKeys().forSession('s1')), undefined, "another instance's key");
  });

  it('revokeSession makes the key unknown at once, and the next forSession mints a different one', () => {
    const keys = new VirtualKeys();
    const a = keys.forSession('s1');
    const other = keys.forSession('s2');
    keys.revokeSession('s1');
    assert.equal(keys.holderOf(a), undefined);
    assert.deepEqual(keys.holderOf(other), { kind: 'session', sessionId: 's2' });
    const renewed = keys.forSession('s1');
    assert.notEqual(renewed, a);
    assert.deepEqual(keys.holderOf(renewed), { kind: 'session', sessionId: 's1' });
    assert.equal(keys.holderOf(a), undefined);
    keys.revokeSession('never-had-one');
    assert.equal(keys.size, 2);
  });

  it('gives a shared server (slot) its own stable key with a server holder', () => {
    const keys = new VirtualKeys();
    const slot0 = keys.forSlot(0);
    assert.match(slot0, /^ocpm-vk-/);
    assert.equal(keys.forSlot(0), slot0);
    assert.notEqual(keys.forSlot(1), slot0);
    assert.deepEqual(keys.holderOf(slot0), { kind: 'server', slot: 0 });
    assert.deepEqual(keys.holderOf(keys.forSlot(1)), { kind: 'server', slot: 1 });
    assert.notEqual(keys.forSession('0'), slot0);
  });

  it('revokeAll forgets every key', () => {
    const keys = new VirtualKeys();
    const a = keys.forSession('s1');
    const server = keys.forSlot(3);
    keys.revokeAll();
    assert.equal(keys.size, 0);
    assert.equal(keys.holderOf(a), undefined);
    assert.equal(keys.holderOf(server), undefined);
    assert.notEqual(keys.forSession('s1'), a);
    assert.notEqual(keys.forSlot(3), server);
  });
});

// The memory arithmetic of isolated starts, and the cgroup limit it defaults to.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { DEFAULT_SERVER_ESTIMATE_BYTES, MemoryRoom, memoryLimitBytes } from '../../src/manager/server/memory-room.js';
import { cgroupMemoryLimitBytes } from '../../src/util/cgroup-memory.js';

const MB = 1024 * 1024;

describe('MemoryRoom', () => {
  it('counts the service, each server as measured (an unmeasured one at the estimate) and one more server', () => {
    const room = new MemoryRoom(1000 * MB, () => 100 * MB);
    assert.equal(room.serverEstimateBytes, DEFAULT_SERVER_ESTIMATE_BYTES);
    assert.equal(room.usedBytes([200 * MB, 0]), 100 * MB + 200 * MB + DEFAULT_SERVER_ESTIMATE_BYTES);
    assert.equal(room.fitsOneMore([200 * MB]), true); // 100 + 200 + 350 = 650
    assert.equal(room.fitsOneMore([300 * MB, 0]), false); // 100 + 300 + 350 + 350 > 1000
    room.recordStartFootprint(80 * MB);
    room.recordStartFootprint(60 * MB);
    assert.equal(room.serverEstimateBytes, 80 * MB, 'the largest start footprint seen');
    assert.equal(room.fitsOneMore([300 * MB, 0]), true); // 100 + 300 + 80 + 80
  });

  it('always fits without a limit, and reports no status then', () => {
    const room = new MemoryRoom(undefined, () => 10_000 * MB);
    assert.equal(room.fitsOneMore([10_000 * MB]), true);
    assert.equal(room.status([]), undefined);
  });

  it('counts waiting turns until each is done (once)', () => {
    const room = new MemoryRoom(1, () => 0);
    const done = room.waiting();
    room.waiting();
    assert.equal(room.status([])?.waiting, 2);
    done();
    done();
    assert.equal(room.status([])?.waiting, 1);
  });

  it('takes OCPM_MEMORY_LIMIT_MB, else 90% of the cgroup limit; 0 means none', () => {
    assert.equal(memoryLimitBytes(512, 4096 * MB), 512 * MB);
    assert.equal(memoryLimitBytes(0, 4096 * MB), undefined);
    assert.equal(memoryLimitBytes(undefined, 1000 * MB), 900 * MB);
    assert.equal(memoryLimitBytes(undefined, undefined), undefined);
  });
});

describe('cgroupMemoryLimitBytes', () => {
  const fixture = (files: Record<string, string>): { root: string; self: string } => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ocpm-cgroup-'));
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
      writeFileSync(path.join(dir, name), text);
    }
    return { root: path.join(dir, 'sys'), self: path.join(dir, 'self-cgroup') };
  };

  it('reads cgroup v2 memory.max of its own cgroup, or of the namespace root', () => {
    const own = fixture({ 'self-cgroup': '0::/kubepods/pod1\n', 'sys/kubepods/pod1/memory.max': '2147483648\n' });
    assert.equal(cgroupMemoryLimitBytes(own.root, own.self), 2147483648);
    const namespaced = fixture({ 'self-cgroup': '0::/\n', 'sys/memory.max': '1073741824\n' });
    assert.equal(cgroupMemoryLimitBytes(namespaced.root, namespaced.self), 1073741824);
  });

  it('has no limit for "max", v1 unlimited, or no cgroup files', () => {
    const max = fixture({ 'self-cgroup': '0::/\n', 'sys/memory.max': 'max\n' });
    assert.equal(cgroupMemoryLimitBytes(max.root, max.self), undefined);
    const v1 = fixture({ 'self-cgroup': '4:memory:/docker/x\n0::/\n', 'sys/memory/docker/x/memory.limit_in_bytes': '9223372036854771712\n' });
    assert.equal(cgroupMemoryLimitBytes(v1.root, v1.self), undefined);
    const none = fixture({});
    assert.equal(cgroupMemoryLimitBytes(none.root, none.self), undefined);
  });

  it('reads a cgroup v1 limit', () => {
    const v1 = fixture({ 'self-cgroup': '4:memory:/docker/x\n', 'sys/memory/docker/x/memory.limit_in_bytes': '536870912\n' });
    assert.equal(cgroupMemoryLimitBytes(v1.root, v1.self), 536870912);
  });
});

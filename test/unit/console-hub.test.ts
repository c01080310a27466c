// The console hub: one state read per tick, whatever the number of open consoles, the same frame for
// each, a ticker only while someone listens, and a failed read or a failing console ending only what failed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ConsoleFrame, ConsoleSources } from '../../src/http/console-feed.js';
import { ConsoleHub } from '../../src/http/console-hub.js';

function countingSources() {
  const counts = { reads: 0 };
  let broken = false;
  const sources: ConsoleSources = {
    status: () => {
      if (broken) throw new Error('the registry is closed');
      counts.reads += 1;
      return { state: 'ready' };
    },
    sessions: () => [{ id: 'a' }],
    recentTurns: () => [],
    pending: () => ({ permissions: [], questions: [] }),
  };
  return { counts, sources, breakIt: () => (broken = true) };
}

/** Resolves with the next frame, or rejects with the next failure, that `hub` hands this subscriber. */
function nextDelivery(hub: ConsoleHub): { frame: Promise<ConsoleFrame>; failure: Promise<unknown>; unsubscribe: () => void } {
  let onFrame!: (frame: ConsoleFrame) => void;
  let onFail!: (error: unknown) => void;
  const frame = new Promise<ConsoleFrame>((resolve) => (onFrame = resolve));
  const failure = new Promise<unknown>((resolve) => (onFail = resolve));
  const unsubscribe = hub.subscribe({ frame: onFrame, fail: onFail });
  return { frame, failure, unsubscribe };
}

describe('ConsoleHub', () => {
  it('reads the state once per tick and hands every console the same frame', async () => {
    const { counts, sources } = countingSources();
    const hub = new ConsoleHub(sources, 5);
    const consoles = Array.from({ length: 10 }, () => nextDelivery(hub));
    // The last console to be handed the first frame notes how often the state was read by then.
    let readsByLastConsole: number | undefined;
    const stopLast = hub.subscribe({ frame: () => (readsByLastConsole ??= counts.reads), fail: () => undefined });
    const frames = await Promise.all(consoles.map((c) => c.frame));
    assert.ok(
      frames.every((frame) => frame === frames[0]),
      'one frame object for all',
    );
    for (const c of consoles) c.unsubscribe();
    stopLast();
    assert.equal(readsByLastConsole, 1, 'eleven consoles, one read');
    assert.equal(frames[0]?.sessions.get('a'), '{"id":"a"}');
  });

  it('runs its ticker only while a console is subscribed', async () => {
    const { sources } = countingSources();
    const hub = new ConsoleHub(sources, 5);
    assert.equal(hub.running, false);
    const first = nextDelivery(hub);
    const second = nextDelivery(hub);
    assert.equal(hub.running, true);
    await first.frame;
    first.unsubscribe();
    assert.equal(hub.running, true, 'one console is still open');
    second.unsubscribe();
    assert.equal(hub.running, false);
  });

  it('tells every console when the state cannot be read', async () => {
    const { sources, breakIt } = countingSources();
    const hub = new ConsoleHub(sources, 5);
    breakIt();
    const a = nextDelivery(hub);
    const b = nextDelivery(hub);
    const errors = await Promise.all([a.failure, b.failure]);
    assert.deepEqual(
      errors.map((e) => (e as Error).message),
      ['the registry is closed', 'the registry is closed'],
    );
    a.unsubscribe();
    b.unsubscribe();
  });

  it('a console that throws fails alone; the others keep their frames', async () => {
    const { sources } = countingSources();
    const hub = new ConsoleHub(sources, 5);
    let failed: unknown;
    const stopFaulty = hub.subscribe({
      frame: () => {
        throw new Error('socket gone');
      },
      fail: (error) => (failed ??= error),
    });
    const healthy = nextDelivery(hub);
    await healthy.frame;
    assert.equal((failed as Error | undefined)?.message, 'socket gone');
    stopFaulty();
    healthy.unsubscribe();
  });
});

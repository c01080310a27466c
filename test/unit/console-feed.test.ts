// The console feed: a snapshot, then only what changed (per session and per turn, by JSON), with clock
// fields of the status ignored and fields it does not know carried through.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConsoleFeed, type ConsoleSources, readFrame } from '../../src/http/console-feed.js';
import type { TurnRecord } from '../../src/store/turn-store.js';

function turn(id: number, status: TurnRecord['status'], text: string | null = null): TurnRecord {
  return {
    id,
    sessionId: 's1',
    status,
    mode: null,
    startedAt: 1000 + id,
    finishedAt: null,
    durationMs: null,
    text,
    error: null,
    tokens: null,
    cost: null,
    opencodeSessionId: null,
  };
}

function fakeSources() {
  const state = {
    status: { state: 'ready', processManager: { idleTime: 1 } } as Record<string, unknown>,
    sessions: [{ id: 'a', busy: false }] as Array<Record<string, unknown> & { id: string }>,
    turns: [] as TurnRecord[],
    pending: { permissions: [] as unknown[], questions: [] as unknown[] },
  };
  const sources: ConsoleSources = {
    status: () => state.status,
    sessions: () => state.sessions,
    recentTurns: () => state.turns,
    pending: () => state.pending,
  };
  return { state, sources };
}

const parsed = (events: Array<{ event: string; json: string }>) => events.map((e) => ({ event: e.event, data: JSON.parse(e.json) as unknown }));

describe('ConsoleFeed', () => {
  it('starts with a snapshot of everything, then sends nothing while nothing changes', () => {
    const { state, sources } = fakeSources();
    state.turns = [turn(1, 'success', 'a long answer')];
    const feed = new ConsoleFeed();
    const snapshot = JSON.parse(feed.snapshot(readFrame(sources)).json);
    assert.deepEqual(Object.keys(snapshot), ['status', 'sessions', 'recentTurns', 'pending']);
    assert.equal(snapshot.sessions[0].id, 'a');
    assert.equal(snapshot.recentTurns[0].text, undefined, 'answer texts stay out of the feed');
    assert.equal(snapshot.recentTurns[0].textChars, 13);
    state.status = { state: 'ready', processManager: { idleTime: 999 } };
    assert.deepEqual(feed.changes(readFrame(sources)), [], 'idleTime alone is not a change');
  });

  it('sends upserted and removed sessions, changed turns, the status and the pending list when they change', () => {
    const { state, sources } = fakeSources();
    const feed = new ConsoleFeed();
    feed.snapshot(readFrame(sources));
    state.sessions = [
      { id: 'a', busy: true, state: 'busy', usage: { cost: 0.5 } },
      { id: 'b', busy: false },
    ];
    state.turns = [turn(1, 'running')];
    state.status = { state: 'draining', processManager: { idleTime: 5 } };
    state.pending = { permissions: [{ id: 'per_1', sessionId: 'a' }], questions: [] };
    assert.deepEqual(parsed(feed.changes(readFrame(sources))), [
      { event: 'status', data: state.status },
      { event: 'sessions', data: { upserted: state.sessions, removed: [] } },
      { event: 'turns', data: { upserted: [{ ...turn(1, 'running'), text: undefined, textChars: 0 }].map((t) => JSON.parse(JSON.stringify(t)) as unknown) } },
      { event: 'pending', data: state.pending },
    ]);
    state.sessions = [{ id: 'b', busy: false }];
    state.turns = [turn(2, 'running'), turn(1, 'success')];
    const next = parsed(feed.changes(readFrame(sources)));
    assert.deepEqual(next[0], { event: 'sessions', data: { upserted: [], removed: ['a'] } });
    assert.deepEqual(
      (next[1]?.data as { upserted: Array<{ id: number }> }).upserted.map((t) => t.id),
      [2, 1],
    );
    assert.equal(next.length, 2);
    assert.deepEqual(feed.changes(readFrame(sources)), []);
  });
});

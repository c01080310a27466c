// The session list's page and a session's state: pure functions, tested alone.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pageSessions } from '../../src/http/session-page.js';
import { sessionState } from '../../src/manager/sessions.js';

describe('sessionState', () => {
  it('ranks waiting on a person over running over queued', () => {
    assert.equal(sessionState({ pendingUserRequests: 1, busy: true, queued: true }), 'waiting_on_user');
    assert.equal(sessionState({ pendingUserRequests: 0, busy: true, queued: true }), 'busy');
    assert.equal(sessionState({ pendingUserRequests: 0, busy: false, queued: true }), 'queued');
    assert.equal(sessionState({ pendingUserRequests: 0, busy: false, queued: false }), 'idle');
  });
});

describe('pageSessions', () => {
  const sessions = ['d', 'b', 'a', 'e', 'c'].map((id) => ({ id, state: id === 'b' || id === 'e' ? 'busy' : 'idle' }));
  const ids = (page: { sessions: Array<{ id: string }> }): string[] => page.sessions.map((s) => s.id);

  it('sorts by id and pages with the next offset while more remain', () => {
    const first = pageSessions(sessions, { limit: 2, offset: 0 });
    assert.deepEqual([ids(first), first.total, first.nextOffset], [['a', 'b'], 5, 2]);
    const middle = pageSessions(sessions, { limit: 2, offset: 2 });
    assert.deepEqual([ids(middle), middle.nextOffset], [['c', 'd'], 4]);
    const last = pageSessions(sessions, { limit: 2, offset: 4 });
    assert.deepEqual(ids(last), ['e']);
    assert.equal('nextOffset' in last, false);
    assert.deepEqual(pageSessions(sessions, { limit: 5, offset: 0 }).nextOffset, undefined);
    assert.deepEqual(ids(pageSessions(sessions, { limit: 3, offset: 9 })), []);
  });

  it('filters first: the total and the pages count the matching sessions only', () => {
    const busy = pageSessions(sessions, { state: 'busy', limit: 1, offset: 0 });
    assert.deepEqual([ids(busy), busy.total, busy.nextOffset, busy.limit, busy.offset], [['b'], 2, 1, 1, 0]);
    assert.deepEqual(pageSessions(sessions, { state: 'queued', limit: 10, offset: 0 }).total, 0);
  });

  it('leaves its input as it was', () => {
    pageSessions(sessions, { limit: 10, offset: 0 });
    assert.deepEqual(
      sessions.map((s) => s.id),
      ['d', 'b', 'a', 'e', 'c'],
    );
  });
});

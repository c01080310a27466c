// Slot choice as pure functions: the shared pool's balance and the isolated pool's LRU eviction.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chooseIsolatedSlot, chooseSharedSlot, type SlotLoad, type SlotOccupancy } from '../../src/manager/server/slot-choice.js';

const load = (index: number, over: Partial<SlotLoad> = {}): SlotLoad => ({ index, ready: true, activeTurns: 0, pinned: 0, ...over });
const occupancy = (index: number, over: Partial<SlotOccupancy> = {}): SlotOccupancy => ({
  index,
  occupied: true,
  unheld: true,
  state: 'ready',
  recyclePending: false,
  lastUsed: 1000 + index,
  ...over,
});

describe('chooseSharedSlot', () => {
  it('prefers a ready slot over an idle one that is not ready', () => {
    assert.equal(chooseSharedSlot([load(0, { ready: false }), load(1, { activeTurns: 5, pinned: 9 })]), 1);
  });

  it('then the fewest running turns, then the fewest pinned sessions, then the lowest index', () => {
    assert.equal(chooseSharedSlot([load(0, { activeTurns: 2 }), load(1, { activeTurns: 1, pinned: 7 }), load(2, { activeTurns: 1, pinned: 3 })]), 2);
    assert.equal(chooseSharedSlot([load(0, { pinned: 1 }), load(1, { pinned: 1 })]), 0);
    assert.equal(chooseSharedSlot([load(1, { pinned: 1 }), load(0, { pinned: 1 })]), 0);
  });

  it('falls back to slot 0 for an empty pool', () => {
    assert.equal(chooseSharedSlot([]), 0);
  });
});

describe('chooseIsolatedSlot', () => {
  it('gives a free slot before evicting anyone, even a long-idle one', () => {
    assert.equal(chooseIsolatedSlot([occupancy(0, { lastUsed: 1 }), occupancy(1, { occupied: false, lastUsed: 99999 })]), 1);
  });

  it('evicts the least recently used slot that no turn holds', () => {
    assert.equal(chooseIsolatedSlot([occupancy(0, { lastUsed: 50 }), occupancy(1, { lastUsed: 10, unheld: false }), occupancy(2, { lastUsed: 30 })]), 2);
  });

  it('never evicts a slot that is starting, stopping, idle or being replaced', () => {
    for (const state of ['starting', 'stopping', 'idle']) assert.equal(chooseIsolatedSlot([occupancy(0, { state })]), undefined, state);
    assert.equal(chooseIsolatedSlot([occupancy(0, { recyclePending: true })]), undefined);
    for (const state of ['ready', 'stopped', 'failed', 'backoff']) assert.equal(chooseIsolatedSlot([occupancy(0, { state })]), 0, state);
  });

  it('answers undefined when every slot is held by a running turn', () => {
    assert.equal(chooseIsolatedSlot([occupancy(0, { unheld: false }), occupancy(1, { unheld: false })]), undefined);
  });
});

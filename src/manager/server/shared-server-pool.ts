// A shared pool: every slot's server runs from boot and serves many sessions, each pinned to one
// slot at its first use (the slot's data dir holds its conversation); a deleted session's workspace
// is released from its slot's server.
import type { Logger } from '../../logging/logger.js';
import type { Metrics } from '../../metrics/metrics.js';
import type { DisposalReason, PoolConfig, PoolRuntime } from './pool-config.js';
import { ServerPool } from './server-pool.js';
import { chooseSharedSlot } from './slot-choice.js';
import type { Slot } from './slot.js';

export class SharedServerPool extends ServerPool {
  constructor(config: PoolConfig, runtime: PoolRuntime, metrics: Metrics, logger: Logger) {
    super(config, runtime, metrics, logger, false);
  }

  async start(): Promise<void> {
    await Promise.all(this.slots.map((slot) => this.supervisor.startSlot(slot)));
    this.startProbes();
  }

  canServe(): boolean {
    return this.anyReady();
  }

  /** The slot for a session's first use: a ready one with the fewest running turns, then the fewest sessions. */
  pickSlot(): Slot {
    const index = chooseSharedSlot(
      this.slots.map((slot) => ({ index: slot.index, ready: slot.ready !== undefined, activeTurns: slot.instance?.activeTurns ?? 0, pinned: slot.pinned })),
    );
    const slot = this.slots[index]!;
    slot.pin();
    return slot;
  }

  /** A pinned session went away. */
  unpin(index: number): void {
    this.slotFor(index).unpin();
  }

  /** Releases a directory from the instance that serves it (a deleted session's workspace). */
  releaseDirectory(slot: Slot, directory: string, reason: DisposalReason): Promise<void> {
    return this.supervisor.releaseDirectory(slot, directory, reason);
  }
}

// The work one server instance has: its running turns (with their opencode session, aborted before a
// planned stop) and the directories it serves (with when each was last used, for idle release).
export class InstanceWork {
  private running = 0;
  private readonly served = new Map<string, number>();
  private readonly busy = new Map<string, string>();

  /** Turns running now. */
  get active(): number {
    return this.running;
  }

  /** Directories served, with the time each was last used. */
  get directories(): ReadonlyMap<string, number> {
    return this.served;
  }

  /** The opencode sessions with a turn running now, with their directory. */
  get busySessions(): ReadonlyMap<string, string> {
    return this.busy;
  }

  /** A turn starts on opencode session `id` in `directory`. */
  begin(id: string, directory: string): void {
    this.running += 1;
    this.touch(directory);
    this.busy.set(id, directory);
  }

  /** The turn moved to a new opencode session (its old one was gone). */
  move(from: string, to: string, directory: string): void {
    this.busy.delete(from);
    this.busy.set(to, directory);
  }

  end(id: string, directory: string): void {
    this.busy.delete(id);
    this.running -= 1;
    this.touch(directory);
  }

  /** Whether a running turn uses `directory`. */
  isBusyIn(directory: string): boolean {
    return [...this.busy.values()].includes(directory);
  }

  touch(directory: string): void {
    this.served.set(directory, Date.now());
  }

  /** The directory was released from the server (idle, or its session deleted); false when it was not served. */
  forget(directory: string): boolean {
    return this.served.delete(directory);
  }
}

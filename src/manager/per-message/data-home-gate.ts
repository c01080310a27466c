// opencode creates its SQLite database (and runs its migrations) on the first run in a data dir;
// several first runs at once race on those migrations and some fail (seen with 5 concurrent first
// messages on a fresh slot). The gate lets one run go first in a data dir that has no database yet;
// the others wait until it has finished, whatever its outcome.
import { existsSync } from 'node:fs';
import path from 'node:path';

export class DataHomeGate {
  private readonly first = new Map<string, Promise<unknown>>();

  /** Runs `task` in `dataHome`, after the first run there when the database does not exist yet. */
  async run<T>(dataHome: string, task: () => Promise<T>): Promise<T> {
    const initializing = this.first.get(dataHome);
    if (initializing !== undefined) {
      await initializing.catch(() => undefined);
      return task();
    }
    if (existsSync(path.join(dataHome, 'opencode', 'opencode.db'))) return task();
    const running = task();
    const settled = running.then(
      () => undefined,
      () => undefined,
    );
    this.first.set(dataHome, settled);
    void settled.then(() => this.first.delete(dataHome));
    return running;
  }
}

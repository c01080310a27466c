// Activity the status reports: client streams open now, and when any session last did something.
import type { SessionRecord } from '../store/session-registry.js';

export class Activity {
  private openStreams = 0;
  private last = Date.now();

  get streams(): number {
    return this.openStreams;
  }

  get lastActivity(): number {
    return this.last;
  }

  /** Counts an open client stream; call the returned function (once or more) when it closes. */
  trackStream(): () => void {
    this.openStreams += 1;
    let open = true;
    return () => {
      if (open) this.openStreams -= 1;
      open = false;
    };
  }

  touch(session: SessionRecord, at: number): void {
    session.lastActivity = at;
    this.last = at;
  }
}

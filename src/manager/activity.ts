// Activity the status reports: client streams open now, and when any session last did something.
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

  /** A session did something (its own record is the registry's to touch). */
  touch(at: number): void {
    this.last = at;
  }
}

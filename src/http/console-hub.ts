// One ticker for every open console: each OCPM_EVENTS_INTERVAL_MS it reads the live state once (a
// frame) and hands the same frame to every connection, so ten open consoles cost one read and ten
// string comparisons, not ten reads. The timer runs only while a console is connected.
import { type ConsoleFrame, type ConsoleSources, readFrame } from './console-feed.js';

export interface ConsoleSubscriber {
  /** The tick's frame; the same object for every subscriber. */
  frame(frame: ConsoleFrame): void;
  /** The state could not be read (the registry closes at shutdown while a tick may still be due). */
  fail(error: unknown): void;
}

export class ConsoleHub {
  private readonly subscribers = new Set<ConsoleSubscriber>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly sources: ConsoleSources,
    private readonly intervalMs: number,
  ) {}

  /** The state now, for a new connection's snapshot. */
  read(): ConsoleFrame {
    return readFrame(this.sources);
  }

  /** Delivers a frame each tick until the returned function is called. */
  subscribe(subscriber: ConsoleSubscriber): () => void {
    this.subscribers.add(subscriber);
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.tick(), this.intervalMs);
      this.timer.unref();
    }
    return () => {
      this.subscribers.delete(subscriber);
      if (this.subscribers.size === 0 && this.timer !== undefined) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    };
  }

  /** Whether the ticker runs (some console is connected). */
  get running(): boolean {
    return this.timer !== undefined;
  }

  private tick(): void {
    // A copy: a subscriber may unsubscribe (its stream closes) while the frame is handed out.
    const subscribers = [...this.subscribers];
    let frame: ConsoleFrame;
    try {
      frame = readFrame(this.sources);
    } catch (error) {
      for (const subscriber of subscribers) subscriber.fail(error);
      return;
    }
    for (const subscriber of subscribers) {
      try {
        subscriber.frame(frame);
      } catch (error) {
        // One connection's failure ends that connection only.
        subscriber.fail(error);
      }
    }
  }
}

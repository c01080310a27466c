// Folds the JSON event lines of `opencode run --format json` into one turn result. What each line
// says is read by the opencode wire parser (src/opencode-wire/), the same readers server mode uses
// for its answers: tokens summed over the steps, the error described, the text parts joined.
import { textOf } from '../../opencode-wire/text.js';
import { addUsage, emptyUsage } from '../../opencode-wire/tokens.js';
import { parseEventLine, readRunEvent, type OpencodeEvent } from '../../opencode-wire/run-events.js';
import type { RejectedTool } from '../../opencode-wire/tool-parts.js';
import type { TokenUsage } from '../../usage/usage.js';

export interface RunEventSummary {
  text: string;
  opencodeSessionId: string | undefined;
  tokens: TokenUsage;
  cost: number;
  /** The first error event's message, if opencode reported one. */
  errorMessage: string | undefined;
  events: number;
  /** Lines that were not JSON events (kept as a count; their text may be anything). */
  unparsedLines: number;
  /** Tool calls `run` refused because their permission resolved to `ask` (it cannot ask anyone) or `deny`. */
  rejectedTools: RejectedTool[];
}

export class RunEventCollector {
  private readonly textParts: unknown[] = [];
  readonly summary: RunEventSummary = {
    text: '',
    opencodeSessionId: undefined,
    ...emptyUsage(),
    errorMessage: undefined,
    events: 0,
    unparsedLines: 0,
    rejectedTools: [],
  };

  /** Feeds one line; returns the event when the line was one. */
  add(line: string): OpencodeEvent | undefined {
    const event = parseEventLine(line);
    if (event === undefined) {
      if (line.trim() !== '') this.summary.unparsedLines += 1;
      return undefined;
    }
    const summary = this.summary;
    summary.events += 1;
    summary.opencodeSessionId ??= event.sessionID;
    const reading = readRunEvent(event);
    switch (reading?.kind) {
      case 'text':
        this.textParts.push(reading.part);
        summary.text = textOf(this.textParts);
        break;
      case 'usage':
        ({ tokens: summary.tokens, cost: summary.cost } = addUsage(summary, reading.usage));
        break;
      case 'error':
        summary.errorMessage ??= reading.message;
        break;
      case 'rejected':
        summary.rejectedTools.push(reading.tool);
        break;
      case undefined:
        break;
    }
    return event;
  }
}

// Splits a byte stream into lines with a cap on line length, so a child that prints a huge line
// without a newline cannot make us buffer without bound.
import { StringDecoder } from 'node:string_decoder';

export interface LineSplitter {
  push(chunk: Buffer | string): void;
  /** Flushes a last line that had no trailing newline. */
  end(): void;
}

export const TRUNCATED_SUFFIX = '…[truncated]';

export function createLineSplitter(onLine: (line: string) => void, maxLineChars: number): LineSplitter {
  const decoder = new StringDecoder('utf8');
  let partial = '';
  let overflowed = false;

  // Appends to the current line; past the cap (plus room for a CRLF's '\r') the rest of the line
  // is dropped until its newline.
  const append = (text: string): void => {
    if (overflowed) return;
    partial += text;
    if (partial.length > maxLineChars + 1) {
      partial = partial.slice(0, maxLineChars + 1);
      overflowed = true;
    }
  };
  const emit = (): void => {
    const line = !overflowed && partial.endsWith('\r') ? partial.slice(0, -1) : partial;
    onLine(overflowed || line.length > maxLineChars ? cut(line, maxLineChars) + TRUNCATED_SUFFIX : line);
    partial = '';
    overflowed = false;
  };

  return {
    push(chunk) {
      let text = typeof chunk === 'string' ? chunk : decoder.write(chunk);
      let newline = text.indexOf('\n');
      while (newline !== -1) {
        append(text.slice(0, newline));
        emit();
        text = text.slice(newline + 1);
        newline = text.indexOf('\n');
      }
      append(text);
    },
    end() {
      append(decoder.end());
      if (partial !== '' || overflowed) emit();
    },
  };
}

/** Cuts to `max` UTF-16 units without splitting a surrogate pair. */
function cut(text: string, max: number): string {
  const end = max > 0 && /[\uD800-\uDBFF]/.test(text.charAt(max - 1)) ? max - 1 : max;
  return text.slice(0, end);
}

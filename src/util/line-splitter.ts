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

  // Appends to the current line; past the cap the rest of the line is dropped until its newline.
  const append = (text: string): void => {
    if (overflowed) return;
    partial += text;
    if (partial.length > maxLineChars) {
      partial = partial.slice(0, maxLineChars);
      overflowed = true;
    }
  };
  const emit = (): void => {
    const line = partial.endsWith('\r') ? partial.slice(0, -1) : partial;
    onLine(overflowed ? line + TRUNCATED_SUFFIX : line);
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

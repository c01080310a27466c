// Reads a server-sent event stream from fetch(): EventSource cannot send an Authorization header.
// Yields { event, data } for each complete event; comment lines (the heartbeat) are skipped.

/** Splits the text of a stream into events as the SSE format defines them (LF, CRLF or CR line ends). */
export function createSseParser(onEvent) {
  let buffer = '';
  let event = 'message';
  let data = [];
  const line = (text) => {
    if (text === '') {
      if (data.length > 0) onEvent({ event, data: data.join('\n') });
      event = 'message';
      data = [];
      return;
    }
    if (text.startsWith(':')) return;
    const colon = text.indexOf(':');
    const field = colon === -1 ? text : text.slice(0, colon);
    let value = colon === -1 ? '' : text.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  };
  return {
    push(chunk) {
      buffer += chunk;
      const lines = buffer.split(/\r\n|\r|\n/);
      // The last piece may be an incomplete line (a CR at the very end may still be followed by LF).
      buffer = lines.pop() ?? '';
      for (const text of lines) line(text);
    },
  };
}

/**
 * Opens `url` with the bearer token and calls `onEvent` for each event until the stream ends or
 * `signal` aborts. Resolves when the stream ends; rejects with `{ status, error }` when the answer is
 * not a stream (401 and friends), or with the network error.
 */
export async function readEventStream(url, token, onEvent, signal) {
  const response = await fetch(url, {
    headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
    cache: 'no-store',
    signal,
  });
  const type = response.headers.get('content-type') ?? '';
  if (!response.ok || !type.startsWith('text/event-stream') || response.body === null) {
    let error;
    try {
      error = (await response.json()).error;
    } catch {
      error = undefined;
    }
    throw Object.assign(new Error(`HTTP ${response.status}`), { status: response.status, error });
  }
  const parser = createSseParser(onEvent);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    parser.push(value);
  }
}

// The provider wire formats the model gateway speaks: where the key goes, how big a call may get
// (its output cap), and where the provider reports what a call used, in a JSON answer or in the
// events of a stream. `openai` covers OpenAI's chat completions and responses APIs and every
// OpenAI-compatible server; `anthropic` is the Messages API.
import type { UsageTokens } from '../usage/usage.js';
import { isRecord } from '../util/guards.js';

export const WIRES = ['openai', 'anthropic'] as const;
export type Wire = (typeof WIRES)[number];

/** How the caller's key arrives: `x-api-key` (Anthropic) or `Authorization: Bearer` (everyone). */
export function keyOf(headers: Readonly<Record<string, string | string[] | undefined>>): string | undefined {
  const apiKey = headers['x-api-key'];
  if (typeof apiKey === 'string' && apiKey !== '') return apiKey;
  const authorization = headers.authorization;
  if (typeof authorization !== 'string') return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
  return match?.[1];
}

/** The upstream headers that carry the real key. */
export function authHeaders(wire: Wire, key: string): Record<string, string> {
  if (key === '') return {};
  return wire === 'anthropic' ? { 'x-api-key': key } : { authorization: `Bearer ${key}` };
}

/** The caller's output cap: `max_tokens` (chat, Messages), `max_completion_tokens`, `max_output_tokens` (responses). */
export function maxOutputOf(body: Record<string, unknown>): number | undefined {
  for (const field of ['max_completion_tokens', 'max_output_tokens', 'max_tokens']) {
    const value = body[field];
    if (typeof value === 'number' && Number.isFinite(value) && value > 0) return Math.ceil(value);
  }
  return undefined;
}

/**
 * A chat-completions stream reports usage only when asked (`stream_options.include_usage`): the
 * gateway asks for every stream, so a caller cannot get an uncounted answer by leaving it out.
 */
export function withStreamUsage(wire: Wire, path: string, body: Record<string, unknown>): boolean {
  if (wire !== 'openai' || body.stream !== true || !path.endsWith('/chat/completions')) return false;
  const options = isRecord(body.stream_options) ? body.stream_options : {};
  if (options.include_usage === true) return false;
  body.stream_options = { ...options, include_usage: true };
  return true;
}

const EMPTY: UsageTokens = { input: 0, output: 0, reasoning: 0, cacheRead: 0, cacheWrite: 0 };

/**
 * One call's usage as the five disjoint counts: OpenAI's prompt/input count includes cached tokens
 * and its completion/output count includes reasoning, so those are taken out; Anthropic reports
 * input, cache read and cache write apart already, and output with its thinking included.
 */
export class UsageReader {
  private tokens: UsageTokens | undefined;

  constructor(private readonly wire: Wire) {}

  /** The usage seen so far, or undefined when the provider reported none. */
  get usage(): UsageTokens | undefined {
    return this.tokens;
  }

  /** A whole JSON answer. */
  readAnswer(text: string): void {
    this.readObject(parseJson(text));
  }

  /** One `data:` payload of a stream (cheap for the many chunks that carry no usage). */
  readEvent(data: string): void {
    if (!data.includes('usage')) return;
    this.readObject(parseJson(data));
  }

  private readObject(value: unknown): void {
    if (!isRecord(value)) return;
    if (this.wire === 'anthropic') {
      // message_start: message.usage; message_delta: usage (output so far, the final one last).
      const usage = isRecord(value.message) && isRecord(value.message.usage) ? value.message.usage : isRecord(value.usage) ? value.usage : undefined;
      if (usage !== undefined) this.readAnthropic(usage);
      return;
    }
    // Chat completions: usage; responses: response.usage (response.completed) or usage (a whole answer).
    const usage = isRecord(value.usage) ? value.usage : isRecord(value.response) && isRecord(value.response.usage) ? value.response.usage : undefined;
    if (usage !== undefined) this.readOpenai(usage);
  }

  private readOpenai(usage: Record<string, unknown>): void {
    const input = count(usage.prompt_tokens ?? usage.input_tokens);
    const output = count(usage.completion_tokens ?? usage.output_tokens);
    const inputDetails = record(usage.prompt_tokens_details ?? usage.input_tokens_details);
    const outputDetails = record(usage.completion_tokens_details ?? usage.output_tokens_details);
    const cacheRead = Math.min(input, count(inputDetails.cached_tokens));
    const reasoning = Math.min(output, count(outputDetails.reasoning_tokens));
    this.tokens = { input: input - cacheRead, output: output - reasoning, reasoning, cacheRead, cacheWrite: 0 };
  }

  private readAnthropic(usage: Record<string, unknown>): void {
    const before = this.tokens ?? EMPTY;
    // A later event repeats or raises the counts; a field it leaves out keeps its earlier value.
    const pick = (field: string, previous: number): number => (usage[field] === undefined ? previous : Math.max(previous, count(usage[field])));
    this.tokens = {
      input: pick('input_tokens', before.input),
      output: pick('output_tokens', before.output),
      reasoning: 0,
      cacheRead: pick('cache_read_input_tokens', before.cacheRead),
      cacheWrite: pick('cache_creation_input_tokens', before.cacheWrite),
    };
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.floor(value) : 0;
}

function record(value: unknown): Record<string, unknown> {
  return isRecord(value) ? value : {};
}

// The model gateway's wire formats: where the caller's key is, how big a call may get, the
// include_usage the gateway adds to chat-completions streams, and the usage read from the answers
// and stream events of OpenAI's chat completions and responses APIs and Anthropic's Messages API
// (payloads shaped as the providers document them).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { authHeaders, keyOf, maxOutputOf, UsageReader, withStreamUsage } from '../../src/gateway/wire-formats.js';

describe('keyOf', () => {
  it('takes x-api-key (Anthropic) first', () => {
    assert.equal(keyOf({ 'x-api-key': 'ocpm-vk-a', authorization: 'Bearer ocpm-vk-b' }), 'ocpm-vk-a');
  });

  it('takes an Authorization: Bearer token, case-insensitively and trimmed', () => {
    assert.equal(keyOf({ authorization: 'Bearer ocpm-vk-b' }), 'ocpm-vk-b');
    assert.equal(keyOf({ authorization: '  bearer   ocpm-vk-c ' }), 'ocpm-vk-c');
  });

  it('gives undefined without a key, with an empty x-api-key and for other schemes', () => {
    assert.equal(keyOf({}), undefined);
    assert.equal(keyOf({ 'x-api-key': '' }), undefined);
    assert.equal(keyOf({ authorization: 'Basic dXNlcjpwYXNz' }), undefined);
    assert.equal(keyOf({ authorization: 'Bearer' }), undefined);
    assert.equal(keyOf({ authorization: 'Bearer two words' }), undefined);
  });

  it('falls back to Bearer when x-api-key is empty', () => {
    assert.equal(keyOf({ 'x-api-key': '', authorization: 'Bearer ocpm-vk-d' }), 'ocpm-vk-d');
  });
});

describe('authHeaders', () => {
  it('puts the key where each wire expects it, and nothing for a keyless provider', () => {
    assert.deepEqual(authHeaders('anthropic', 'real'), { 'x-api-key': 'real' });
    assert.deepEqual(authHeaders('openai', 'real'), { authorization: 'Bearer real' });
    assert.deepEqual(authHeaders('openai', ''), {});
  });
});

describe('maxOutputOf', () => {
  it('reads max_tokens (chat, Messages)', () => {
    assert.equal(maxOutputOf({ max_tokens: 512 }), 512);
  });

  it('reads max_completion_tokens (chat)', () => {
    assert.equal(maxOutputOf({ max_completion_tokens: 700 }), 700);
  });

  it('reads max_output_tokens (responses)', () => {
    assert.equal(maxOutputOf({ max_output_tokens: 900 }), 900);
  });

  it('rounds a fraction up and ignores non-positive, non-finite and non-number caps', () => {
    assert.equal(maxOutputOf({ max_tokens: 10.2 }), 11);
    assert.equal(maxOutputOf({ max_tokens: 0 }), undefined);
    assert.equal(maxOutputOf({ max_tokens: -5 }), undefined);
    assert.equal(maxOutputOf({ max_tokens: '100' }), undefined);
    assert.equal(maxOutputOf({ max_tokens: Number.POSITIVE_INFINITY }), undefined);
    assert.equal(maxOutputOf({}), undefined);
  });
});

describe('withStreamUsage', () => {
  it('asks an OpenAI chat-completions stream for its usage', () => {
    const body: Record<string, unknown> = { model: 'gpt', stream: true };
    assert.equal(withStreamUsage('openai', '/chat/completions', body), true);
    assert.deepEqual(body.stream_options, { include_usage: true });
  });

  it('keeps the other stream_options', () => {
    const body: Record<string, unknown> = { stream: true, stream_options: { include_obfuscation: false } };
    assert.equal(withStreamUsage('openai', '/v1/chat/completions', body), true);
    assert.deepEqual(body.stream_options, { include_obfuscation: false, include_usage: true });
  });

  it('leaves a body alone that already asks for it', () => {
    const body: Record<string, unknown> = { stream: true, stream_options: { include_usage: true } };
    assert.equal(withStreamUsage('openai', '/chat/completions', body), false);
    assert.deepEqual(body, { stream: true, stream_options: { include_usage: true } });
  });

  it('overrides an explicit include_usage: false', () => {
    const body: Record<string, unknown> = { stream: true, stream_options: { include_usage: false } };
    assert.equal(withStreamUsage('openai', '/chat/completions', body), true);
    assert.deepEqual(body.stream_options, { include_usage: true });
  });

  it('does nothing for a non-stream call, the responses API or the Messages API', () => {
    for (const [wire, path, body] of [
      ['openai', '/chat/completions', { stream: false }],
      ['openai', '/chat/completions', {}],
      ['openai', '/responses', { stream: true }],
      ['anthropic', '/messages', { stream: true }],
    ] as const) {
      const copy: Record<string, unknown> = { ...body };
      assert.equal(withStreamUsage(wire, path, copy), false, `${wire} ${path}`);
      assert.deepEqual(copy, body);
    }
  });
});

describe('UsageReader (OpenAI chat completions)', () => {
  const usage = {
    prompt_tokens: 1000,
    completion_tokens: 300,
    total_tokens: 1300,
    prompt_tokens_details: { cached_tokens: 400, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 120, audio_tokens: 0 },
  };
  const disjoint = { input: 600, output: 180, reasoning: 120, cacheRead: 400, cacheWrite: 0 };

  it('reads a whole JSON answer as five disjoint counts (input without cached, output without reasoning)', () => {
    const reader = new UsageReader('openai');
    reader.readAnswer(
      JSON.stringify({
        id: 'chatcmpl-1',
        object: 'chat.completion',
        choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
        usage,
      }),
    );
    assert.deepEqual(reader.usage, disjoint);
  });

  it('reads the usage chunk of a stream and skips the chunks before it', () => {
    const reader = new UsageReader('openai');
    reader.readEvent(JSON.stringify({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: 'He' } }], usage: null }));
    assert.equal(reader.usage, undefined);
    reader.readEvent(JSON.stringify({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage: null }));
    reader.readEvent(JSON.stringify({ id: 'c', object: 'chat.completion.chunk', choices: [], usage }));
    reader.readEvent('[DONE]');
    assert.deepEqual(reader.usage, disjoint);
  });

  it('reads usage without details as input and output only', () => {
    const reader = new UsageReader('openai');
    reader.readAnswer(JSON.stringify({ usage: { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 } }));
    assert.deepEqual(reader.usage, { input: 12, output: 5, reasoning: 0, cacheRead: 0, cacheWrite: 0 });
  });
});

describe('UsageReader (OpenAI responses)', () => {
  const usage = {
    input_tokens: 2000,
    input_tokens_details: { cached_tokens: 1500 },
    output_tokens: 800,
    output_tokens_details: { reasoning_tokens: 500 },
    total_tokens: 2800,
  };
  const disjoint = { input: 500, output: 300, reasoning: 500, cacheRead: 1500, cacheWrite: 0 };

  it('reads response.usage of the response.completed event', () => {
    const reader = new UsageReader('openai');
    reader.readEvent(JSON.stringify({ type: 'response.created', response: { id: 'resp_1', status: 'in_progress', usage: null } }));
    reader.readEvent(JSON.stringify({ type: 'response.output_text.delta', delta: 'the usage of a word' }));
    assert.equal(reader.usage, undefined);
    reader.readEvent(JSON.stringify({ type: 'response.completed', sequence_number: 9, response: { id: 'resp_1', status: 'completed', usage } }));
    assert.deepEqual(reader.usage, disjoint);
  });

  it('reads a whole responses JSON answer', () => {
    const reader = new UsageReader('openai');
    reader.readAnswer(JSON.stringify({ id: 'resp_1', object: 'response', status: 'completed', output: [], usage }));
    assert.deepEqual(reader.usage, disjoint);
  });
});

describe('UsageReader (Anthropic Messages)', () => {
  it('reads message_start and the cumulative output of message_delta', () => {
    const reader = new UsageReader('anthropic');
    reader.readEvent(
      JSON.stringify({
        type: 'message_start',
        message: {
          id: 'msg_1',
          type: 'message',
          role: 'assistant',
          content: [],
          usage: { input_tokens: 25, cache_creation_input_tokens: 1200, cache_read_input_tokens: 3000, output_tokens: 1 },
        },
      }),
    );
    assert.deepEqual(reader.usage, { input: 25, output: 1, reasoning: 0, cacheRead: 3000, cacheWrite: 1200 });
    reader.readEvent(JSON.stringify({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hello' } }));
    reader.readEvent(JSON.stringify({ type: 'message_delta', delta: { stop_reason: null }, usage: { output_tokens: 40 } }));
    reader.readEvent(JSON.stringify({ type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 95 } }));
    reader.readEvent(JSON.stringify({ type: 'message_stop' }));
    // Cumulative: the last count, not the sum of 1 + 40 + 95.
    assert.deepEqual(reader.usage, { input: 25, output: 95, reasoning: 0, cacheRead: 3000, cacheWrite: 1200 });
  });

  it('reads a whole Messages JSON answer', () => {
    const reader = new UsageReader('anthropic');
    reader.readAnswer(
      JSON.stringify({
        id: 'msg_2',
        type: 'message',
        role: 'assistant',
        content: [{ type: 'text', text: 'hi' }],
        stop_reason: 'end_turn',
        usage: { input_tokens: 10, cache_creation_input_tokens: 20, cache_read_input_tokens: 30, output_tokens: 40 },
      }),
    );
    assert.deepEqual(reader.usage, { input: 10, output: 40, reasoning: 0, cacheRead: 30, cacheWrite: 20 });
  });
});

describe('UsageReader without usage', () => {
  it('gives undefined for answers and events that carry none, and for text that is not JSON', () => {
    for (const wire of ['openai', 'anthropic'] as const) {
      const reader = new UsageReader(wire);
      reader.readAnswer(JSON.stringify({ id: 'x', choices: [], content: [] }));
      reader.readAnswer('not json');
      reader.readAnswer('');
      reader.readEvent('[DONE]');
      reader.readEvent('{"usage": truncated');
      reader.readEvent(JSON.stringify({ usage: null }));
      reader.readEvent(JSON.stringify(['usage']));
      assert.equal(reader.usage, undefined, wire);
    }
  });
});

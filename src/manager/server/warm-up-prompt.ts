// One prompt in a throwaway conversation of a workspace, whose model call the model gateway answers
// itself (src/gateway/warm-up-calls.ts): a server's first prompt in a workspace loads ~1.3 s of what
// every later prompt there reuses, and no read loads it. The conversation is deleted after.
import type { OpencodeClient } from './opencode-client.js';

/** The throwaway conversation's title (a title spares opencode a model call to make one). */
export const WARM_UP_TITLE = 'ocpm warm-up';

/** The gateway's side: calls naming the conversation are answered by it until the returned function is called. */
export interface WarmUpCallAnswerer {
  expect(conversationId: string): () => void;
}

export async function sendWarmUpPrompt(client: OpencodeClient, directory: string, answerer: WarmUpCallAnswerer, timeoutMs: number): Promise<void> {
  const conversation = await client.createSession(directory, WARM_UP_TITLE, timeoutMs);
  const done = answerer.expect(conversation);
  try {
    // opencode ends this turn with the gateway's error (it does not retry a 402): that is the point.
    await client.sendMessage(conversation, directory, { parts: [{ type: 'text', text: 'warm-up' }] }, AbortSignal.timeout(timeoutMs));
  } finally {
    done();
    await client.deleteSession(conversation, directory, timeoutMs).catch(() => undefined);
  }
}

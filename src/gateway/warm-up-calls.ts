// The model calls of warm-up prompts: a server's first prompt in a workspace loads what every later
// prompt there reuses (~1.3 s of opencode's CPU), so a session's warm-up sends one prompt in a
// throwaway conversation. Its model call never leaves the service: the gateway answers it at once
// with an error opencode does not retry, after opencode has loaded everything the call needed.
export class WarmUpCalls {
  private readonly conversations = new Set<string>();

  /** Calls naming this opencode conversation (`x-session-id`) are warm-up calls until the returned function is called. */
  expect(conversationId: string): () => void {
    this.conversations.add(conversationId);
    return () => this.conversations.delete(conversationId);
  }

  has(conversationId: string | string[] | undefined): boolean {
    return typeof conversationId === 'string' && this.conversations.has(conversationId);
  }
}

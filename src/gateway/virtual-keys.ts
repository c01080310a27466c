// The keys opencode children call the gateway with: random, one per session (or one per shared pool
// server, whose calls name their session in `x-session-id`), known only to this replica's memory, so
// a session handed to another replica gets a new one there. Keys are looked up by their SHA-256 and
// the stored digest is compared in constant time: a wrong key's timing says nothing about a right one.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export type KeyHolder = { readonly kind: 'session'; readonly sessionId: string } | { readonly kind: 'server'; readonly slot: number };

const PREFIX = 'ocpm-vk-';

function digest(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}

export class VirtualKeys {
  private readonly byDigest = new Map<string, { digest: Buffer; holder: KeyHolder }>();
  private readonly bySession = new Map<string, string>();
  private readonly bySlot = new Map<number, string>();

  /** The session's key, minted at its first use on this replica. */
  forSession(sessionId: string): string {
    return this.keyIn(this.bySession, sessionId, { kind: 'session', sessionId });
  }

  /** The key of a shared pool server (slot). */
  forSlot(slot: number): string {
    return this.keyIn(this.bySlot, slot, { kind: 'server', slot });
  }

  /** Who holds the key, or undefined for an unknown or revoked one. */
  holderOf(key: string | undefined): KeyHolder | undefined {
    if (key === undefined || !key.startsWith(PREFIX)) return undefined;
    const presented = digest(key);
    const entry = this.byDigest.get(presented.toString('hex'));
    if (entry === undefined || !timingSafeEqual(entry.digest, presented)) return undefined;
    return entry.holder;
  }

  /** The session's key stops working at once (session deleted, handed over). */
  revokeSession(sessionId: string): void {
    const key = this.bySession.get(sessionId);
    if (key === undefined) return;
    this.byDigest.delete(digest(key).toString('hex'));
    this.bySession.delete(sessionId);
  }

  revokeAll(): void {
    this.byDigest.clear();
    this.bySession.clear();
    this.bySlot.clear();
  }

  get size(): number {
    return this.byDigest.size;
  }

  /** The key `keys` holds for `id`, minted for `holder` the first time. */
  private keyIn<K>(keys: Map<K, string>, id: K, holder: KeyHolder): string {
    let key = keys.get(id);
    if (key === undefined) {
      key = this.mint(holder);
      keys.set(id, key);
    }
    return key;
  }

  private mint(holder: KeyHolder): string {
    const key = `${PREFIX}${randomBytes(24).toString('base64url')}`;
    const hashed = digest(key);
    this.byDigest.set(hashed.toString('hex'), { digest: hashed, holder });
    return key;
  }
}

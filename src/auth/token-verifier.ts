// Bearer token matching in constant time. Tokens are compared as SHA-256 digests, so the time taken
// depends neither on where a wrong token differs nor on its length, and every configured token is
// checked (no early exit) so the position of the match does not leak either.
import { createHash, timingSafeEqual } from 'node:crypto';

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** A stable, non-reversible name for a token: the key for per-token limits (never logged as a secret). */
export function principalOf(token: string): string {
  return `token:${digest(token).toString('hex').slice(0, 16)}`;
}

export class TokenVerifier {
  private digests: Buffer[] = [];
  private principals: string[] = [];

  constructor(tokens: readonly string[]) {
    this.replace(tokens);
  }

  get size(): number {
    return this.digests.length;
  }

  /** Swaps the accepted tokens (rotation from a re-read token file). */
  replace(tokens: readonly string[]): void {
    const unique = [...new Set(tokens)];
    this.digests = unique.map(digest);
    this.principals = unique.map(principalOf);
  }

  /** The principal of the matching token, or undefined. */
  verify(presented: string): string | undefined {
    const candidate = digest(presented);
    let match = -1;
    for (let index = 0; index < this.digests.length; index += 1) {
      if (timingSafeEqual(candidate, this.digests[index] as Buffer) && match === -1) match = index;
    }
    return match === -1 ? undefined : this.principals[match];
  }
}

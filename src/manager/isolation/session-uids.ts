// Each session's own uid (where the service may switch uids: root, or CAP_SETUID/SETGID/CHOWN):
// its workspace and session home belong to it and are closed to the other sessions, which covers
// what Landlock does not (chmod, chown, timestamps, xattrs, Unix sockets by path, per-uid process
// counts). The uid is kept as the owner of the session home, so it survives restarts; a home without
// one (new, or installed by a handoff) gets the next free uid from a hash of the session id.
import { createHash } from 'node:crypto';
import { chmodSync, lchownSync, lstatSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { SessionHome } from './session-home.js';

export interface UidRange {
  readonly first: number;
  readonly last: number;
}

export interface UidOwner {
  readonly sessionId: string;
  readonly workspace: string;
  readonly home: SessionHome;
}

function ownerOf(p: string): number | undefined {
  try {
    return lstatSync(p).uid;
  } catch {
    return undefined;
  }
}

/**
 * Gives the tree to uid:gid without following links. A workspace's directories get the setgid bit:
 * whatever is created in them, by the agent or by the web app, is in the session's group, so a file
 * the web app writes with group write (umask 002) stays the agent's to change.
 */
function chownTree(root: string, uid: number, gid: number, mode: { dir: number; keepGroupBits: boolean }): void {
  const walk = (p: string): void => {
    const stat = lstatSync(p);
    if (stat.isSymbolicLink()) return;
    // lchown: never through a link, even one that appeared since the lstat.
    lchownSync(p, uid, gid);
    if (stat.isDirectory()) {
      chmodSync(p, mode.dir);
      for (const name of readdirSync(p)) walk(path.join(p, name));
    } else if (mode.keepGroupBits) {
      // Owner bits to the group too (the web app reads and writes), nothing for others.
      chmodSync(p, (stat.mode & 0o700) | ((stat.mode & 0o700) >> 3));
    } else {
      chmodSync(p, stat.mode & 0o700);
    }
  };
  walk(root);
}

export class SessionUids {
  private readonly bySession = new Map<string, number>();
  private readonly used = new Set<number>();

  /** @param sessionsRoot <data dir>/opencode/sessions: each home's owner is its session's uid. */
  constructor(
    private readonly range: UidRange,
    sessionsRoot: string,
  ) {
    // Every session uid passes through these (o+x), without listing them (no o+r).
    for (const dir of [path.dirname(sessionsRoot), sessionsRoot]) {
      mkdirSync(dir, { recursive: true });
      chmodSync(dir, 0o711);
    }
    let names: string[] = [];
    try {
      names = readdirSync(sessionsRoot);
    } catch {
      // No session yet.
    }
    for (const name of names) {
      const uid = ownerOf(path.join(sessionsRoot, name));
      if (uid !== undefined && this.inRange(uid)) {
        this.bySession.set(name, uid);
        this.used.add(uid);
      }
    }
  }

  private inRange(uid: number): boolean {
    return uid >= this.range.first && uid <= this.range.last;
  }

  /** The session's uid, allocated on first use. */
  uidOf(sessionId: string): number {
    const known = this.bySession.get(sessionId);
    if (known !== undefined) return known;
    const size = this.range.last - this.range.first + 1;
    if (this.used.size >= size) throw new Error(`OCPM_SESSION_UID_RANGE has no free uid left (${size} in use)`);
    const start = createHash('sha256').update(sessionId).digest().readUInt32BE(0) % size;
    let offset = start;
    while (this.used.has(this.range.first + offset)) offset = (offset + 1) % size;
    const uid = this.range.first + offset;
    this.bySession.set(sessionId, uid);
    this.used.add(uid);
    return uid;
  }

  /**
   * Before the session's opencode starts: its home and workspace belong to its uid. Cheap when they
   * already do (a few stats); a new, moved or handed-over session is given its tree once.
   */
  ensure(owner: UidOwner): number {
    const uid = this.uidOf(owner.sessionId);
    const database = path.join(owner.home.data, 'opencode', 'opencode.db');
    if (ownerOf(owner.home.root) !== uid || (ownerOf(database) ?? uid) !== uid) {
      chownTree(owner.home.root, uid, uid, { dir: 0o700, keepGroupBits: false });
    }
    if (ownerOf(owner.workspace) !== uid || (statSync(owner.workspace).mode & 0o7777) !== 0o2770) {
      chownTree(owner.workspace, uid, uid, { dir: 0o2770, keepGroupBits: true });
    }
    return uid;
  }
}

/** The first of `paths` some other uid cannot reach (an ancestor without o+x), or undefined. */
export function unreachableByOthers(paths: readonly string[]): string | undefined {
  for (const start of paths) {
    let p = path.resolve(start);
    for (;;) {
      try {
        if ((statSync(p).mode & 0o001) === 0) return p;
      } catch {
        // Not created yet: its parents decide.
      }
      const parent = path.dirname(p);
      if (parent === p) break;
      p = parent;
    }
  }
  return undefined;
}

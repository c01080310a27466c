// A session record's fields as the contract has them (null where the record has undefined), both
// ways: what the API and a peer are shown of it, and a record rebuilt from a peer's transfer.
import type { SessionTransfer } from '../contracts/session.js';
import { usageFrom } from '../usage/usage.js';
import type { SessionRecord } from './session-store.js';

/** The fields every outside view of a session carries. */
export function sharedFields(session: Readonly<SessionRecord>) {
  return {
    id: session.id,
    workspace: session.workspace,
    opencodeSessionId: session.opencodeSessionId ?? null,
    messageCount: session.messageCount,
    createdAt: session.createdAt,
    lastActivity: session.lastActivity,
    usage: session.usage,
  };
}

/** What a peer needs of the record to continue the session. */
export function transferRecord(session: Readonly<SessionRecord>): SessionTransfer['record'] {
  return { ...sharedFields(session), lastMessageAt: session.lastMessageAt ?? null };
}

/** The record a peer's transfer describes; its slot is chosen here, at its first use. */
export function recordFromTransfer(record: SessionTransfer['record']): SessionRecord {
  return {
    id: record.id,
    workspace: record.workspace,
    opencodeSessionId: record.opencodeSessionId ?? undefined,
    messageCount: record.messageCount,
    createdAt: record.createdAt,
    lastActivity: record.lastActivity,
    lastMessageAt: record.lastMessageAt ?? undefined,
    slot: undefined,
    usage: usageFrom(record.usage),
  };
}

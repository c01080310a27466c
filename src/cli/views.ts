// The shapes the CLI reads from the API, loosely: fields added by newer services (a session's `state`
// and `usage`, the list's paging, the status's `usage`) are optional, so an older service still prints.
import type { z } from 'zod';
import type { SessionView as ContractSessionView, sessionUsageSchema, tokenCountsSchema } from '../contracts/session.js';

type UsageTokens = z.infer<typeof tokenCountsSchema>;
type SessionUsage = z.infer<typeof sessionUsageSchema>;

/** Usage as the service reports it, every field optional (an older service lacks some). */
export type Usage = { readonly tokens?: Partial<UsageTokens> } & Partial<Readonly<Omit<SessionUsage, 'tokens'>>>;

/** A session as the API shows it (src/contracts/session.ts), every field but the id optional; `state` any string a newer service may add. */
export type SessionView = { readonly id: string } & Partial<Readonly<Omit<ContractSessionView, 'id' | 'state' | 'usage'>>> & {
    readonly state?: string;
    readonly usage?: Usage;
  };

export interface SessionList {
  readonly sessions: SessionView[];
  readonly total?: number;
  readonly limit?: number;
  readonly offset?: number;
  readonly nextOffset?: number;
  readonly unreachableReplicas?: string[];
}

export interface InstanceView {
  readonly id: string;
  readonly pid?: number | null;
  readonly state?: string;
  readonly startedAt?: number | null;
  readonly restarts?: number;
  readonly rssBytes?: number;
  readonly activeTurns?: number;
  readonly directories?: number;
  readonly lastError?: string | null;
}

export interface StatusView {
  /** `summary` without a valid token (no sessions, turns, instances or usage), `full` with one; absent from older services (full). */
  readonly detail?: string;
  readonly available?: boolean;
  readonly version?: string | null;
  readonly state?: string;
  readonly draining?: boolean;
  readonly sessions?: number;
  readonly runningTurns?: number;
  readonly queuedRequests?: number;
  readonly sessionsWaitingOnUser?: number;
  readonly runningProcesses?: number;
  readonly configuredMode?: string | null;
  readonly unavailableReason?: string | null;
  readonly notReady?: { code?: string; message?: string } | null;
  readonly isolation?: { mechanism?: string; enforced?: boolean; protections?: string[]; warnings?: string[] };
  readonly gateway?: { enabled?: boolean; providers?: string[]; refused?: Array<{ id?: string; reason?: string }>; configError?: string | null } | null;
  readonly replica?: string;
  readonly usage?: Usage;
  readonly processManager?: { mode?: string; instances?: InstanceView[] };
}

/** A permission request a turn waits on (GET /api/sessions/:id/pending). */
export interface PermissionRequestView {
  readonly id: string;
  readonly sessionId: string;
  readonly permission?: string;
  readonly patterns?: string[];
  readonly metadata?: Record<string, unknown>;
  /** ISO time at which the service rejects it unanswered. */
  readonly expiresAt?: string;
}

export interface QuestionRequestView {
  readonly id: string;
  readonly sessionId: string;
  readonly questions?: Array<{
    question?: string;
    header?: string;
    options?: Array<{ label?: string; description?: string }>;
    multiple?: boolean;
    custom?: boolean;
  }>;
  readonly expiresAt?: string;
}

export interface PendingRequestsView {
  readonly permissions: PermissionRequestView[];
  readonly questions: QuestionRequestView[];
}

/** A session's state: the service's own when it sends one, else what `busy`/`waitingOnUser` say. */
export function sessionState(session: SessionView): string {
  if (typeof session.state === 'string') return session.state;
  if (session.waitingOnUser === true) return 'waiting_on_user';
  return session.busy === true ? 'busy' : 'idle';
}

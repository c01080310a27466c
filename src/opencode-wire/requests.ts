// opencode's permission and question bus events (`permission.asked`, `question.asked`, and the events
// that say a request was settled), read into the shapes the service forwards to its clients (the
// manager's AskedPermission and AskedQuestion take these as they are).
import type {
  EventPermissionAsked,
  EventPermissionReplied,
  EventQuestionAsked,
  EventQuestionRejected,
  EventQuestionReplied,
  QuestionInfo,
  QuestionOption as SdkQuestionOption,
} from '@opencode-ai/sdk/v2';
import { isRecord } from '../util/guards.js';
import { propertiesOf, type BusEvent } from './bus-events.js';
import type { Unchecked } from './unchecked.js';

export interface PermissionRequest {
  readonly id: string;
  readonly permission: string;
  readonly patterns: readonly string[];
  readonly metadata: Record<string, unknown>;
}

export interface QuestionChoice {
  readonly label: string;
  readonly description: string;
}

export interface Question {
  readonly question: string;
  readonly header: string;
  readonly options: readonly QuestionChoice[];
  readonly multiple: boolean;
  readonly custom: boolean;
}

export interface QuestionRequest {
  readonly id: string;
  readonly questions: readonly Question[];
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

export function askedPermission(event: BusEvent): PermissionRequest | undefined {
  const p = propertiesOf<EventPermissionAsked>(event, 'permission.asked');
  if (p === undefined || typeof p.id !== 'string' || typeof p.permission !== 'string') return undefined;
  return { id: p.id, permission: p.permission, patterns: strings(p.patterns), metadata: isRecord(p.metadata) ? p.metadata : {} };
}

function option(value: unknown): QuestionChoice | undefined {
  const o: Unchecked<SdkQuestionOption> | undefined = isRecord(value) ? value : undefined;
  if (o === undefined || typeof o.label !== 'string') return undefined;
  return { label: o.label, description: text(o.description) };
}

function question(value: unknown): Question | undefined {
  const q: Unchecked<QuestionInfo> | undefined = isRecord(value) ? value : undefined;
  if (q === undefined || typeof q.question !== 'string') return undefined;
  const options = Array.isArray(q.options) ? q.options.map(option).filter((o): o is QuestionChoice => o !== undefined) : [];
  // opencode's defaults: one choice, and a typed answer allowed unless the tool said otherwise.
  return { question: q.question, header: text(q.header), options, multiple: q.multiple === true, custom: q.custom !== false };
}

export function askedQuestion(event: BusEvent): QuestionRequest | undefined {
  const p = propertiesOf<EventQuestionAsked>(event, 'question.asked');
  if (p === undefined || typeof p.id !== 'string' || !Array.isArray(p.questions)) return undefined;
  return { id: p.id, questions: p.questions.map(question).filter((q): q is Question => q !== undefined) };
}

/**
 * A pending request as opencode lists it (GET /permission and /question answer the properties of
 * their `*.asked` events), as that event with its session; undefined when it names no session.
 */
export function listedRequest(type: 'permission.asked' | 'question.asked', item: unknown): { sessionId: string; event: BusEvent } | undefined {
  return isRecord(item) && typeof item.sessionID === 'string' ? { sessionId: item.sessionID, event: { type, properties: item } } : undefined;
}

type SettledEvent = EventPermissionReplied | EventQuestionReplied | EventQuestionRejected;
const SETTLED_TYPES: readonly string[] = ['permission.replied', 'question.replied', 'question.rejected'] satisfies SettledEvent['type'][];

/** The request an event says was settled (replied or rejected, by anyone), if it is one. */
export function settledRequestId(event: BusEvent): string | undefined {
  if (!SETTLED_TYPES.includes(event.type)) return undefined;
  const p = event.properties;
  // The SDK's key first; then other spellings, kept as they were before the SDK's types.
  const sdkKey: keyof SettledEvent['properties'] = 'requestID';
  for (const key of [sdkKey, 'requestId', 'permissionID', 'id']) {
    if (typeof p[key] === 'string') return p[key];
  }
  return undefined;
}

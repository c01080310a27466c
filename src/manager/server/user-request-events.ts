// Reads opencode's permission and question bus events (`permission.asked`, `question.asked`, and the
// events that say a request was settled) into the shapes the service forwards to its clients.
import type { AskedPermission, AskedQuestion } from '../user-requests/user-requests.js';
import type { QuestionItem, QuestionOption } from '../user-requests/user-request.js';
import type { BusEvent } from './event-hub.js';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

export function askedPermission(event: BusEvent): AskedPermission | undefined {
  if (event.type !== 'permission.asked') return undefined;
  const p = event.properties;
  if (typeof p.id !== 'string' || typeof p.permission !== 'string') return undefined;
  return { id: p.id, permission: p.permission, patterns: strings(p.patterns), metadata: isRecord(p.metadata) ? p.metadata : {} };
}

function option(value: unknown): QuestionOption | undefined {
  if (!isRecord(value) || typeof value.label !== 'string') return undefined;
  return { label: value.label, description: text(value.description) };
}

function question(value: unknown): QuestionItem | undefined {
  if (!isRecord(value) || typeof value.question !== 'string') return undefined;
  const options = Array.isArray(value.options) ? value.options.map(option).filter((o): o is QuestionOption => o !== undefined) : [];
  // opencode's defaults: one choice, and a typed answer allowed unless the tool said otherwise.
  return { question: value.question, header: text(value.header), options, multiple: value.multiple === true, custom: value.custom !== false };
}

export function askedQuestion(event: BusEvent): AskedQuestion | undefined {
  if (event.type !== 'question.asked') return undefined;
  const p = event.properties;
  if (typeof p.id !== 'string' || !Array.isArray(p.questions)) return undefined;
  return { id: p.id, questions: p.questions.map(question).filter((q): q is QuestionItem => q !== undefined) };
}

/** The request an event says was settled (replied or rejected, by anyone), if it is one. */
export function settledRequestId(event: BusEvent): string | undefined {
  if (!['permission.replied', 'question.replied', 'question.rejected'].includes(event.type)) return undefined;
  const p = event.properties;
  for (const key of ['requestID', 'requestId', 'permissionID', 'id']) {
    if (typeof p[key] === 'string') return p[key];
  }
  return undefined;
}

// The read-only panels: service summary, server instances, recent turns, pending requests.
import { badge } from './badges.js';
import { el, formatBytes, formatCost, formatDuration, formatNumber, formatTime } from './dom.js';
import { TURN_MODES } from './vocabulary.js';

/**
 * The turn mode the service runs in, as TURN_MODES names it: processManager.mode says `server`, or
 * `per-session` when every message runs its own `opencode run`, which is the other turn mode.
 */
function turnMode(pm) {
  return pm.mode === 'server' ? pm.mode : (TURN_MODES.find((mode) => mode !== 'server') ?? pm.mode ?? '–');
}

/** The figures at the top: [label, value, tone] where tone colours the badge. */
export function summaryItems(status) {
  const pm = status.processManager ?? {};
  // Draining or ready: the manager's state says which; otherwise why it is not ready.
  const readiness = status.draining
    ? [status.state, 'warn']
    : pm.isReady
      ? [status.state, 'ok']
      : [status.notReady?.code ?? status.state ?? 'not ready', 'bad'];
  const isolation = status.isolation ?? {};
  return [
    // A warning when the service was told to use servers but runs each message on its own.
    ['Mode', turnMode(pm), pm.mode === 'server' || status.configuredMode !== 'server' ? 'ok' : 'warn', pm.description],
    ['State', readiness[0], readiness[1], status.notReady?.message ?? status.unavailableReason ?? undefined],
    [
      'Isolation',
      isolation.enforced ? isolation.mechanism : 'none',
      isolation.enforced && (isolation.warnings ?? []).length === 0 ? 'ok' : 'warn',
      [(isolation.protections ?? []).join(', '), ...(isolation.warnings ?? [])].filter((line) => line !== '').join('\n') || undefined,
    ],
    ['Replica', status.replica ?? '–', 'plain', (status.peers ?? []).map((p) => `${p.name ?? p.url}: ${p.state}`).join(', ') || 'no peers'],
    ['opencode', status.version ?? '–', 'plain', status.opencode?.defaultModel ?? undefined],
    ['Sessions', formatNumber(status.sessions), 'plain'],
    ['Running turns', formatNumber(status.runningTurns), 'plain'],
    ['Queued', formatNumber(status.queuedRequests), status.queuedRequests > 0 ? 'warn' : 'plain'],
    ['Waiting on user', formatNumber(status.sessionsWaitingOnUser), status.sessionsWaitingOnUser > 0 ? 'warn' : 'plain'],
    ['Processes', formatNumber(status.runningProcesses), 'plain'],
    ['Streams', formatNumber(status.activeStreams), 'plain'],
    ...usageItems(status.usage),
  ];
}

/** Tokens and cost of this replica's sessions, and how many are over a budget (newer services). */
function usageItems(usage) {
  if (usage === undefined || usage === null) return [];
  const tokens = Object.values(usage.tokens ?? {}).reduce((sum, n) => sum + n, 0);
  const budgets = usage.budgets ?? {};
  const limits = [budgets.tokens === null ? undefined : `${budgets.tokens} tokens`, budgets.costUsd === null ? undefined : `${budgets.costUsd} USD`]
    .filter((limit) => limit !== undefined)
    .join(', ');
  return [
    ['Tokens', formatNumber(tokens), 'plain', 'input, output, reasoning, cache read and write of every session'],
    ['Cost', formatCost(usage.cost), 'plain', `${formatNumber(usage.turns)} turns`],
    [
      'Over budget',
      formatNumber(usage.sessionsOverBudget),
      usage.sessionsOverBudget > 0 ? 'warn' : 'plain',
      limits === '' ? 'no budgets set' : `per session: ${limits}`,
    ],
  ];
}

export function summaryNode(status) {
  return summaryItems(status).map(([label, value, tone, title]) =>
    el(
      'div',
      { class: 'figure', 'data-figure': label.toLowerCase().replaceAll(' ', '-'), title },
      el('span', { class: 'label' }, label),
      el('span', { class: `value tone-${tone}` }, value),
    ),
  );
}

export function instanceRow(instance, act, now) {
  return el(
    'tr',
    { 'data-instance-id': instance.id, 'data-state': instance.state },
    el('td', { class: 'mono' }, instance.id),
    el('td', {}, badge('INSTANCE_STATES', instance.state)),
    el('td', { class: 'num' }, instance.pid ?? '–'),
    el('td', {}, instance.startedAt ? formatDuration(now - instance.startedAt) : '–'),
    el('td', { class: 'num' }, formatBytes(instance.rssBytes)),
    el('td', { class: 'num' }, formatNumber(instance.restarts)),
    el('td', { class: 'num' }, formatNumber(instance.directories)),
    el('td', { class: 'num' }, formatNumber(instance.activeTurns)),
    el('td', { class: 'error-text', title: instance.lastError ?? undefined }, instance.lastError ?? ''),
    el(
      'td',
      {},
      el('div', { class: 'actions' }, el('button', { type: 'button', 'data-action': 'restart', onclick: () => act('restart', instance.id) }, 'Restart')),
    ),
  );
}

export function turnRow(turn, now) {
  const duration = turn.durationMs ?? (turn.status === 'running' ? now - turn.startedAt : undefined);
  return el(
    'tr',
    { 'data-turn-id': turn.id, 'data-session-id': turn.sessionId, 'data-status': turn.status },
    el('td', { class: 'mono' }, turn.sessionId),
    el('td', {}, badge('TURN_STATUSES', turn.status)),
    el('td', { class: 'num' }, formatDuration(duration)),
    el('td', {}, formatTime(turn.startedAt)),
    el('td', {}, turn.mode ?? ''),
    el('td', { class: 'num' }, formatCost(turn.cost ?? undefined)),
    el('td', { class: 'error-text', title: turn.error?.message }, turn.error ? `${turn.error.code}: ${turn.error.message}` : ''),
  );
}

export function pendingRows(pending) {
  const permissions = (pending.permissions ?? []).map((p) => ({
    kind: 'permission',
    id: p.id,
    sessionId: p.sessionId,
    what: `${p.permission}${p.patterns?.length ? `: ${p.patterns.join(', ')}` : ''}`,
    expiresAt: p.expiresAt,
  }));
  const questions = (pending.questions ?? []).map((q) => ({
    kind: 'question',
    id: q.id,
    sessionId: q.sessionId,
    what: (q.questions ?? []).map((item) => item.question).join(' / '),
    expiresAt: q.expiresAt,
  }));
  return [...permissions, ...questions].map((r) =>
    el(
      'tr',
      { 'data-request-id': r.id, 'data-kind': r.kind },
      el('td', {}, el('span', { class: 'badge tone-warn' }, r.kind)),
      el('td', { class: 'mono' }, r.sessionId),
      el('td', {}, r.what),
      el('td', {}, r.expiresAt ? new Date(r.expiresAt).toLocaleTimeString() : '–'),
    ),
  );
}

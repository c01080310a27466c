// grafana/dashboard.json conforms to @grafana/schema's Dashboard (types, required fields, no unknown
// keys), is at the schema version of the Grafana the package describes, and every panel has a unit
// and a description.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { defaultDashboard } from '@grafana/schema/dist/esm/raw/dashboard/x/Dashboard_types.gen';
import { dashboardSchemaErrors } from '../helpers/dashboard-schema.js';
import { PROJECT_ROOT } from '../helpers/fixtures.js';
import { panelsOf } from '../helpers/grafana-variables.js';

describe('grafana/dashboard.json', () => {
  let text = '';
  let dashboard: Record<string, any> = {};
  before(async () => {
    text = await readFile(path.join(PROJECT_ROOT, 'grafana', 'dashboard.json'), 'utf8');
    dashboard = JSON.parse(text) as Record<string, any>;
  });

  it('type-checks as a @grafana/schema Dashboard', () => {
    assert.deepEqual(dashboardSchemaErrors(text), []);
  });

  it('the schema check catches an unknown key, a wrong type and a bad enum value', () => {
    const broken = (change: (d: Record<string, any>) => void): string => {
      const copy = structuredClone(dashboard);
      change(copy);
      return JSON.stringify(copy, null, 2);
    };
    assert.match(dashboardSchemaErrors(broken((d) => (d.panels[1].targetz = []))).join('\n'), /'"targetz"' does not exist/);
    assert.match(dashboardSchemaErrors(broken((d) => (d.panels[1].gridPos.w = '8'))).join('\n'), /not assignable to type 'number'/);
    assert.match(dashboardSchemaErrors(broken((d) => (d.panels[1].fieldConfig.defaults.color.mode = 'rainbow'))).join('\n'), /"rainbow"/);
  });

  it('has a stable uid and the schemaVersion of the Grafana that @grafana/schema describes', () => {
    assert.equal(dashboard.uid, 'opencode-process-manager');
    assert.equal(dashboard.schemaVersion, defaultDashboard.schemaVersion);
    assert.equal(dashboard.id, undefined, 'an exported id pins the dashboard to one Grafana database');
  });

  it('every panel has a unit, a description that says what a bad value means, and a unique id', () => {
    const panels = panelsOf(dashboard);
    assert.ok(panels.length >= 20);
    for (const panel of panels) {
      assert.ok(typeof panel.title === 'string' && panel.title !== '', 'a panel has no title');
      const unit = (panel as Record<string, any>).fieldConfig?.defaults?.unit as unknown;
      assert.ok(typeof unit === 'string' && unit !== '', `panel "${panel.title}" has no unit`);
      const description = (panel as Record<string, any>).description as unknown;
      assert.ok(typeof description === 'string' && description.length >= 60, `panel "${panel.title}" has no useful description`);
    }
    const ids = (dashboard.panels as Array<{ id: number }>).map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'panel ids repeat');
  });

  it('covers RED for turns, USE for processes, the sessions waiting on users, the replicas, usage and cost and the model gateway: the panels the issue asks for exist', () => {
    const titles = panelsOf(dashboard).map((p) => p.title);
    for (const title of [
      'Turns per second by outcome',
      'Turn error ratio',
      'Turn duration p50 / p95 / p99 by mode',
      'Queue depth',
      'Queue wait p95',
      'Sessions waiting on a user now',
      'Oldest pending user request now',
      'User requests timed out in the time range',
      'Sessions waiting on a user',
      'Oldest pending user request',
      'Permission requests per minute by outcome',
      'Permission requests per minute by permission',
      'Question requests per minute by outcome',
      'User wait p50 / p95',
      'Share of user requests that timed out',
      'Active processes and streams',
      'Sessions and active sessions',
      'Process spawns per minute by kind',
      'Server instances by state',
      'Instance restarts per minute by reason',
      'Health-check failures per minute by class',
      'Process-tree memory by kind and server',
      'Orphans reaped at the last boot',
      'HTTP requests per second by route',
      'HTTP 5xx ratio by route',
      'HTTP latency p95 by route',
      'CPU',
      'Memory',
      'Event-loop lag',
      'Forwarded requests per second by outcome',
      'Owner look-up p50 / p99 by result',
      'Forwarded request time p50 / p95',
      'Session handoffs per minute by outcome',
      'Handoff time per session p50 / p95',
      'Peers by state',
      'Tokens per second by type',
      'Cost per hour',
      'Cost per turn',
      'Messages refused for budget per minute',
      'Model calls per second by outcome',
      'Upstream error ratio by provider',
      'Model time to first byte p50 / p95 by provider',
      'Model calls refused per second by reason',
    ]) {
      assert.ok(titles.includes(title), `no panel "${title}"`);
    }
  });

  it('has its rows in order, and every panel below a row lies within the 24-column grid without overlapping another', () => {
    const panels = dashboard.panels as Array<{ type: string; title: string; gridPos: { x: number; y: number; w: number; h: number } }>;
    assert.deepEqual(
      panels.filter((p) => p.type === 'row').map((p) => p.title),
      [
        'Overview',
        'Turns (RED: rate, errors, duration)',
        'Queue',
        'Waiting on users',
        'Processes (USE: utilisation, saturation, errors)',
        'Server mode',
        'HTTP',
        'Service process',
        'Replicas',
        'Usage and cost',
        'Model gateway',
      ],
    );
    const cells = new Map<string, string>();
    for (const { title, gridPos } of panels) {
      assert.ok(gridPos.x >= 0 && gridPos.w > 0 && gridPos.x + gridPos.w <= 24, `panel "${title}" is outside the grid`);
      for (let y = gridPos.y; y < gridPos.y + gridPos.h; y += 1) {
        for (let x = gridPos.x; x < gridPos.x + gridPos.w; x += 1) {
          const other = cells.get(`${x},${y}`);
          assert.equal(other, undefined, `panels "${other}" and "${title}" overlap at ${x},${y}`);
          cells.set(`${x},${y}`, title);
        }
      }
    }
    // Grafana lays panels out in array order: each panel's row is the last row above it in the list.
    let rowY = -1;
    let previousY = 0;
    for (const { type, title, gridPos } of panels) {
      assert.ok(gridPos.y >= previousY, `panel "${title}" is listed after a panel below it`);
      previousY = gridPos.y;
      if (type === 'row') rowY = gridPos.y;
      else assert.ok(gridPos.y > rowY, `panel "${title}" is listed under a row it lies above`);
    }
  });
});

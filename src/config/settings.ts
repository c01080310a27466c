// The settings table: every environment variable the service reads, once, with the section and key
// it reaches its consumer under (the key is the variable's name in camelCase without `OCPM_`), its
// parser, its typed default and the line the configuration doc shows. A new setting is one row in
// settings-service.ts, settings-agent.ts, settings-isolation.ts, settings-gateway.ts or settings-cluster.ts and one read in its consumer; docs/configuration.md is
// generated from this table (`npm run docs:config`).
import { AGENT_SETTINGS } from './settings-agent.js';
import { CLUSTER_SETTINGS } from './settings-cluster.js';
import { GATEWAY_SETTINGS } from './settings-gateway.js';
import { ISOLATION_SETTINGS } from './settings-isolation.js';
import { LOG_SETTINGS, SERVICE_SETTINGS } from './settings-service.js';

export { LOG_LEVELS, SECTIONS, TOKEN_PATTERN, type SectionName, type Setting } from './setting.js';

export const SETTINGS = { ...SERVICE_SETTINGS, ...AGENT_SETTINGS, ...ISOLATION_SETTINGS, ...GATEWAY_SETTINGS, ...CLUSTER_SETTINGS, ...LOG_SETTINGS } as const;

export type SettingsTable = typeof SETTINGS;
export type VariableName = keyof SettingsTable;

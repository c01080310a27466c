// The settings of several replicas behind one routing layer: who this replica is, where its peers
// are, and how replicas authenticate to each other. Rows of the settings table (src/config/settings.ts).
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { z } from 'zod';
import { commaList, integer, ms, setting, TOKEN_PATTERN } from './setting.js';

const baseUrl = z.string().regex(/^https?:\/\/[A-Za-z0-9.[\]:-]+(:\d{1,5})?\/?$/, 'a base URL like http://10.0.0.7:3000');

export const CLUSTER_SETTINGS = {
  OCPM_REPLICA_NAME: setting(
    'cluster',
    'replicaName',
    z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,253}$/)
      .optional(),
    undefined,
    'a name of letters, digits, dots, dashes or underscores',
    "This replica's name among its peers (status `replica`, the `X-Ocpm-Replica` header); each replica needs its own. The default, the hostname and the port, is unique on one host; with `PORT=0` a random suffix stands for the port. The Kubernetes manifests set it to the pod name.",
    { fallbackText: '`<hostname>-<PORT>`' },
  ),
  OCPM_PEERS: setting(
    'cluster',
    'peers',
    commaList(baseUrl),
    [],
    'a comma-separated list of base URLs like http://10.0.0.7:3000',
    'Base URLs of the replicas that share sessions with this one (this replica may be listed too). A request for a session this replica does not hold is forwarded to the replica that does.',
  ),
  OCPM_PEER_DNS: setting(
    'cluster',
    'peerDns',
    z
      .string()
      .regex(/^[A-Za-z0-9.-]+:\d{1,5}$/)
      .optional(),
    undefined,
    'host:port, e.g. opencode-process-manager-headless:3000',
    'A DNS name whose A records are the peers, and their port (Kubernetes: the headless Service). Re-resolved every `OCPM_PEER_PROBE_INTERVAL_MS`; adds to `OCPM_PEERS`.',
  ),
  OCPM_PEER_TOKEN: setting(
    'cluster',
    'peerToken',
    z.string().regex(TOKEN_PATTERN).optional(),
    undefined,
    'a token (printable ASCII, no spaces)',
    'Bearer token replicas send each other on `/internal/v1/…`, the same on every replica. Unset: the first API token (every replica has the same `OCPM_API_TOKEN` or token file).',
    { secret: true },
  ),
  OCPM_PEER_PROBE_INTERVAL_MS: setting(
    'cluster',
    'peerProbeIntervalMs',
    integer(100),
    5000,
    ms(100),
    "How often each peer's state (up, draining, down, left) is checked.",
  ),
  OCPM_PEER_TIMEOUT_MS: setting(
    'cluster',
    'peerTimeoutMs',
    integer(100),
    3000,
    ms(100),
    'Timeout of one replica-to-replica call (probe, owner lookup, handoff connect).',
  ),
  OCPM_HANDOFF_TIMEOUT_MS: setting(
    'cluster',
    'handoffTimeoutMs',
    integer(1000),
    120000,
    ms(1000),
    "Time one session's handoff (export, transfer, import) may take when a draining replica gives its sessions to a peer.",
  ),
} as const;

/**
 * This replica's name: OCPM_REPLICA_NAME, else the hostname and the port (two replicas on one host
 * listen on different ports); with PORT=0 the port is not known yet, so a random suffix stands for it.
 */
export function replicaNameOf(cluster: { replicaName: string | undefined }, port: number): string {
  if (cluster.replicaName !== undefined) return cluster.replicaName;
  const host = os.hostname().replace(/[^A-Za-z0-9._-]/g, '-') || 'replica';
  return `${host}-${port === 0 ? randomBytes(4).toString('hex') : String(port)}`;
}

/** Whether this replica has peers at all (else everything cluster-related stays off). */
export const hasPeers = (cluster: { peers: readonly string[]; peerDns: string | undefined }): boolean =>
  cluster.peers.length > 0 || cluster.peerDns !== undefined;

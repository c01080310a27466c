// The memory limit of the cgroup this process runs in (a container's limit under Kubernetes), read
// from cgroup v2's memory.max or v1's memory.limit_in_bytes; undefined when there is none.
import { readFileSync } from 'node:fs';
import path from 'node:path';

/** v1 reports "no limit" as a huge number near 2^63, rounded to the page size. */
const V1_UNLIMITED = 2 ** 60;

export function cgroupMemoryLimitBytes(root = '/sys/fs/cgroup', selfCgroup = '/proc/self/cgroup'): number | undefined {
  const lines = readOr(selfCgroup)?.split('\n') ?? [];
  const v2 = lines.find((line) => line.startsWith('0::'))?.slice(3);
  if (v2 !== undefined) {
    // Inside a cgroup namespace the process's own cgroup is the root of the mount.
    const limit = limitFrom(readOr(path.join(root, v2, 'memory.max')) ?? readOr(path.join(root, 'memory.max')));
    if (limit !== undefined) return limit;
  }
  const v1 = lines.map((line) => line.split(':')).find(([, controllers]) => controllers?.split(',').includes('memory'))?.[2];
  if (v1 === undefined) return undefined;
  const limit = limitFrom(readOr(path.join(root, 'memory', v1, 'memory.limit_in_bytes')) ?? readOr(path.join(root, 'memory', 'memory.limit_in_bytes')));
  return limit !== undefined && limit < V1_UNLIMITED ? limit : undefined;
}

function limitFrom(text: string | undefined): number | undefined {
  const value = text?.trim();
  if (value === undefined || value === '' || value === 'max') return undefined;
  const bytes = Number(value);
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : undefined;
}

function readOr(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

// After a server restart (crash, failed health, memory recycle, an operator's restart) the new
// instance knows none of the workspaces its predecessor served: each one's next prompt would load
// its config, providers, agents and bootstrap again while a user waits. The workspaces the previous
// instance used lately are loaded again (reads, then a warm-up prompt) in the background as soon as
// the new one is ready.
import type { Logger } from '../../logging/logger.js';
import { errorMessage } from '../../util/guards.js';
import type { ServerInstance } from './server-instance.js';
import { sendWarmUpPrompt, type WarmUpCallAnswerer } from './warm-up-prompt.js';

/** A restart re-warms at most this many of the most recently used workspaces, one after another. */
export const MAX_REWARMED_DIRECTORIES = 16;

/** The workspaces `previous` used within `idleMs`, most recent first. */
export function directoriesToRewarm(previous: ServerInstance | undefined, idleMs: number, now = Date.now()): string[] {
  if (previous === undefined) return [];
  return [...previous.directories]
    .filter(([, lastUsed]) => now - lastUsed <= idleMs)
    .sort(([, a], [, b]) => b - a)
    .slice(0, MAX_REWARMED_DIRECTORIES)
    .map(([directory]) => directory);
}

/** `answerer`: the model gateway's warm-up calls; with it each workspace also gets a warm-up prompt (warm-up-prompt.ts). */
export async function rewarm(
  instance: ServerInstance,
  directories: readonly string[],
  options: { timeoutMs: number; answerer: WarmUpCallAnswerer | undefined },
  logger: Pick<Logger, 'info' | 'warn'>,
): Promise<void> {
  if (directories.length === 0) return;
  const started = performance.now();
  try {
    for (const directory of directories) {
      const client = instance.client;
      if (instance.state !== 'ready' || client === undefined) return;
      await client.warmDirectory(directory, options.timeoutMs);
      // A workspace a turn took meanwhile is loaded by that turn.
      if (options.answerer !== undefined && !instance.work.isBusyIn(directory)) await sendWarmUpPrompt(client, directory, options.answerer, options.timeoutMs);
    }
    logger.info('Restarted server instance re-warmed its workspaces', {
      instance: `serve-${instance.slot}`,
      workspaces: directories.length,
      durationMs: Math.round(performance.now() - started),
    });
  } catch (error) {
    logger.warn('Re-warming workspaces after a restart failed', { instance: `serve-${instance.slot}`, error: errorMessage(error) });
  }
}

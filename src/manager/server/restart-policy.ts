// When to restart a server instance and when to give up: capped exponential backoff, and more than
// `maxRestarts` restarts within `restartWindowMs` marks the instance failed (a crash loop), as PM2's
// exp_backoff_restart_delay and vscode-languageclient's "crashed N times in 3 minutes" do.
import type { Config } from '../../config/config.js';

/** The pool section's restart settings (OCPM_MAX_RESTARTS, OCPM_RESTART_WINDOW_MS, OCPM_RESTART_BACKOFF_MS, OCPM_RESTART_BACKOFF_MAX_MS). */
export type RestartPolicySettings = Pick<Config['pool'], 'maxRestarts' | 'restartWindowMs' | 'restartBackoffMs' | 'restartBackoffMaxMs'>;

export type RestartDecision = { readonly action: 'restart'; readonly delayMs: number } | { readonly action: 'fail' };

export class RestartPolicy {
  private restarts: number[] = [];

  constructor(private readonly settings: RestartPolicySettings) {}

  /** Records a restart at `now` and says whether to do it, and after how long. */
  next(now = Date.now()): RestartDecision {
    this.restarts = this.restarts.filter((at) => now - at < this.settings.restartWindowMs);
    if (this.restarts.length >= this.settings.maxRestarts) return { action: 'fail' };
    const attempt = this.restarts.length;
    this.restarts.push(now);
    const delayMs = Math.min(this.settings.restartBackoffMaxMs, this.settings.restartBackoffMs * 2 ** attempt);
    return { action: 'restart', delayMs };
  }

  /** Restarts counted in the current window. */
  count(now = Date.now()): number {
    return this.restarts.filter((at) => now - at < this.settings.restartWindowMs).length;
  }

  reset(): void {
    this.restarts = [];
  }
}

// Logs the switch between server mode and the per-message fallback, once per change.
import type { Logger } from '../../logging/logger.js';

export class FallbackNotice {
  private fallingBack = false;

  constructor(private readonly logger: Logger) {}

  /** `byServer`: the turn got a server; otherwise it runs per-message. */
  note(byServer: boolean): void {
    if (byServer === !this.fallingBack) return;
    this.fallingBack = !byServer;
    if (this.fallingBack) this.logger.warn('No OpenCode server instance can serve: falling back to per-message mode');
    else this.logger.info('OpenCode server instances serve again: leaving per-message fallback');
  }
}

// An app process's Node inspector that opened after the app was ready (SIGUSR1: crash-watch, the
// core's stuck-request stack, or someone with the app's uid) lets every local user run code as
// the app's user. Whoever opened it should close it within seconds; when nobody did (crash-watch
// gave up on a process that only opened it later, once its main thread came back; crash-watch
// was interrupted), the core closes it. One opened at start (--inspect) is the operator's choice.

import { closeInspectorAt } from '../../lib/diagnostics/js-stack.js';
import type { Logger } from '../log.js';

/** How long an inspector opened after readiness may stay open; crash-watch needs about 2 s. */
export const INSPECTOR_MAX_OPEN_MS = 10_000;

export class InspectorGuard {
  private timer: NodeJS.Timeout | undefined;
  /** Bumped by every opening and stop, so a check still under way does not re-arm a stale one. */
  private generation = 0;

  constructor(private readonly log: Logger) {}

  /** The process said its inspector listens at `url` (a new opening replaces the one before). */
  opened(url: string): void {
    this.stop();
    const generation = this.generation;
    this.timer = setTimeout(() => void this.closeIfOpen(url, generation), INSPECTOR_MAX_OPEN_MS).unref();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.generation++;
  }

  private async closeIfOpen(url: string, generation: number): Promise<void> {
    const port = Number(new URL(url).port);
    const outcome = await closeInspectorAt(url);
    if (outcome === 'closed') {
      this.log.warn('closed the app process\'s inspector: it was open for 10 s and whoever opened it (SIGUSR1) did not close it', { inspectorPort: port });
    } else if (outcome === 'still-open') {
      this.log.warn('the app process\'s inspector stays open: its main thread does not answer; trying again in 10 s', { inspectorPort: port });
      if (generation === this.generation) this.opened(url);
    }
  }
}

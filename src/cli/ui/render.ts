// The only caller of ink's render(): the live `--watch` view. Ink and React load only here, and
// only when --watch is asked for, so one-shot commands stay fast.

import type { ConfigResponse, PoolResponse, ServerResponse } from '../../lib/admin-api-contract.js';
import { isWatchdogRunning, readProperties } from '../../lib/instance-registry.js';
import { readLogTail } from './log-pane.js';
import type { AdminClient } from '../admin-client.js';
import type { WatchSource } from './WatchApp.js';

/** How the view ended: the operator quit, or the instance it watched stopped. */
export type WatchOutcome = 'quit' | 'stopped';

/** The admin API and the log file the instance's config names, as the view's data source. */
export function adminWatchSource(client: AdminClient): WatchSource {
  const { instance } = client;
  return {
    instance: instance.name,
    fetchFrame: async (): Promise<{ pool: PoolResponse; server: ServerResponse }> => {
      const [pool, server] = await Promise.all([client.call<PoolResponse>('pool'), client.call<ServerResponse>('server')]);
      return { pool, server };
    },
    fetchConfig: () => client.call<ConfigResponse>('getConfig'),
    readLog: (file, app, lines) => readLogTail(file, { app, lines }),
    // The core may be down for a moment (a crash, `ferry restart`); the instance is gone only
    // once its watchdog is, which is what `ferry stop` ends with.
    goneReason: () => {
      const properties = readProperties(instance.dir);
      if (properties && isWatchdogRunning(properties)) return undefined;
      return `Its watchdog (pid ${instance.properties.watchdog_pid}) has exited: the instance was stopped (ferry stop) or died. Start it again with: ferry start`;
    },
  };
}

export async function watchStatus(client: AdminClient, opts: { intervalMs?: number; color: boolean }): Promise<WatchOutcome> {
  const [{ render }, React, { WatchApp }, { default: chalk }] = await Promise.all([import('ink'), import('react'), import('./WatchApp.js'), import('chalk')]);
  // Ink colours through chalk, which does not read NO_COLOR itself.
  if (!opts.color) chalk.level = 0;
  let outcome: WatchOutcome = 'quit';
  const app = render(
    React.createElement(WatchApp, {
      source: adminWatchSource(client),
      intervalMs: opts.intervalMs ?? 1000,
      onStopped: () => {
        outcome = 'stopped';
      },
    }),
    // Ctrl-C arrives as a key in raw mode; WatchApp quits on it. SIGINT still comes when stdin is
    // no terminal (or from kill): quit the same way.
    { exitOnCtrlC: false },
  );
  const quit = (): void => app.unmount();
  process.on('SIGINT', quit);
  process.on('SIGTERM', quit);
  try {
    await app.waitUntilExit();
  } finally {
    process.off('SIGINT', quit);
    process.off('SIGTERM', quit);
  }
  return outcome;
}

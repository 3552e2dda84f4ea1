import { Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { exitCodeHelp, type ExitStatus } from '../cli/exit-codes.js';
import { instanceFlags } from '../cli/flags.js';
import { restartCore, type RestartCoreResult } from '../cli/restart-core.js';
import { formatDurationMs } from '../lib/units.js';

/** What this command can exit with besides 0, 1 and 2 (its --help and docs/errors.md list them). */
const EXIT_STATUSES: ExitStatus[] = ['notRunning', 'notResponding', 'environment', 'inProgress'];

export default class Restart extends BaseCommand<RestartCoreResult> {
  static exitStatuses: readonly ExitStatus[] = EXIT_STATUSES;
  static summary = 'Restart the core (the HTTP front and pool manager) without dropping a request or an app process.';
  static description = `A new core starts on the same listening socket and takes over the running app processes; the old core
stops accepting, finishes its requests, and exits. No connection is refused and the app processes keep their
pids. If the new core cannot start, the old one goes on serving. The same happens on SIGHUP to the watchdog.
To restart the app processes instead, use ferry restart-app.

${exitCodeHelp(EXIT_STATUSES)}`;

  static examples = ['<%= config.bin %> restart', '<%= config.bin %> restart --instance k3x9 --json'];

  static flags = {
    ...instanceFlags,
    timeout: Flags.integer({ summary: 'Seconds to wait for the old core to finish its requests and exit.', default: 60, min: 1 }),
  };

  async run(): Promise<RestartCoreResult> {
    const { flags } = await this.parse(Restart);
    const result = await restartCore({ registryDir: flags['instance-registry-dir'], name: flags.instance, timeoutMs: flags.timeout * 1000 });
    this.log(
      `Restarted the core of instance ${result.instance} in ${formatDurationMs(result.durationMs)}: pid ${result.oldCorePid ?? '?'} -> ${result.newCorePid}; app processes kept: ${result.appPids.join(', ') || 'none'}.` +
        (result.adoptedBy === 'after-kill' ? ' (The old core did not answer and was killed; requests it had in flight were lost.)' : ''),
    );
    return result;
  }
}

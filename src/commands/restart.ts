import { Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { EXIT_CODE_HELP } from '../cli/exit-codes.js';
import { instanceFlags } from '../cli/flags.js';
import { restartCore, type RestartCoreResult } from '../cli/restart-core.js';
import { formatDurationMs } from '../lib/units.js';

export default class Restart extends BaseCommand<RestartCoreResult> {
  static summary = 'Restart the core (the HTTP front and pool manager) without dropping a request or an app process.';
  static description = `A new core starts on the same listening socket and takes over the running app processes; the old core
stops accepting, finishes its requests, and exits. No connection is refused and the app processes keep their
pids. If the new core cannot start, the old one goes on serving. The same happens on SIGHUP to the watchdog.
To restart the app processes instead, use ferry restart-app.

${EXIT_CODE_HELP}
  69 the restart did not finish within --timeout (it goes on)`;

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

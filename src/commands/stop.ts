import { Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { exitCodeHelp, type ExitStatus } from '../cli/exit-codes.js';
import { instanceFlags } from '../cli/flags.js';
import { stopInstance, type StopResult } from '../cli/stop-instance.js';
import { formatDurationMs } from '../lib/units.js';

/** What this command can exit with besides 0, 1 and 2 (its --help and docs/errors.md list them). */
const EXIT_STATUSES: ExitStatus[] = ['notRunning', 'environment'];

export default class Stop extends BaseCommand<StopResult> {
  static exitStatuses: readonly ExitStatus[] = EXIT_STATUSES;
  static summary = 'Stop a running instance gracefully and wait until all its processes are gone.';
  static description = `In-flight requests finish first (up to the shutdown deadline); then the watchdog kills whatever is left
of the core and the app processes, including processes the apps spawned, and removes the instance directory.

${exitCodeHelp(EXIT_STATUSES)}`;

  static examples = ['<%= config.bin %> stop', '<%= config.bin %> stop --instance k3x9', '<%= config.bin %> stop --pid-file /run/myapp.pid'];

  static flags = {
    ...instanceFlags,
    'pid-file': Flags.string({ summary: 'Stop the instance whose watchdog pid is in this file (as given to ferry start --pid-file).' }),
    timeout: Flags.integer({ summary: 'Seconds to wait for every process to be gone.', default: 60, min: 1 }),
  };

  async run(): Promise<StopResult> {
    const { flags } = await this.parse(Stop);
    const result = await stopInstance({
      registryDir: flags['instance-registry-dir'],
      name: flags.instance,
      pidFile: flags['pid-file'],
      timeoutMs: flags.timeout * 1000,
    });
    this.log(`Stopped instance ${result.name} in ${formatDurationMs(result.durationMs)}; all ${result.stoppedPids.length} processes are gone.`);
    return result;
  }
}

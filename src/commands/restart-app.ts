import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { exitCodeHelp, type ExitStatus } from '../cli/exit-codes.js';
import { adminFlags } from '../cli/flags.js';
import { openAdminClient } from '../cli/instance-client.js';
import { restartApp, type RestartAppResult } from '../cli/restart-app.js';

/** What this command can exit with besides 0, 1 and 2 (its --help and docs/errors.md list them). */
const EXIT_STATUSES: ExitStatus[] = ['notRunning', 'notResponding', 'unauthorized', 'inProgress'];

export default class RestartApp extends BaseCommand<RestartAppResult> {
  static exitStatuses: readonly ExitStatus[] = EXIT_STATUSES;
  static summary = "Restart an app's processes; --rolling replaces them one at a time without dropping requests.";
  static description = `Blocking (default): every process leaves rotation at once and finishes its requests while new ones
start; requests arriving meanwhile wait for the first new process. Rolling: each old process leaves
only once its replacement serves; if a replacement fails to start, the restart stops and the old
processes keep serving.

${exitCodeHelp(EXIT_STATUSES)}`;

  static examples = ['<%= config.bin %> restart-app', '<%= config.bin %> restart-app hello --rolling --wait', '<%= config.bin %> restart-app /srv/shop --wait'];

  static args = {
    app: Args.string({ description: 'App name or app root (optional when the instance serves one app).' }),
  };

  static flags = {
    ...adminFlags,
    rolling: Flags.boolean({ summary: 'Replace processes one at a time, each after its replacement serves.', default: false }),
    wait: Flags.boolean({ summary: 'Wait until the new processes serve; exit 0 only then.', default: false }),
    'wait-timeout': Flags.integer({ summary: 'Seconds --wait may take before exiting 69 (the restart goes on).', default: 120, min: 1 }),
  };

  async run(): Promise<RestartAppResult> {
    const { args, flags } = await this.parse(RestartApp);
    const client = openAdminClient(flags);
    const live = process.stdout.isTTY && !this.jsonEnabled();
    let lastLine = '';
    const result = await restartApp(client, {
      app: args.app,
      rolling: flags.rolling,
      wait: flags.wait,
      waitTimeoutMs: flags['wait-timeout'] * 1000,
      onProgress: (outcome) => {
        if (outcome.kind !== 'in-progress' || this.jsonEnabled()) return;
        const line = `restarting: ${outcome.replaced}/${outcome.total} processes replaced`;
        if (line === lastLine) return;
        lastLine = line;
        if (live) process.stdout.write(`\r${line}`);
        else this.log(line);
      },
    });
    if (live && lastLine) process.stdout.write('\n');
    const how = result.rolling ? 'rolling restart' : 'restart';
    if (result.outcome === 'done') {
      this.log(`Restarted '${result.app}' (${how}, ${result.durationMs} ms): ${result.replaced.join(', ') || 'no processes'} replaced by ${result.newPids.join(', ')}.`);
    } else {
      this.log(`Started a ${how} of '${result.app}' (generation ${result.generation}); replacing ${result.replaced.join(', ') || 'no processes'}. Follow it with: ferry status`);
    }
    return result;
  }
}

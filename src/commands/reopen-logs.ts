import { BaseCommand } from '../cli/base-command.js';
import { exitCodeHelp, type ExitStatus } from '../cli/exit-codes.js';
import { adminFlags } from '../cli/flags.js';
import { reopenLogs, type ReopenLogsResult } from '../cli/logs.js';

/** What this command can exit with besides 0, 1 and 2 (its --help and docs/errors.md list them). */
const EXIT_STATUSES: ExitStatus[] = ['notRunning', 'notResponding', 'unauthorized'];

export default class ReopenLogs extends BaseCommand<ReopenLogsResult> {
  static exitStatuses: readonly ExitStatus[] = EXIT_STATUSES;
  static summary = 'Reopen the log file after logrotate moved it (the core and the watchdog both).';
  static description = `Run it in logrotate's postrotate (or send SIGUSR1 to the watchdog, which does the same). Every line
written before it is in the old file, every line after it in the new one: the writes are synchronous.

${exitCodeHelp(EXIT_STATUSES)}`;

  static examples = ['<%= config.bin %> reopen-logs', '<%= config.bin %> reopen-logs --instance k3x9 --json'];

  static flags = { ...adminFlags };

  async run(): Promise<ReopenLogsResult> {
    const { flags } = await this.parse(ReopenLogs);
    const result = await reopenLogs(flags);
    this.log(result.logFile ? `Reopened ${result.logFile} (instance ${result.instance}).` : `Instance ${result.instance} logs to stdout: no log file to reopen.`);
    return result;
  }
}

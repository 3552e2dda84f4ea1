import { BaseCommand } from '../cli/base-command.js';
import { EXIT_CODE_HELP } from '../cli/exit-codes.js';
import { adminFlags } from '../cli/flags.js';
import { reopenLogs, type ReopenLogsResult } from '../cli/logs.js';

export default class ReopenLogs extends BaseCommand<ReopenLogsResult> {
  static summary = 'Reopen the log file after logrotate moved it (the core and the watchdog both).';
  static description = `Run it in logrotate's postrotate (or send SIGUSR1 to the watchdog, which does the same). Every line
written before it is in the old file, every line after it in the new one: the writes are synchronous.

${EXIT_CODE_HELP}`;

  static examples = ['<%= config.bin %> reopen-logs', '<%= config.bin %> reopen-logs --instance k3x9 --json'];

  static flags = { ...adminFlags };

  async run(): Promise<ReopenLogsResult> {
    const { flags } = await this.parse(ReopenLogs);
    const result = await reopenLogs(flags);
    this.log(result.logFile ? `Reopened ${result.logFile} (instance ${result.instance}).` : `Instance ${result.instance} logs to stdout: no log file to reopen.`);
    return result;
  }
}

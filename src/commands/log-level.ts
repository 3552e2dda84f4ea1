import { Args } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { exitCodeHelp, type ExitStatus } from '../cli/exit-codes.js';
import { adminFlags } from '../cli/flags.js';
import { changeLogLevel, type LogLevelResult } from '../cli/logs.js';
import { LOG_LEVELS, type LogLevel } from '../lib/config.js';

/** What this command can exit with besides 0, 1 and 2 (its --help and docs/errors.md list them). */
const EXIT_STATUSES: ExitStatus[] = ['notRunning', 'notResponding', 'unauthorized'];

export default class LogLevelCommand extends BaseCommand<LogLevelResult> {
  static exitStatuses: readonly ExitStatus[] = EXIT_STATUSES;
  static summary = 'Show the log level of a running instance, or change it without a restart.';
  static description = `The core and the watchdog switch at once, and a core restarted later keeps the new level. It lasts
until the instance stops; the next ferry start uses --log-level again.

${exitCodeHelp(EXIT_STATUSES)}`;

  static examples = ['<%= config.bin %> log-level', '<%= config.bin %> log-level debug', '<%= config.bin %> log-level info --instance k3x9'];

  static args = {
    level: Args.string({ description: 'The least severe level to write from now on.', options: [...LOG_LEVELS] }),
  };

  static flags = { ...adminFlags };

  async run(): Promise<LogLevelResult> {
    const { args, flags } = await this.parse(LogLevelCommand);
    const result = await changeLogLevel(flags, args.level as LogLevel | undefined);
    if (args.level === undefined) this.log(`Instance ${result.instance} logs at level ${result.logLevel}.`);
    else if (result.previous === result.logLevel) this.log(`Instance ${result.instance} already logs at level ${result.logLevel}.`);
    else this.log(`Instance ${result.instance} now logs at level ${result.logLevel} (was ${result.previous}).`);
    return result;
  }
}

import { Args } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { EXIT_CODE_HELP } from '../cli/exit-codes.js';
import { adminFlags } from '../cli/flags.js';
import { changeLogLevel, type LogLevelResult } from '../cli/logs.js';
import { LOG_LEVELS, type LogLevel } from '../lib/config.js';

export default class LogLevelCommand extends BaseCommand<LogLevelResult> {
  static summary = 'Show the log level of a running instance, or change it without a restart.';
  static description = `The core and the watchdog switch at once, and a core restarted later keeps the new level. It lasts
until the instance stops; the next ferry start uses --log-level again.

${EXIT_CODE_HELP}`;

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

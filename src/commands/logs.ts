import { Args, Flags } from '@oclif/core';
import { LOG_LEVELS, type LogLevel } from '../lib/config.js';
import { BaseCommand } from '../cli/base-command.js';
import { exitCodeHelp, type ExitStatus } from '../cli/exit-codes.js';
import { instanceFlags } from '../cli/flags.js';
import { showLogs } from '../cli/logs.js';
import { wantsColor } from '../cli/status.js';

const EXIT_STATUSES: ExitStatus[] = ['notRunning', 'environment'];

export default class Logs extends BaseCommand<void> {
  static exitStatuses: readonly ExitStatus[] = EXIT_STATUSES;
  static summary = "Show an instance's log (Ferry's lines and its apps' output), like tail or pm2 logs.";
  static description = `Reads the log file the instance registry names for the instance, so it works with the core down.
Lines read as TIME LEVEL WHO[PID] STREAM: MESSAGE, in local time; app stderr is marked and, on a terminal
without NO_COLOR, coloured. With -f it follows the file across ferry reopen-logs and logrotate (rename or
copytruncate) until Ctrl-C. --json prints the records as they are in the file, one per line.

${exitCodeHelp(EXIT_STATUSES)}`;

  static examples = [
    '<%= config.bin %> logs',
    '<%= config.bin %> logs shop -f',
    '<%= config.bin %> logs --stderr --since 10m',
    '<%= config.bin %> logs --level warn -n 100',
    '<%= config.bin %> logs --json --since 1h | jq .msg',
    '<%= config.bin %> logs --file /var/log/ferry/shop.log.1',
  ];

  static args = {
    app: Args.string({ description: "Only this app's output and Ferry's lines about it." }),
  };

  static flags = {
    ...instanceFlags,
    follow: Flags.boolean({ char: 'f', summary: 'Keep printing new lines as they are written (Ctrl-C stops).', default: false }),
    lines: Flags.integer({ char: 'n', summary: 'Print the last N lines that match (default 15; all of them with --since).', min: 0 }),
    since: Flags.string({ summary: 'Only lines from this time on: a duration back from now (30s, 10m, 2h, 1d), a time today (14:30), or a date and time ("2026-12-02 14:30").' }),
    stderr: Flags.boolean({ summary: "Only the apps' standard error.", exclusive: ['stdout'], default: false }),
    stdout: Flags.boolean({ summary: "Only the apps' standard output.", exclusive: ['stderr'], default: false }),
    level: Flags.string({ summary: 'Only lines at this level or more severe (an app logging JSON with a level counts with its own).', options: [...LOG_LEVELS] }),
    file: Flags.string({ summary: "Read this log file instead of a running instance's (a stopped instance, a rotated file)." }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Logs);
    const json = this.jsonEnabled();
    // `ferry logs | head`: the reader left; nothing is wrong.
    process.stdout.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(0);
    });
    const shown = showLogs(
      {
        'instance-registry-dir': flags['instance-registry-dir'],
        instance: flags.instance,
        file: flags.file,
        app: args.app,
        follow: flags.follow,
        lines: flags.lines ?? (flags.since !== undefined ? undefined : 15),
        since: flags.since,
        stream: flags.stderr ? 'stderr' : flags.stdout ? 'stdout' : undefined,
        level: flags.level as LogLevel | undefined,
        json,
        color: !json && wantsColor(),
      },
      (text) => process.stdout.write(text),
    );
    if (!flags.follow) return;
    await new Promise<void>((resolve) => {
      const end = (): void => {
        shown.stop();
        resolve();
      };
      process.once('SIGINT', end);
      process.once('SIGTERM', end);
    });
  }
}

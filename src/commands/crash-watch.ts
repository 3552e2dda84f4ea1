import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { CliError } from '../cli/errors.js';
import { exitCodeHelp, type ExitStatus } from '../cli/exit-codes.js';
import { dumpProcess, exitCodeFor, formatCrashWatch, runCommand, watchProcess, type CrashWatchResult } from '../cli/crash-watch.js';

/** What this command can exit with besides 0, 1 and 2 (its --help and docs/errors.md list them). */
const EXIT_STATUSES: ExitStatus[] = ['gdbMissing', 'ptraceDenied', 'processGone', 'partial', 'crashSignal', 'commandStatus'];

export default class CrashWatch extends BaseCommand<CrashWatchResult> {
  static exitStatuses: readonly ExitStatus[] = EXIT_STATUSES;
  static summary = 'Backtraces of every thread of a process through gdb (plus its JS stack for Node); or wait for it to crash.';
  static description = `ferry crash-watch --dump PID   all-thread native backtraces now (gdb attaches, dumps, detaches; the
                               process keeps running), and for a Node process its JavaScript stack
                               (through its inspector, closed again as soon as the stack is taken).
ferry crash-watch PID          wait until the process crashes, then dump; exit code 128 + signal.
                               If it exits normally, say so (exit code 0).
ferry crash-watch -- CMD ARGS  run a command under gdb and dump if it crashes.

${exitCodeHelp(EXIT_STATUSES)}`;

  static examples = ['<%= config.bin %> crash-watch --dump 4242', '<%= config.bin %> crash-watch 4242', '<%= config.bin %> crash-watch -- ./server --port 8080'];

  static args = {
    pid: Args.integer({ description: 'PID of the process.', required: false }),
  };

  static flags = {
    dump: Flags.boolean({ summary: 'Dump backtraces of the running process now instead of waiting for a crash.', default: false }),
    timeout: Flags.integer({ summary: 'Seconds gdb may take for --dump.', default: 30, min: 1 }),
  };

  async run(): Promise<CrashWatchResult> {
    const separator = this.argv.indexOf('--');
    const command = separator >= 0 ? this.argv.slice(separator + 1) : [];
    // Everything after `--` is the command to run; only what comes before is ours to parse.
    const { args, flags } = await this.parse(CrashWatch, separator >= 0 ? this.argv.slice(0, separator) : this.argv);
    let result: CrashWatchResult;
    if (command.length > 0) {
      result = await runCommand(command);
    } else if (args.pid === undefined) {
      throw new CliError('FERRY_ERR_USAGE', 'say which process: ferry crash-watch [--dump] PID, or ferry crash-watch -- COMMAND');
    } else if (flags.dump) {
      result = await dumpProcess(args.pid, flags.timeout * 1000);
    } else {
      result = await watchProcess(args.pid);
    }
    if (!this.jsonEnabled()) process.stdout.write(formatCrashWatch(result));
    const code = exitCodeFor(result);
    if (code !== 0) process.exitCode = code;
    return result;
  }
}

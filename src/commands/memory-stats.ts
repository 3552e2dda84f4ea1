import { BaseCommand } from '../cli/base-command.js';
import { exitCodeHelp, type ExitStatus } from '../cli/exit-codes.js';
import { instanceFlags } from '../cli/flags.js';
import { collectMemoryStats, formatMemoryStats, type MemoryStatsResult } from '../cli/memory-stats.js';

/** What this command can exit with besides 0, 1 and 2 (its --help and docs/errors.md list them). */
const EXIT_STATUSES: ExitStatus[] = ['notRunning'];

export default class MemoryStats extends BaseCommand<MemoryStatsResult> {
  static exitStatuses: readonly ExitStatus[] = EXIT_STATUSES;
  static summary = 'Memory of front web servers and every Ferry process, from /proc (works with the core down).';
  static description = `Like passenger-memory-stats: per process PID, PPID, VMSize, RSS, private dirty, PSS and swap,
with totals per section, and each instance's cgroup memory use and limit (what the OOM killer
weighs). Processes another user owns show "?" and a note says why.

${exitCodeHelp(EXIT_STATUSES)}`;

  static examples = ['<%= config.bin %> memory-stats', '<%= config.bin %> memory-stats --instance k3x9', '<%= config.bin %> memory-stats --json'];

  // --instance narrows the Ferry section to one instance; without it, every instance is listed.
  static flags = { ...instanceFlags };

  async run(): Promise<MemoryStatsResult> {
    const { flags } = await this.parse(MemoryStats);
    const result = await collectMemoryStats(flags['instance-registry-dir'], flags.instance);
    if (!this.jsonEnabled()) process.stdout.write(formatMemoryStats(result, new Date()));
    return result;
  }
}

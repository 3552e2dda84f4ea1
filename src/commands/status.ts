import { Flags } from '@oclif/core';
import chalk from 'chalk';
import { BaseCommand } from '../cli/base-command.js';
import { AdminClient } from '../cli/admin-client.js';
import { EXIT_CODES, exitCodeHelp, type ExitStatus } from '../cli/exit-codes.js';
import { adminFlags } from '../cli/flags.js';
import { PLAIN } from '../cli/format/status-text.js';
import { openAdminClient } from '../cli/instance-client.js';
import { fetchInstancesSummary, fetchStatus, locateStatusTarget, renderStatusText, STATUS_VIEWS, wantsColor, type StatusResult, type StatusView } from '../cli/status.js';

/** What this command can exit with besides 0, 1 and 2 (its --help and docs/errors.md list them). */
const EXIT_STATUSES: ExitStatus[] = ['notRunning', 'notResponding', 'unauthorized'];

export default class Status extends BaseCommand<StatusResult | undefined> {
  static exitStatuses: readonly ExitStatus[] = EXIT_STATUSES;
  static summary = "Show an instance's app processes, requests or server counters (passenger-status layout).";
  static description = `--show=pool (default): per app group its processes with PID, sessions, processed, uptime, CPU,
memory and last use; with several instances running and no --instance, one line per instance
(name, address, apps, processes, uptime, requests). --show=requests: every request in flight.
--show=server: connections, request counters and the turbocache. --json prints the admin API's
data for the view. --watch is a live view (like pm2 monit) refreshed every second: recent CPU,
memory, req/s and 5xx per process, the arrow keys select a process, its app's settings and last
log lines below; q or Ctrl-C quits; it ends with exit 3 when the instance stops.

${exitCodeHelp(EXIT_STATUSES)}`;

  static examples = ['<%= config.bin %> status', '<%= config.bin %> status --show=requests', '<%= config.bin %> status --json', '<%= config.bin %> status --watch'];

  // The fast path (src/cli/status-fast.ts) parses the same flags for one-shot views; keep them in step.
  static flags = {
    ...adminFlags,
    show: Flags.string({ summary: 'Which view to show.', options: [...STATUS_VIEWS], default: 'pool' }),
    watch: Flags.boolean({ summary: 'Live view, refreshed every second (a terminal is needed).', default: false, exclusive: ['json'] }),
    'no-header': Flags.boolean({ summary: 'Leave out the version/date/instance header.', default: false }),
  };

  async run(): Promise<StatusResult | undefined> {
    const { flags } = await this.parse(Status);
    const view = flags.show as StatusView;
    const timeoutMs = flags.timeout * 1000;
    if (flags.watch && process.stdout.isTTY) {
      const client = openAdminClient(flags);
      const { watchStatus } = await import('../cli/ui/render.js');
      const outcome = await watchStatus(client, { color: wantsColor() });
      // The instance it watched is gone: a script that waits on the view can tell.
      if (outcome === 'stopped') process.exitCode = EXIT_CODES.notRunning;
      return undefined;
    }
    const target = locateStatusTarget({ registryDir: flags['instance-registry-dir'], name: flags.instance, view });
    const result = 'instances' in target ? await fetchInstancesSummary(target.registryDir, target.instances, timeoutMs) : await fetchStatus(new AdminClient(target, timeoutMs), view);
    if (!this.jsonEnabled()) {
      const style = wantsColor() ? { heading: (text: string) => chalk.bold.yellow.bgBlue(text) } : PLAIN;
      process.stdout.write(renderStatusText(result, { header: !flags['no-header'], style, now: new Date() }));
    }
    return result;
  }
}

import { Args, Flags } from '@oclif/core';
import type { DetachProcessResponse, PoolResponse } from '../lib/admin-api-contract.js';
import { BaseCommand } from '../cli/base-command.js';
import { CliError } from '../cli/errors.js';
import { exitCodeHelp, type ExitStatus } from '../cli/exit-codes.js';
import { adminFlags } from '../cli/flags.js';
import { openAdminClient } from '../cli/instance-client.js';
import { isProcessRunning } from '../lib/process-groups.js';
import { sleep } from '../lib/units.js';

export type DetachResult = DetachProcessResponse & { exited: boolean };

/** What this command can exit with besides 0, 1 and 2 (its --help and docs/errors.md list them). */
const EXIT_STATUSES: ExitStatus[] = ['notRunning', 'notResponding', 'unauthorized', 'inProgress'];

export default class DetachProcess extends BaseCommand<DetachResult> {
  static exitStatuses: readonly ExitStatus[] = EXIT_STATUSES;
  static summary = 'Take one app process out of rotation; it finishes its requests, then exits.';
  static description = `A replacement is spawned if the app would fall below --min-instances.

${exitCodeHelp(EXIT_STATUSES)}`;

  static examples = ['<%= config.bin %> detach-process 4242', '<%= config.bin %> detach-process 4242 --wait'];

  static args = {
    pid: Args.integer({ description: 'PID of the app process (see ferry status).', required: true }),
  };

  static flags = {
    ...adminFlags,
    wait: Flags.boolean({ summary: 'Wait until the process has exited.', default: false }),
    'wait-timeout': Flags.integer({ summary: 'Seconds --wait may take before exiting 69.', default: 60, min: 1 }),
  };

  async run(): Promise<DetachResult> {
    const { args, flags } = await this.parse(DetachProcess);
    const client = openAdminClient(flags);
    const detached = await client.call<DetachProcessResponse>('detachProcess', { pid: args.pid });
    this.log(`Process ${detached.pid} of '${detached.app}' left rotation; it exits once its requests are done.`);
    if (!flags.wait) return { ...detached, exited: false };
    const deadline = Date.now() + flags['wait-timeout'] * 1000;
    for (;;) {
      const pool = await client.call<PoolResponse>('pool');
      const listed = pool.groups.some((g) => g.processes.some((p) => p.pid === detached.pid));
      if (!listed && !isProcessRunning(detached.pid)) break;
      if (Date.now() > deadline) {
        throw new CliError('FERRY_ERR_WAIT_TIMEOUT', `process ${detached.pid} is still running after ${flags['wait-timeout']}s (busy requests?)`);
      }
      await sleep(100);
    }
    this.log(`Process ${detached.pid} has exited.`);
    return { ...detached, exited: true };
  }
}

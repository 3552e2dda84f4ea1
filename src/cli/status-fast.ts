// The fast path of `ferry status` (one-shot views): parses its flags with node:util instead of
// oclif, whose import alone costs ~80 ms on Node 20. Anything it does not understand (--help,
// --watch, an unknown or malformed flag) returns undefined, and bin/run.js hands the whole
// command line to oclif, so errors and help stay exactly oclif's.

import { parseArgs } from 'node:util';
import { AdminClient } from './admin-client.js';
import { renderError } from './render-error.js';
import { ANSI_STYLE, fetchInstancesSummary, fetchStatus, locateStatusTarget, renderStatusText, STATUS_VIEWS, wantsColor, type StatusView } from './status.js';
import { PLAIN } from './format/status-text.js';

/** The flags of `ferry status` that the fast path handles; src/commands/status.ts declares the same. */
export const FAST_STATUS_FLAGS = {
  show: { type: 'string' },
  json: { type: 'boolean' },
  'no-header': { type: 'boolean' },
  instance: { type: 'string' },
  'instance-registry-dir': { type: 'string' },
  timeout: { type: 'string' },
} as const;

export const STATUS_DEFAULTS = { show: 'pool' as StatusView, timeoutS: 10 };

export async function runStatusFast(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number | undefined> {
  let values: { show?: string; json?: boolean; 'no-header'?: boolean; instance?: string; 'instance-registry-dir'?: string; timeout?: string };
  try {
    values = parseArgs({ args: argv, options: FAST_STATUS_FLAGS, strict: true, allowPositionals: false }).values;
  } catch {
    return undefined;
  }
  const show = values.show ?? STATUS_DEFAULTS.show;
  const timeoutS = values.timeout === undefined ? Number(env.FERRY_TIMEOUT ?? STATUS_DEFAULTS.timeoutS) : Number(values.timeout);
  if (!(STATUS_VIEWS as readonly string[]).includes(show) || !Number.isInteger(timeoutS) || timeoutS < 1) return undefined;

  const json = values.json === true;
  try {
    const target = locateStatusTarget({ registryDir: values['instance-registry-dir'] ?? env.FERRY_INSTANCE_REGISTRY_DIR, name: values.instance ?? env.FERRY_INSTANCE, view: show as StatusView });
    const result =
      'instances' in target ? await fetchInstancesSummary(target.registryDir, target.instances, timeoutS * 1000) : await fetchStatus(new AdminClient(target, timeoutS * 1000), show as StatusView);
    if (json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    else process.stdout.write(renderStatusText(result, { header: values['no-header'] !== true, style: wantsColor() ? ANSI_STYLE : PLAIN, now: new Date() }));
    return 0;
  } catch (err) {
    const rendered = renderError(err as Error, { json, color: wantsColor(process.stderr), commandId: 'status' });
    if (rendered.stdout) process.stdout.write(rendered.stdout);
    if (rendered.stderr) process.stderr.write(rendered.stderr);
    return rendered.exitCode;
  }
}

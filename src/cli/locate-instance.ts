// Picks the instance a command acts on, through the registry: the only live one, or the one
// named with --instance; says clearly when there is none or more than one.

import path from 'node:path';
import { defaultRegistryDir, scanRegistry, type InstanceInfo } from '../lib/instance-registry.js';
import { CliError } from './errors.js';

export interface LocateOptions {
  registryDir?: string;
  name?: string;
}

export function locateInstance(opts: LocateOptions): InstanceInfo {
  const registryDir = opts.registryDir ?? defaultRegistryDir();
  const { live } = scanRegistry(registryDir);
  if (opts.name !== undefined) {
    const name = opts.name;
    const exact = live.find((i) => i.name === name);
    if (exact) return exact;
    const matches = live.filter((i) => i.name.startsWith(name));
    if (matches.length === 1) return matches[0] as InstanceInfo;
    if (matches.length > 1) {
      throw new CliError('FERRY_ERR_INSTANCE_AMBIGUOUS', `instance name '${name}' matches ${matches.length} instances: ${matches.map((i) => i.name).join(', ')}`, [
        'Give more of the name with --instance.',
      ]);
    }
    throw new CliError('FERRY_ERR_INSTANCE_NOT_RUNNING', `no running Ferry instance is named '${name}' (looked in ${registryDir})`, [
      live.length > 0 ? `Running instances: ${live.map((i) => i.name).join(', ')}` : 'No instance is running there at all.',
    ]);
  }
  if (live.length === 1) return live[0] as InstanceInfo;
  if (live.length === 0) {
    throw new CliError('FERRY_ERR_INSTANCE_NOT_RUNNING', `no Ferry instance is running (looked in ${registryDir})`, [
      'Start one with: ferry start [DIR]',
      'If it runs with another registry directory, pass --instance-registry-dir or set FERRY_INSTANCE_REGISTRY_DIR.',
    ]);
  }
  const list = live.map((i) => `${i.name} (watchdog pid ${i.properties.watchdog_pid}, ${i.properties.addresses.join(' ')}, ${i.properties.apps.map((a) => a.root).join(' ')})`);
  throw new CliError('FERRY_ERR_INSTANCE_AMBIGUOUS', `${live.length} Ferry instances are running; say which one with --instance NAME`, list.map((l) => `- ${l}`));
}

/**
 * The command that stops instance `name`, as short as it can be and still pick it: `ferry stop`
 * when it is the only one, else with --instance; with --instance-registry-dir when a plain
 * `ferry` would look elsewhere.
 */
export function stopCommandFor(name: string, registryDir: string): string {
  const parts = ['ferry stop'];
  if (scanRegistry(registryDir).live.length !== 1) parts.push(`--instance ${name}`);
  if (path.resolve(registryDir) !== path.resolve(defaultRegistryDir())) parts.push(`--instance-registry-dir ${registryDir}`);
  return parts.join(' ');
}

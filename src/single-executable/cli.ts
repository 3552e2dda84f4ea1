// Runs the oclif CLI from the single executable: the same commands, flags, help and errors as
// bin/run.js, with the commands and package.json taken from the bundle instead of the disk.

import path from 'node:path';
import sea from 'node:sea';
import { Config, execute, Plugin, settings, type Interfaces } from '@oclif/core';
import { COMMANDS } from './commands.js';

async function loadConfig(): Promise<Config> {
  // No TypeScript sources to look for (oclif would try under NODE_ENV=development or test).
  settings.enableAutoTranspile = false;
  const pjson = JSON.parse(sea.getAsset('package.json', 'utf8')) as Interfaces.PJSON;
  // oclif's explicit strategy names a module to import; here the table is already in memory.
  pjson.oclif = { ...pjson.oclif, commands: { strategy: 'explicit', target: 'bundled', identifier: 'COMMANDS' } };
  // Hooks are files oclif imports from disk, and there is none beside the executable: without
  // this an unknown command would report the missing hook file instead of oclif's own error.
  pjson.oclif.hooks = {};
  const root = path.dirname(process.execPath);
  // ignoreManifest: the commands' metadata comes from the classes, never from a file next to the executable.
  const plugin = new Plugin({ root, isRoot: true, pjson, ignoreManifest: true });
  Object.assign(plugin, { loadCommandsFromTarget: async () => COMMANDS });
  await plugin.load();
  return Config.load({ root, pjson, plugins: new Map([[plugin.name, plugin]]) });
}

export async function runCli(argv: string[]): Promise<void> {
  await execute({ args: argv, loadOptions: await loadConfig() });
}

import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../../src/single-executable/commands.js';
import { ferryProcessCommand, IN_SINGLE_EXECUTABLE, nodeAppCommand, NODE_LOADER, WATCHDOG_MAIN, CORE_MAIN } from '../../../src/lib/paths.js';
import { ASSET_SOURCES, LOADER_ASSETS } from '../../../src/single-executable/assets.js';

const ROOT = path.resolve(import.meta.dirname, '../../..');

describe('the single executable command table', () => {
  it('lists exactly the commands oclif finds in src/commands, each under its file name', () => {
    const onDisk = fs
      .readdirSync(path.join(ROOT, 'src/commands'))
      .filter((f) => f.endsWith('.ts'))
      .map((f) => f.slice(0, -3))
      .sort();
    expect(Object.keys(COMMANDS).sort()).toEqual(onDisk);
  });
});

describe('the single executable assets', () => {
  it('carry every loader the spawner can run, from files that exist in the repository or the build', () => {
    for (const name of LOADER_ASSETS) expect(ASSET_SOURCES).toHaveProperty(name);
    for (const source of Object.values(ASSET_SOURCES).filter((s) => !s.startsWith('dist'))) expect(fs.existsSync(path.join(ROOT, source)), source).toBe(true);
  });
});

describe('process commands outside the single executable', () => {
  it('start the watchdog and the core as scripts under this node, Node flags first', () => {
    expect(IN_SINGLE_EXECUTABLE).toBe(false);
    expect(ferryProcessCommand('watchdog')).toEqual({ command: process.execPath, args: [WATCHDOG_MAIN] });
    expect(ferryProcessCommand('core', ['--cpu-prof'])).toEqual({ command: process.execPath, args: ['--cpu-prof', CORE_MAIN] });
  });

  it('run a Node app under the chosen node with the loader preloaded', () => {
    expect(nodeAppCommand('/opt/node/bin/node', '/srv/app.js')).toEqual({ command: '/opt/node/bin/node', args: ['--inspect-port=127.0.0.1:0', '--require', NODE_LOADER, '/srv/app.js'] });
  });
});

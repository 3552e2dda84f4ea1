// Where the compiled entry points live, so the CLI and the core can start each other; and how
// they do it from the single executable (dist-bin/ferry), where there is no tree of files.

import fs from 'node:fs';
import path from 'node:path';
import sea from 'node:sea';
import { fileURLToPath } from 'node:url';
import { INSTANCE_FILES } from './instance-registry.js';

/** True inside the single executable built by `npm run package`: process.execPath is Ferry itself. */
export const IN_SINGLE_EXECUTABLE = sea.isSea();

/** dist/ (or src/ under a TypeScript loader): the root of the compiled tree. Unused in the single executable. */
const TREE_ROOT = IN_SINGLE_EXECUTABLE ? '' : fileURLToPath(new URL('..', import.meta.url));

/**
 * Under a TypeScript loader (tests, bin/dev.js) this file is src/lib/paths.ts; compiled, it is
 * dist/lib/paths.js or part of dist/bundle/ (scripts/bundle.mjs keeps that one level below dist/,
 * so TREE_ROOT is right there too).
 */
const IN_SOURCE_TREE = import.meta.url.endsWith('.ts');

/**
 * The watchdog and the core run from the bundles `npm run build` makes (scripts/bundle.mjs): one
 * file each to load instead of ~200 modules, which is most of what a restarted core spends before
 * it answers again.
 */
export const WATCHDOG_MAIN = IN_SOURCE_TREE ? `${TREE_ROOT}core/watchdog/main.js` : `${TREE_ROOT}bundle/ferry-watchdog.mjs`;
export const CORE_MAIN = IN_SOURCE_TREE ? `${TREE_ROOT}core/main.js` : `${TREE_ROOT}bundle/ferry-core.mjs`;
/**
 * The command that runs the CLI, for command lines written elsewhere (systemd units). `--`, as in
 * bin/run.js: Node would take ferry start's --env-file as its own.
 */
export const CLI_COMMAND: string[] = IN_SINGLE_EXECUTABLE ? [process.execPath] : [process.execPath, '--', path.resolve(TREE_ROOT, '../bin/run.js')];

/**
 * The loaders run by interpreters other than Ferry's own Node. The single executable writes its
 * embedded copies into the instance directory when the core starts (FERRY_INSTANCE_DIR is set
 * for the core only; app processes, which never read these paths, do not have it).
 */
export const LOADER_DIR = IN_SINGLE_EXECUTABLE ? path.join(process.env.FERRY_INSTANCE_DIR ?? '', INSTANCE_FILES.loadersDir) : `${TREE_ROOT}core/spawn`;
export const NODE_LOADER = `${LOADER_DIR}/node-loader.cjs`;
export const WSGI_LOADER = `${LOADER_DIR}/wsgi-loader.py`;
/** Imports wsgi-loader.py from beside itself (the error records and pages they share). */
export const ASGI_LOADER = `${LOADER_DIR}/asgi-loader.py`;
export const RACK_LOADER = `${LOADER_DIR}/rack-loader.rb`;

const PACKAGE_JSON = IN_SINGLE_EXECUTABLE ? sea.getAsset('package.json', 'utf8') : fs.readFileSync(`${TREE_ROOT}../package.json`, 'utf8');
export const FERRY_VERSION: string = (JSON.parse(PACKAGE_JSON) as { version: string }).version;

/** The single executable's first argument that makes it one of Ferry's processes instead of the CLI. */
export const ROLE_ARG = '--ferry-internal-role';

/** What the single executable can be besides the CLI. */
export type ProcessRole = 'watchdog' | 'core' | 'node-app';

export interface ProcessCommand {
  command: string;
  args: string[];
  /** NODE_OPTIONS for the child: the single executable takes no Node flags on its command line. */
  nodeOptions?: string;
}

/** How to start the watchdog or the core: node with the compiled script, or this executable in that role. */
export function ferryProcessCommand(role: 'watchdog' | 'core', nodeArgs: string[] = []): ProcessCommand {
  if (!IN_SINGLE_EXECUTABLE) return { command: process.execPath, args: [...nodeArgs, role === 'watchdog' ? WATCHDOG_MAIN : CORE_MAIN] };
  const nodeOptions = nodeArgs.length > 0 ? [process.env.NODE_OPTIONS ?? '', ...nodeArgs].join(' ').trim() : undefined;
  return { command: process.execPath, args: [ROLE_ARG, role], nodeOptions };
}

/**
 * How to run a Node app with the loader preloaded. The inspector stays closed; SIGUSR1 opens it
 * on a free loopback port when Ferry needs a JS stack. The single executable runs apps itself
 * (it is a Node) unless --nodejs names another interpreter.
 */
export function nodeAppCommand(nodeCommand: string, startupFile: string): ProcessCommand {
  if (IN_SINGLE_EXECUTABLE && nodeCommand === process.execPath) return { command: nodeCommand, args: [ROLE_ARG, 'node-app', startupFile] };
  return { command: nodeCommand, args: ['--inspect-port=127.0.0.1:0', '--require', NODE_LOADER, startupFile] };
}

// Where the compiled entry points live, so the CLI and the core can start each other.

import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

/** dist/ (or src/ under a TypeScript loader): the root of the compiled tree. */
const TREE_ROOT = fileURLToPath(new URL('..', import.meta.url));

export const WATCHDOG_MAIN = `${TREE_ROOT}core/watchdog/main.js`;
export const CORE_MAIN = `${TREE_ROOT}core/main.js`;
export const NODE_LOADER = `${TREE_ROOT}core/spawn/node-loader.cjs`;
export const WSGI_LOADER = `${TREE_ROOT}core/spawn/wsgi-loader.py`;
export const RACK_LOADER = `${TREE_ROOT}core/spawn/rack-loader.rb`;
/** The CLI's entry point, for command lines that run ferry (systemd units). */
export const CLI_BIN = fileURLToPath(new URL('../bin/run.js', new URL('..', import.meta.url)));

export const FERRY_VERSION: string = (
  JSON.parse(fs.readFileSync(`${TREE_ROOT}../package.json`, 'utf8')) as { version: string }
).version;

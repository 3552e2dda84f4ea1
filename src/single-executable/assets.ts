// The files the single executable carries inside itself (sea-config "assets"), where each comes
// from at build time, and how each reaches the disk at run time when something needs a real file.

import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import sea from 'node:sea';
import { pathToFileURL } from 'node:url';

/** Asset name -> its source, relative to the repository root (read by scripts/package.mjs). */
export const ASSET_SOURCES: Record<string, string> = {
  'package.json': 'package.json',
  'node-loader.cjs': 'dist/core/spawn/node-loader.cjs',
  'wsgi-loader.py': 'dist/core/spawn/wsgi-loader.py',
  'asgi-loader.py': 'dist/core/spawn/asgi-loader.py',
  'rack-loader.rb': 'dist/core/spawn/rack-loader.rb',
  // The ink live view (status --watch), an ES module of its own: see importEmbeddedModule.
  'status-view.mjs': 'dist-bin/.build/status-view.mjs',
  // The prebuild require-addon would pick for this machine; the executable is built per platform.
  'fs-native-extensions.node': `node_modules/fs-native-extensions/prebuilds/${process.platform}-${process.arch}/fs-native-extensions.node`,
  // koffi's prebuild for this machine (sd_notify under systemd); its directories are named platform_arch.
  'koffi.node': `node_modules/koffi/build/koffi/${process.platform}_${process.arch}/koffi.node`,
};

/** Run by other interpreters (or another node given with --nodejs), so they must be files. */
export const LOADER_ASSETS = ['node-loader.cjs', 'wsgi-loader.py', 'asgi-loader.py', 'rack-loader.rb'];

/** Writes the loaders into dir (in the 0700 instance directory, so nobody else can swap them). */
export function writeLoaders(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const name of LOADER_ASSETS) fs.writeFileSync(path.join(dir, name), Buffer.from(sea.getAsset(name)), { mode: 0o644 });
}

/**
 * Loads a native addon carried as an asset. dlopen needs a file: it goes to a fresh private
 * temporary directory that is removed as soon as the library is mapped, so nothing is left behind.
 */
export function loadEmbeddedAddon(name: string): unknown {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-addon-'));
  try {
    const file = path.join(dir, name);
    fs.writeFileSync(file, Buffer.from(sea.getAsset(name)), { mode: 0o700 });
    const addon = { exports: {} };
    process.dlopen(addon, file);
    return addon.exports;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Imports an ES module carried as an asset: the ink live view, whose dependencies use top-level
 * await and so cannot be in the CommonJS main script. Node 20 lets that script import() only
 * built-ins, so a one-line CommonJS file next to the module (loaded from disk) does the import().
 */
export async function importEmbeddedModule(name: string): Promise<unknown> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-module-'));
  try {
    const file = path.join(dir, name);
    fs.writeFileSync(file, Buffer.from(sea.getAsset(name)), { mode: 0o600 });
    const importer = path.join(dir, 'import.cjs');
    fs.writeFileSync(importer, 'module.exports = (url) => import(url);\n', { mode: 0o600 });
    const importUrl = createRequire(importer)(importer) as (url: string) => Promise<unknown>;
    return await importUrl(pathToFileURL(file).href);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

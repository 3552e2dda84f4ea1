#!/usr/bin/env node
// npm run package: builds dist-bin/ferry, one executable that runs Ferry on a host without Node.
// It uses Node's own single executable application support (SEA): the compiled tree (dist/,
// built first by `npm run build`) is bundled by esbuild into one CommonJS script, which
// `node --experimental-sea-config` turns into a blob with the assets (loaders, the flock addon,
// package.json), and postject injects the blob into a copy of this node binary. No network.

import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT_DIR = path.join(ROOT, 'dist-bin');
const WORK_DIR = path.join(OUT_DIR, '.build');
const EXECUTABLE = path.join(OUT_DIR, 'ferry');
/** The fuse Node's SEA support looks for (Node's documentation, "Single executable applications"). */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

const ASSETS_MODULE = path.join(ROOT, 'dist/single-executable/assets.js');
const { ASSET_SOURCES } = await import(ASSETS_MODULE);
const started = Date.now();
fs.rmSync(OUT_DIR, { recursive: true, force: true });
fs.mkdirSync(WORK_DIR, { recursive: true });

// fs-native-extensions finds its prebuild on disk through require-addon; in the executable the
// addon comes from an asset instead (loadEmbeddedAddon writes it to a private temp file to dlopen).
const embeddedAddon = {
  name: 'embedded-addon',
  setup(build) {
    build.onLoad({ filter: /fs-native-extensions[\\/]binding\.js$/ }, () => ({
      contents: `module.exports = require(${JSON.stringify(ASSETS_MODULE)}).loadEmbeddedAddon('fs-native-extensions.node');`,
      loader: 'js',
    }));
    // flock for the instance lock, loaded on first use by a require() that finds nothing in the
    // executable: the package itself, bundled (its binding.js is swapped just above).
    build.onLoad({ filter: /dist[\\/]lib[\\/]file-lock\.js$/ }, () => ({
      contents: "import fsx from 'fs-native-extensions';\nexport function tryLock(fd) { return fsx.tryLock(fd); }\n",
      loader: 'js',
    }));
    // koffi's own loader looks for its .node in node_modules; its raw native module has the same
    // load()/func() that sd-notify uses (the package only wraps it with deprecated aliases).
    build.onLoad({ filter: /dist[\\/]lib[\\/]koffi\.js$/ }, () => ({
      contents: `import { loadEmbeddedAddon } from ${JSON.stringify(ASSETS_MODULE)};\nexport function loadKoffi() { return loadEmbeddedAddon('koffi.node'); }\n`,
      loader: 'js',
    }));
  },
};

// Modules that are loaded only in development: oclif tries the first four (in try/catch) to run
// TypeScript sources, ink the last under DEV=true. Bundled they would add megabytes; left
// external, each miss makes Node warn about SEA require(). They fail as if not installed.
const ABSENT_MODULES = ['typescript', 'ts-node', 'source-map-support', 'pnpapi', 'react-devtools-core'];
const absentModules = {
  name: 'absent-modules',
  setup(build) {
    build.onResolve({ filter: new RegExp(`^(${ABSENT_MODULES.join('|')})$`) }, (args) => ({ path: args.path, namespace: 'absent' }));
    build.onLoad({ filter: /.*/, namespace: 'absent' }, (args) => ({
      contents: `throw Object.assign(new Error(${JSON.stringify(`Cannot find module '${args.path}'`)}), { code: 'MODULE_NOT_FOUND' });`,
      loader: 'js',
    }));
  },
};

// The ink live view (status --watch) is an ES module asset: ink and yoga use top-level await,
// which a CommonJS script cannot hold. The main script imports it on demand (importEmbeddedModule).
const liveViewAsAsset = {
  name: 'live-view-as-asset',
  setup(build) {
    build.onLoad({ filter: /cli[\\/]ui[\\/]render\.js$/ }, () => ({
      contents: `import { importEmbeddedModule } from ${JSON.stringify(ASSETS_MODULE)};
export async function watchStatus(...args) { return (await importEmbeddedModule('status-view.mjs')).watchStatus(...args); }`,
      loader: 'js',
    }));
  },
};
await esbuild.build({
  entryPoints: [path.join(ROOT, 'dist/cli/ui/render.js')],
  outfile: path.join(WORK_DIR, 'status-view.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  minify: true,
  legalComments: 'none',
  plugins: [absentModules],
  // React is CommonJS: give the ES module a require() of its own.
  banner: { js: "import { createRequire as __ferryCreateRequire } from 'node:module'; const require = __ferryCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});

const bundle = path.join(WORK_DIR, 'ferry.cjs');
await esbuild.build({
  entryPoints: [path.join(ROOT, 'dist/single-executable/entry.js')],
  outfile: bundle,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  minify: !process.env.FERRY_PACKAGE_NO_MINIFY,
  keepNames: true,
  legalComments: 'none',
  plugins: [embeddedAddon, liveViewAsAsset, absentModules],
  // Some ES modules read import.meta.url at load (ps-list, to find a Windows helper): in a
  // CommonJS bundle it is the executable's own URL.
  define: { 'import.meta.url': '__ferryExecutableUrl' },
  banner: { js: "var __ferryExecutableUrl = require('node:url').pathToFileURL(process.execPath).href;" },
  logLevel: 'warning',
});

const assets = Object.fromEntries(Object.entries(ASSET_SOURCES).map(([name, source]) => [name, path.join(ROOT, source)]));
for (const [name, file] of Object.entries(assets)) if (!fs.existsSync(file)) throw new Error(`asset ${name}: ${file} is missing (run npm run build first)`);
const blob = path.join(WORK_DIR, 'ferry.blob');
const seaConfig = path.join(WORK_DIR, 'sea-config.json');
fs.writeFileSync(seaConfig, JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true, assets }, null, 2));
execFileSync(process.execPath, ['--experimental-sea-config', seaConfig], { stdio: ['ignore', 'ignore', 'inherit'] });

fs.copyFileSync(process.execPath, EXECUTABLE);
fs.chmodSync(EXECUTABLE, 0o755);
// postject (LIEF) warns about every ELF note it cannot name; only a failure is worth showing.
const injected = spawnSync(process.execPath, [path.join(ROOT, 'node_modules/postject/dist/cli.js'), EXECUTABLE, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE], { encoding: 'utf8' });
if (injected.status !== 0) throw new Error(`postject failed (${injected.status ?? injected.signal}):\n${injected.stderr}`);
const sizeMb = (fs.statSync(EXECUTABLE).size / 1e6).toFixed(1);
console.log(`dist-bin/ferry: ${sizeMb} MB, Node ${process.version} ${process.platform}-${process.arch}, built in ${((Date.now() - started) / 1000).toFixed(1)} s`);

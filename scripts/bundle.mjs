#!/usr/bin/env node
// Part of `npm run build` (after tsc): bundles the watchdog and the core into dist/bundle/, so that
// a core restarted after a crash loads one file instead of resolving and evaluating ~200 modules
// (~100 ms of the time clients wait; README, "Self-healing"). What is imported on demand is not
// parsed at start: Ferry's own modules (the admin API, the metrics exposition) become chunks of
// their own; packages (prom-client, mime-types, the diagnostics' undici) stay in node_modules.
//
// Layout rule: dist/bundle/ is one level below dist/, like every compiled directory, so that
// lib/paths.ts, bundled into these files or a chunk, finds the tree root ('..' of its own URL)
// and with it the loaders and package.json. The CLI starts these files (lib/paths.ts); the single
// executable bundles the tsc output itself (scripts/package.mjs).

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIST = path.join(ROOT, 'dist');
const OUT_DIR = path.join(DIST, 'bundle');

// Native addons find their prebuilds on disk relative to their own package: they stay in
// node_modules, loaded by require() at run time (lib/file-lock.ts, lib/koffi.ts).
const EXTERNAL = ['fs-native-extensions', 'koffi'];

// Packages imported on demand (`import('prom-client')`) stay in node_modules too, loaded by Node
// when first needed: Node gives a CommonJS package its named exports, which the same package in
// an esbuild chunk would not have (only a default export), and they cost nothing at start.
const onDemandPackagesStayExternal = {
  name: 'on-demand-packages-stay-external',
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, (args) => (args.kind === 'dynamic-import' ? { path: args.path, external: true } : undefined));
  },
};

fs.rmSync(OUT_DIR, { recursive: true, force: true });
const result = await esbuild.build({
  entryPoints: {
    'ferry-watchdog': path.join(DIST, 'core/watchdog/main.js'),
    'ferry-core': path.join(DIST, 'core/main.js'),
  },
  outdir: OUT_DIR,
  outExtension: { '.js': '.mjs' },
  // In the same directory as the entries: see the layout rule above.
  chunkNames: 'chunk-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: EXTERNAL,
  plugins: [onDemandPackagesStayExternal],
  // Nothing minified, so functions keep their names in stacks without keepNames, which would wrap
  // every inner function in a __name() call each time it is created (measured on the proxy path).
  keepNames: false,
  sourcemap: 'linked',
  legalComments: 'none',
  // CommonJS packages (pino, undici) call require() for Node's built-ins: give every file one.
  banner: { js: "import { createRequire as __ferryCreateRequire } from 'node:module'; const require = __ferryCreateRequire(import.meta.url);" },
  metafile: true,
  logLevel: 'warning',
});

const sizes = Object.entries(result.metafile.outputs)
  .filter(([file]) => file.endsWith('.mjs'))
  .map(([file, out]) => [path.basename(file), out.bytes]);
const entryKb = sizes.filter(([name]) => name.startsWith('ferry-')).map(([name, bytes]) => `${name} ${(bytes / 1024).toFixed(0)} KB`);
console.log(`dist/bundle: ${entryKb.join(', ')}, ${sizes.length - entryKb.length} chunks`);

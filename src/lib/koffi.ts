// koffi (FFI), loaded on first use: only sd_notify needs it, and only under systemd. A module of its
// own so that the single executable's bundler can swap in the native module it carries
// (scripts/package.mjs), since a require() of node_modules finds nothing inside the executable.

import { createRequire } from 'node:module';

export type Koffi = typeof import('koffi');

export function loadKoffi(): Koffi {
  return createRequire(import.meta.url)('koffi') as Koffi;
}

#!/usr/bin/env -S node --import tsx
// Development entry: runs the TypeScript sources directly (commands only; the watchdog and core
// are started from dist/, so run `npm run build` after changing them).
import { execute } from '@oclif/core';

await execute({ development: true, dir: import.meta.url });

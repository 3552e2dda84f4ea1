// Finds out what kind of app a directory holds and which file starts it.

import fs from 'node:fs';
import path from 'node:path';
import type { AppType } from './config.js';

export interface DetectedApp {
  appType: AppType;
  startupFile: string;
}

export type DetectionResult =
  | { ok: true; app: DetectedApp }
  | { ok: false; reason: string; suggestion: string };

function readPackageMain(root: string): string | undefined {
  const pkgPath = path.join(root, 'package.json');
  if (!fs.existsSync(pkgPath)) return undefined;
  try {
    const pkg = JSON.parse(fs.readFileSync(pkgPath, 'utf8')) as { main?: unknown };
    return typeof pkg.main === 'string' ? pkg.main : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Node apps are recognised by `app.js` or by the "main" of `package.json` (Passenger looks only
 * for app.js; package.json's main is what Node users expect). An explicit startup file wins.
 */
export function detectApp(root: string, opts: { appType?: AppType; startupFile?: string } = {}): DetectionResult {
  if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) {
    return { ok: false, reason: `${root} is not a directory`, suggestion: 'Pass the directory that holds your app: ferry start PATH/TO/APP' };
  }
  if (opts.startupFile) {
    const file = path.resolve(root, opts.startupFile);
    if (!fs.existsSync(file)) {
      return { ok: false, reason: `startup file ${file} does not exist`, suggestion: 'Check --startup-file; it is relative to the app directory.' };
    }
    return { ok: true, app: { appType: opts.appType ?? 'node', startupFile: file } };
  }
  const candidates = ['app.js'];
  const main = readPackageMain(root);
  if (main) candidates.push(main);
  for (const candidate of candidates) {
    const file = path.resolve(root, candidate);
    if (fs.existsSync(file) && fs.statSync(file).isFile()) return { ok: true, app: { appType: 'node', startupFile: file } };
  }
  return {
    ok: false,
    reason: `no app found in ${root}: expected app.js or a package.json with a "main" file`,
    suggestion: 'Point ferry start at your app directory, or name the entry file with --startup-file.',
  };
}

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

/** Why `root` cannot be an app directory (it is missing, or a file), or undefined when it is a directory. */
export function appDirProblem(root: string): string | undefined {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(root);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return `app directory ${root} does not exist`;
    return `cannot read app directory ${root} (${code ?? (err as Error).message})`;
  }
  return stat.isDirectory() ? undefined : `${root} is not a directory`;
}

/** Entry files that identify an app type, in the order they are looked for. */
const MARKERS: { file: string; appType: AppType }[] = [
  { file: 'passenger_wsgi.py', appType: 'python' },
  { file: 'asgi.py', appType: 'asgi' },
  { file: 'config.ru', appType: 'ruby' },
  { file: 'app.js', appType: 'node' },
];

/**
 * Recognises the app: passenger_wsgi.py (WSGI), asgi.py (ASGI), config.ru (Rack), app.js or the "main" of
 * package.json (Node; Passenger looks only for app.js). An explicit startup file wins, with the
 * type given or guessed from its extension.
 */
export function detectApp(root: string, opts: { appType?: AppType; startupFile?: string } = {}): DetectionResult {
  const missing = appDirProblem(root);
  if (missing) return { ok: false, reason: missing, suggestion: 'Pass the directory that holds your app: ferry start PATH/TO/APP' };
  if (opts.startupFile) {
    const file = path.resolve(root, opts.startupFile);
    if (!fs.existsSync(file)) {
      return { ok: false, reason: `startup file ${file} does not exist`, suggestion: 'Check --startup-file; it is relative to the app directory.' };
    }
    const guessed: AppType = file.endsWith('.py') ? (path.basename(file) === 'asgi.py' ? 'asgi' : 'python') : file.endsWith('.ru') || file.endsWith('.rb') ? 'ruby' : 'node';
    return { ok: true, app: { appType: opts.appType ?? guessed, startupFile: file } };
  }
  const candidates = MARKERS.filter((m) => opts.appType === undefined || m.appType === opts.appType);
  const main = opts.appType === undefined || opts.appType === 'node' ? readPackageMain(root) : undefined;
  if (main) candidates.push({ file: main, appType: 'node' });
  for (const candidate of candidates) {
    const file = path.resolve(root, candidate.file);
    if (fs.existsSync(file) && fs.statSync(file).isFile()) return { ok: true, app: { appType: candidate.appType, startupFile: file } };
  }
  return {
    ok: false,
    reason: `no app found in ${root}: expected passenger_wsgi.py, asgi.py, config.ru, app.js or a package.json with a "main" file`,
    suggestion: 'Point ferry start at your app directory, name the entry file with --startup-file, or run any server with --app-start-command.',
  };
}

// The OOM killer must never pick the watchdog (nothing would supervise the server any more), so
// as root it opts out; the core puts the original score back, and its app processes inherit it.

import fs from 'node:fs';

const OOM_FILE = '/proc/self/oom_score_adj';
export const OOM_ENV = 'FERRY_OOM_SCORE_ADJ';

/** Returns the original score to hand to the core, or undefined when nothing was changed. */
export function protectFromOomKiller(): string | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const original = fs.readFileSync(OOM_FILE, 'utf8').trim();
    fs.writeFileSync(OOM_FILE, '-1000');
    return original;
  } catch {
    // Containers often forbid it; the watchdog still works, only less protected.
    return undefined;
  }
}

export function restoreOomScore(original: string | undefined): void {
  if (original === undefined || !/^-?\d+$/.test(original)) return;
  try {
    fs.writeFileSync(OOM_FILE, original);
  } catch {
    // Raising the score is always allowed; if /proc is missing there is nothing to restore.
  }
}

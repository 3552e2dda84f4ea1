// Small helpers for units that appear in names (ms, bytes) and in human output.

export function formatDurationMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.floor(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Sends a signal to a pid or (negative) process group; a process that is already gone is not an error. */
export function signalQuietly(pidOrGroup: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pidOrGroup, signal);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ESRCH') return false;
    throw err;
  }
}

/** Bytes from '65536', '512k', '64m' or '1g' (powers of 1024); NaN when it is none of those. */
export function parseByteSize(text: string): number {
  const match = /^\s*([0-9]+)\s*([kmg]?)b?\s*$/i.exec(text);
  if (!match) return NaN;
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(match[2] as string).toLowerCase()] as number;
  return Number(match[1]) * unit;
}

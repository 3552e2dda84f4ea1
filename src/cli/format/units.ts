// Human units for operator output: durations the way passenger-status prints them, and memory.

/** `5s`, `1m 11s`, `2h 3m 4s`, `1d 2h 3m 4s`: Passenger's distanceOfTimeInWords. */
export function formatUptime(ms: number): string {
  let s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86_400);
  s %= 86_400;
  const h = Math.floor(s / 3600);
  s %= 3600;
  const m = Math.floor(s / 60);
  s %= 60;
  if (d > 0) return `${d}d ${h}h ${m}m ${s}s`;
  if (h > 0) return `${h}h ${m}m ${s}s`;
  if (m > 0) return `${m}m ${s}s`;
  return `${s}s`;
}

/** Whole mebibytes with an M, as passenger-status shows memory. */
export function formatMegabytes(bytes: number | null): string {
  if (bytes === null) return '?';
  return `${Math.round(bytes / (1024 * 1024))}M`;
}

/** Bytes in the largest unit that keeps a whole number in front: `0`, `512B`, `64K`, `1.5M`, `2.0G`. */
export function formatBytes(bytes: number): string {
  if (bytes === 0) return '0';
  if (bytes < 1024) return `${bytes}B`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)}K`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)}M`;
  return `${(bytes / 1024 ** 3).toFixed(1)}G`;
}

export function formatPercent(value: number | null): string {
  return value === null ? '?' : `${Math.round(value)}%`;
}

// Watch mode (--watch): the changes AppFileWatcher reports become rolling restarts. One save
// touches several files (and an editor writes each one twice), so changes are gathered until none
// has come for a quiet period, and then the app restarts once, with those files as the reason. One
// restart at a time: whatever changes while one runs makes exactly one more after it.

/** Quiet time after the last change before the restart: one save of many files is one restart. */
export const WATCH_QUIET_MS = 300;

/** Names kept per batch: enough for the reason, and a flood of changes cannot grow the memory. */
const MAX_NAMES = 1000;

/** The files changed since the last restart, relative to the app's root, first seen first. */
export class ChangedFiles {
  readonly names = new Set<string>();
  /** More names came than MAX_NAMES holds. */
  overflow = false;

  add(name: string): void {
    if (this.names.size < MAX_NAMES) this.names.add(name);
    else if (!this.names.has(name)) this.overflow = true;
  }
}

/** A name as the log shows it: one with control characters (a newline) is quoted, so it cannot forge a line. */
function shown(name: string): string {
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u001f\u007f]/.test(name) ? JSON.stringify(name) : name;
}

/** Why the app restarts: "files changed (src/app.js, +2 more)" (pure). */
export function changeReason(changed: ChangedFiles): string {
  const [first] = changed.names;
  const more = changed.names.size - 1;
  if (first === undefined) return 'files changed';
  if (more === 0 && !changed.overflow) return `files changed (${shown(first)})`;
  return `files changed (${shown(first)}, +${more}${changed.overflow ? ' at least' : ''} more)`;
}

export type WatchPhase =
  /** Nothing changed since the last restart. */
  | { kind: 'idle' }
  /** Changes came; the restart follows once none has come for the quiet period. */
  | { kind: 'settling'; changed: ChangedFiles; timer: NodeJS.Timeout }
  /** A restart runs; `next` holds what changed since it began (one more restart after it). */
  | { kind: 'restarting'; next?: ChangedFiles }
  | { kind: 'closed' };

type WatchEvent = { type: 'change'; name: string } | { type: 'quiet' } | { type: 'restarted' } | { type: 'close' };

/**
 * Turns changes into restarts: debounced by the quiet period, one at a time. `restart` resolves
 * once the restart is over (done, failed, or its processes cannot start); it must not reject, but
 * a rejection is taken as the end of that restart too.
 */
export class WatchRestarts {
  private phase: WatchPhase = { kind: 'idle' };

  constructor(
    private readonly restart: (changed: ChangedFiles) => Promise<void>,
    private readonly quietMs = WATCH_QUIET_MS,
  ) {}

  get state(): WatchPhase['kind'] {
    return this.phase.kind;
  }

  changed(name: string): void {
    this.on({ type: 'change', name });
  }

  /** No restart from now on; a pending one is cancelled. */
  close(): void {
    this.on({ type: 'close' });
  }

  /** Every transition, in one place. */
  private on(event: WatchEvent): void {
    const phase = this.phase;
    if (phase.kind === 'closed') return;
    switch (event.type) {
      case 'close':
        if (phase.kind === 'settling') clearTimeout(phase.timer);
        this.phase = { kind: 'closed' };
        return;
      case 'change':
        if (phase.kind === 'idle') {
          const changed = new ChangedFiles();
          changed.add(event.name);
          this.phase = this.settling(changed);
        } else if (phase.kind === 'settling') {
          phase.changed.add(event.name);
          phase.timer.refresh(); // the quiet period starts again
        } else (phase.next ??= new ChangedFiles()).add(event.name);
        return;
      case 'quiet':
        if (phase.kind !== 'settling') return;
        this.phase = { kind: 'restarting' };
        this.restart(phase.changed)
          .catch(() => undefined)
          .finally(() => this.on({ type: 'restarted' }));
        return;
      case 'restarted':
        if (phase.kind !== 'restarting') return;
        // Changes made during the restart may have been half a save: they settle again first.
        this.phase = phase.next ? this.settling(phase.next) : { kind: 'idle' };
        return;
    }
  }

  private settling(changed: ChangedFiles): WatchPhase {
    const timer = setTimeout(() => this.on({ type: 'quiet' }), this.quietMs);
    // A pending restart never holds the core up (a stop closes it anyway).
    timer.unref();
    return { kind: 'settling', changed, timer };
  }
}

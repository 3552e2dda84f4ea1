// The last lines a running app process wrote (stdout and stderr, as logged), kept for the
// evidence Ferry saves before it recycles the process. A ring: one slot write per line, since
// the core handles every line an app writes.

/** A line longer than this is kept cut (a single huge line must not hold megabytes). */
const MAX_LINE_CHARS = 2048;

export class RecentLines {
  private readonly lines: string[] = [];
  private next = 0;

  constructor(readonly capacity = 100) {}

  push(line: string): void {
    const kept = line.length > MAX_LINE_CHARS ? `${line.slice(0, MAX_LINE_CHARS)}…` : line;
    if (this.lines.length < this.capacity) this.lines.push(kept);
    else this.lines[this.next] = kept;
    this.next = (this.next + 1) % this.capacity;
  }

  /** Oldest first. */
  toArray(): string[] {
    return this.lines.length < this.capacity ? [...this.lines] : [...this.lines.slice(this.next), ...this.lines.slice(0, this.next)];
  }
}

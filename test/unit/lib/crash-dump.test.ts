import { describe, expect, it } from 'vitest';
import { parseBacktraces, parseExitCode, parseStopSignal } from '../../../src/lib/diagnostics/crash-dump.js';
import { exitCodeFor } from '../../../src/cli/crash-watch.js';

const GDB = `
Thread 2 (Thread 0x7f1 (LWP 4243) "worker"):
#0  0x00007f50 in epoll_wait (epfd=3) at ../sysdeps/unix/sysv/linux/epoll_wait.c:30
#1  0x000055c1 in uv__io_poll ()

Thread 1 (Thread 0x7f0 (LWP 4242) "server"):
#0  __GI___clock_nanosleep (clock_id=0) at ../sysdeps/unix/sysv/linux/clock_nanosleep.c:71
#1  0x000055c148e80147 in ferry_sleeping_function () at /tmp/sleeper.c:2
#2  0x000055c148e80152 in main () at /tmp/sleeper.c:3
[Inferior 1 (process 4242) detached]
`;

describe('parseBacktraces', () => {
  it('reads threads with their LWP and name, and frames with function and location', () => {
    const threads = parseBacktraces(GDB);
    expect(threads.map((t) => [t.id, t.lwp, t.name, t.frames.length])).toEqual([
      [2, 4243, 'worker', 2],
      [1, 4242, 'server', 3],
    ]);
    expect(threads[1]?.frames[1]).toEqual({ index: 1, function: 'ferry_sleeping_function', location: '/tmp/sleeper.c:2' });
    expect(threads[0]?.frames[1]).toEqual({ index: 1, function: 'uv__io_poll' });
  });
});

describe('parseStopSignal and parseExitCode', () => {
  it('finds the signal that stopped the program', () => {
    expect(parseStopSignal('Program received signal SIGSEGV, Segmentation fault.')).toBe('SIGSEGV');
    expect(parseStopSignal('Thread 3 "x" received signal SIGABRT, Aborted.')).toBe('SIGABRT');
    expect(parseStopSignal('[Inferior 1 (process 1) exited normally]')).toBeUndefined();
  });

  it("reads a normal exit and gdb's octal exit codes", () => {
    expect(parseExitCode('[Inferior 1 (process 9) exited normally]')).toBe(0);
    expect(parseExitCode('[Inferior 1 (process 9) exited with code 012]')).toBe(10);
    expect(parseExitCode('Program received signal SIGSEGV')).toBeUndefined();
  });
});

describe('exitCodeFor', () => {
  it('is 128 + the signal number after a crash, 0 otherwise', () => {
    expect(exitCodeFor({ mode: 'watch', outcome: 'crashed', signal: 'SIGSEGV', threads: [], output: '' })).toBe(139);
    expect(exitCodeFor({ mode: 'watch', outcome: 'crashed', signal: 'SIGABRT', threads: [], output: '' })).toBe(134);
    expect(exitCodeFor({ mode: 'watch', outcome: 'exited', exitCode: 3, threads: [], output: '' })).toBe(0);
  });

  it('is partial (68) after a dump whose inspector would not close, 0 when it did', () => {
    expect(exitCodeFor({ mode: 'dump', outcome: 'dumped', threads: [], output: '', inspector: { port: 40000, closed: false } })).toBe(68);
    expect(exitCodeFor({ mode: 'dump', outcome: 'dumped', threads: [], output: '', inspector: { port: 40000, closed: true } })).toBe(0);
  });

  // Issue 19, item 8: `crash-watch --json -- sh -c 'exit 3'` exited 0.
  it("passes on the status of a command it ran (crash-watch -- CMD) that exited without a crash", () => {
    expect(exitCodeFor({ mode: 'run', outcome: 'exited', exitCode: 3, threads: [], output: '' })).toBe(3);
    expect(exitCodeFor({ mode: 'run', outcome: 'exited', exitCode: 0, threads: [], output: '' })).toBe(0);
  });
});

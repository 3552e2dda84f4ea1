import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CoreError } from '../../../src/core/errors.js';
import { Logger, ReopenableFileSink, throttledWarn, type LogFormat } from '../../../src/core/log.js';
import type { LogLevel } from '../../../src/lib/config.js';

const NOW = new Date('2026-01-02T03:04:05.678Z');

let lines: string[];

function logger(level: LogLevel = 'info', format: LogFormat = 'json'): Logger {
  return new Logger({ level, format, sink: { write: (line) => lines.push(line) } });
}

function records(): Record<string, unknown>[] {
  return lines.map((line) => JSON.parse(line) as Record<string, unknown>);
}

beforeEach(() => {
  lines = [];
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(NOW);
});

afterEach(() => {
  vi.useRealTimers();
});

describe('Logger', () => {
  it('writes one JSON line with level, time, pid and msg', () => {
    logger().info('core listening', { port: 3000 });
    expect(lines).toHaveLength(1);
    expect(lines[0]?.endsWith('\n')).toBe(true);
    expect(records()).toEqual([{ level: 30, time: NOW.getTime(), pid: process.pid, port: 3000, msg: 'core listening' }]);
  });

  it('never lets a field overwrite the level, time, pid or msg of a line', () => {
    const fields = { level: 'fake', time: 1, pid: 2, msg: 'fake message' };
    logger().info('real message', fields);
    expect(records()).toEqual([{ level: 30, time: NOW.getTime(), pid: process.pid, msg: 'real message' }]);
    expect(fields).toEqual({ level: 'fake', time: 1, pid: 2, msg: 'fake message' });
  });

  it('numbers the levels as pino does', () => {
    const log = logger('debug');
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('e');
    expect(records().map((r) => [r.level, r.msg])).toEqual([[20, 'd'], [30, 'i'], [40, 'w'], [50, 'e']]);
  });

  it('adds the bindings of a child, and of its own children, to every line', () => {
    const child = logger().child({ component: 'pool' }).child({ app: 'hello' });
    child.warn('slow spawn', { spawnMs: 1200 });
    expect(records()).toEqual([{ level: 40, time: NOW.getTime(), pid: process.pid, component: 'pool', app: 'hello', spawnMs: 1200, msg: 'slow spawn' }]);
  });

  it('writes a key bound by a parent and again by a child once, with the value of the child', () => {
    logger().child({ component: 'core' }).child({ component: 'pool' }).info('x');
    expect(lines[0]?.match(/"component"/g)).toHaveLength(1);
    expect(records()[0]?.component).toBe('pool');
  });

  it('lets fields of one call override a binding without changing the child', () => {
    const child = logger().child({ component: 'pool' });
    child.info('a', { component: 'proxy' });
    child.info('b');
    expect(records().map((r) => r.component)).toEqual(['proxy', 'pool']);
  });

  it('drops lines below the configured level', () => {
    const log = logger('warn');
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('e');
    expect(records().map((r) => r.msg)).toEqual(['w', 'e']);
  });

  it('applies setLevel on a child to the parent too', () => {
    const parent = logger('info');
    const child = parent.child({ component: 'core' });
    parent.debug('hidden');
    child.setLevel('debug');
    parent.debug('shown');
    child.setLevel('error');
    parent.warn('hidden again');
    expect(records().map((r) => r.msg)).toEqual(['shown']);
  });

  it('serialises err with its type, message, stack and code', () => {
    const err = new CoreError('FERRY_ERR_POOL_UNAVAILABLE', 'no process');
    logger().error('request failed', { err });
    expect(records()[0]?.err).toEqual({ type: 'CoreError', message: 'no process', stack: err.stack, code: 'FERRY_ERR_POOL_UNAVAILABLE' });
    expect(err.stack).toContain('no process');
  });

  it('leaves out code for an error that has none, and keeps a non-error err as it is', () => {
    const log = logger();
    log.error('a', { err: new TypeError('bad') });
    log.error('b', { err: 'just a string' });
    const [first, second] = records();
    expect(first?.err).toEqual({ type: 'TypeError', message: 'bad', stack: expect.stringContaining('TypeError: bad') });
    expect(second?.err).toBe('just a string');
  });

  it('writes a readable line with time, level, component and fields in pretty format', () => {
    logger('info', 'pretty').child({ component: 'core' }).info('listening', { port: 3000, path: '/tmp/a b' });
    expect(lines).toEqual([`2026-01-02T03:04:05.678Z INFO  core[${process.pid}]: listening port=3000 path="/tmp/a b"\n`]);
  });

  it('puts the stack of err under a pretty line', () => {
    const err = new Error('boom');
    logger('info', 'pretty').child({ component: 'watchdog' }).error('core crashed', { err, code: 1 });
    expect(lines[0]).toMatch(new RegExp(`^\\S+ ERROR watchdog\\[${process.pid}\\]: core crashed code=1\\n  Error: boom\\n`));
  });
  it('writes lines of another process (app output) with that process as pid and without the own bindings', () => {
    const log = logger('info').child({ component: 'app', app: 'hello', appPid: 4242 });
    log.foreign({ app: 'hello', pid: 4242, stream: 'stderr' }).info('listening');
    expect(records()).toEqual([{ level: 30, time: NOW.getTime(), pid: 4242, app: 'hello', stream: 'stderr', msg: 'listening' }]);
  });

  it('applies setLevel to the lines of another process too', () => {
    const log = logger('info');
    const app = log.foreign({ app: 'hello', pid: 4242, stream: 'stdout' });
    log.setLevel('warn');
    app.info('hidden');
    log.setLevel('info');
    app.info('shown');
    expect(records().map((r) => r.msg)).toEqual(['shown']);
  });

  it("writes app output in pretty format as the app's own line", () => {
    logger('info', 'pretty').foreign({ app: 'hello', pid: 4242, stream: 'stdout' }).info('listening on 3000');
    expect(lines).toEqual(['2026-01-02T03:04:05.678Z INFO  hello[4242]: listening on 3000\n']);
  });
});

describe('ReopenableFileSink', () => {
  it('writes each line before returning, and after a reopen writes to the file now at the path', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-log-'));
    try {
      const file = path.join(dir, 'ferry.log');
      const sink = new ReopenableFileSink(file);
      sink.write('one\n');
      expect(fs.readFileSync(file, 'utf8')).toBe('one\n');
      fs.renameSync(file, `${file}.1`);
      sink.write('two\n');
      sink.reopen();
      sink.write('three\n');
      expect(fs.readFileSync(`${file}.1`, 'utf8')).toBe('one\ntwo\n');
      expect(fs.readFileSync(file, 'utf8')).toBe('three\n');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('throws from reopen when the path cannot be opened, and goes on writing to the old file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-log-'));
    try {
      const file = path.join(dir, 'sub', 'ferry.log');
      fs.mkdirSync(path.dirname(file));
      const sink = new ReopenableFileSink(file);
      fs.renameSync(path.dirname(file), path.join(dir, 'moved'));
      expect(() => sink.reopen()).toThrow(/ENOENT/);
      sink.write('still here\n');
      expect(fs.readFileSync(path.join(dir, 'moved', 'ferry.log'), 'utf8')).toBe('still here\n');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('throttledWarn', () => {
  it('logs a message at most once per interval and then says how many were left out', () => {
    let t = 0;
    const warn = throttledWarn(logger(), 1000, () => t);
    for (let i = 0; i < 5; i++) warn('request refused: app unavailable', { reqId: `r${i}` });
    warn('request shed: app under heavy load', { reqId: 'x' });
    t = 1000;
    warn('request refused: app unavailable', { reqId: 'r5' });
    t = 3000;
    warn('request refused: app unavailable', { reqId: 'r6' });
    expect(records().map((r) => [r.msg, r.reqId, r.suppressedSinceLast])).toEqual([
      ['request refused: app unavailable', 'r0', undefined],
      ['request shed: app under heavy load', 'x', undefined],
      ['request refused: app unavailable', 'r5', 4],
      ['request refused: app unavailable', 'r6', undefined],
    ]);
  });
});

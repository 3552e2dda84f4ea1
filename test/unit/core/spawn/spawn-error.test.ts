import { describe, expect, it } from 'vitest';
import { byHandCommand, crashReason, SpawnError } from '../../../../src/core/spawn/spawn-error.js';
import type { AppConfig } from '../../../../src/lib/config.js';
import { NODE_ENOENT, NODE_REQUIRE_MISSING, NODE_TYPE_ERROR, PYTHON_CHAINED, PYTHON_ENOENT, PYTHON_KEY_ERROR, RUBY_CHAINED, RUBY_ENOENT, RUBY_LOAD_ERROR } from './crash-outputs.js';

const NODE_CRASH = `loading configuration...
/srv/app/app.js:3
throw new Error('database URL is not configured');
^

Error: database URL is not configured
    at Object.<anonymous> (/srv/app/app.js:3:7)
    at Module._compile (node:internal/modules/cjs/loader:1554:14)

Node.js v20.20.2
`;

describe('crashReason', () => {
  it("picks Node's error line over the stack and the version footer", () => {
    expect(crashReason(NODE_CRASH)).toBe('Error: database URL is not configured');
  });

  // The case: the last line that is not noise is the "}" closing the error's properties.
  it("names the module of a failed require, with Node's error code, not the closing brace", () => {
    expect(crashReason(NODE_REQUIRE_MISSING)).toBe("Error: Cannot find module './missing.json' (MODULE_NOT_FOUND)");
  });

  it('gives the path of an ENOENT, without repeating a code the line already holds', () => {
    expect(crashReason(NODE_ENOENT)).toBe("Error: ENOENT: no such file or directory, open '/nonexistent/config.json'");
  });

  it('takes any Error class, and ignores the source line Node quotes above it', () => {
    expect(crashReason(NODE_TYPE_ERROR)).toBe('TypeError: x is not a function: really');
  });

  it("takes the crash's error line, not an error the app logged before it", () => {
    expect(crashReason(`Error: redis not ready: retrying\n${NODE_REQUIRE_MISSING}`)).toBe("Error: Cannot find module './missing.json' (MODULE_NOT_FOUND)");
  });

  it("falls back to Node's code line when the tail no longer holds the error line", () => {
    const cut = NODE_REQUIRE_MISSING.slice(NODE_REQUIRE_MISSING.indexOf('    at runScript ('));
    expect(crashReason(cut)).toBe("code: 'MODULE_NOT_FOUND'");
  });

  it("takes the last line of a Python traceback, the exception raised last when they chain, with the frame it was raised in", () => {
    expect(crashReason(PYTHON_ENOENT)).toBe("FileNotFoundError: [Errno 2] No such file or directory: 'missing.json' (at <string>:1 in <module>)");
    expect(crashReason(PYTHON_CHAINED)).toBe("RuntimeError: cannot read settings: [Errno 2] No such file or directory: 'missing.json' (at <string>:5 in <module>)");
  });

  it("names the app's own frame, not Python's, when the exception was raised inside the standard library", () => {
    expect(crashReason(PYTHON_KEY_ERROR)).toBe("KeyError: 'DATABASE_URL' (at /tmp/pyk/settings.py:3 in <module>)");
  });

  it("takes Ruby's '... (SomethingError)' line, the outer exception when a cause follows", () => {
    expect(crashReason(RUBY_LOAD_ERROR)).toBe("-e:1:in `require_relative': cannot load such file -- /tmp/op6/gen/missing (LoadError)");
    expect(crashReason(RUBY_ENOENT)).toBe("-e:1:in `read': No such file or directory @ rb_sysopen - missing.json (Errno::ENOENT)");
    expect(crashReason(RUBY_CHAINED)).toBe("-e:1:in `rescue in <main>': cannot read settings (RuntimeError)");
  });

  it('picks the last line that is not noise when no error line is present', () => {
    expect(crashReason('starting\nmissing config file /etc/app.conf\n\n')).toBe('missing config file /etc/app.conf');
  });

  it('returns an empty string for no output', () => {
    expect(crashReason('')).toBe('');
  });
});

function app(over: Partial<AppConfig>): Pick<AppConfig, 'root' | 'appType' | 'startupFile' | 'nodeCommand' | 'pythonCommand' | 'rubyCommand' | 'startCommand' | 'user'> {
  return { root: '/srv/shop', appType: 'node', startupFile: '/srv/shop/app.js', nodeCommand: 'node', ...over };
}

describe('byHandCommand', () => {
  it("runs the startup file with the interpreter Ferry used, in the app's directory", () => {
    expect(byHandCommand(app({}))).toBe('cd /srv/shop && node app.js');
    expect(byHandCommand(app({ nodeCommand: '/opt/node22/bin/node', startupFile: '/srv/shop/dist/server.js' }))).toBe('cd /srv/shop && /opt/node22/bin/node dist/server.js');
  });

  it('uses python for WSGI, loads config.ru through Rack for Ruby, and gives generic apps their PORT', () => {
    expect(byHandCommand(app({ appType: 'python', startupFile: '/srv/shop/passenger_wsgi.py', pythonCommand: 'python3.11' }))).toBe('cd /srv/shop && python3.11 passenger_wsgi.py');
    expect(byHandCommand(app({ appType: 'ruby', startupFile: '/srv/shop/config.ru', rubyCommand: 'ruby' }))).toBe(`cd /srv/shop && ruby -rrack -e 'Rack::Builder.parse_file("config.ru")'`);
    expect(byHandCommand(app({ appType: 'generic', startupFile: '/srv/shop', startCommand: 'python3 -m http.server $PORT' }))).toBe("cd /srv/shop && PORT=3000 sh -c 'python3 -m http.server $PORT'");
  });

  it("quotes paths with spaces, and runs as the app's user", () => {
    expect(byHandCommand(app({ root: '/srv/my shop', startupFile: '/srv/my shop/app.js', user: { name: 'shop', uid: 1001, gid: 1001, home: '/home/shop' } }))).toBe(
      "cd '/srv/my shop' && sudo -u shop node app.js",
    );
  });
});

describe('SpawnError', () => {
  it('names the exit code and the cause for a process that exited before listening', () => {
    const err = new SpawnError({ category: 'exited-before-ready', step: 'load', app: 'web', exitCode: 1, outputTail: NODE_CRASH, durationMs: 80 }, 90_000);
    expect(err.code).toBe('FERRY_ERR_SPAWN_EXITED');
    expect(err.message).toBe("app 'web' exited with code 1 before it listened: Error: database URL is not configured");
  });

  it('suggests the real command to run by hand, with no placeholder left', () => {
    const err = new SpawnError({ category: 'exited-before-ready', step: 'load', app: 'web', exitCode: 1, outputTail: NODE_CRASH, durationMs: 80, byHand: 'cd /srv/app && node app.js' }, 90_000);
    expect(err.suggestions).toEqual(['Run the app by hand to see the whole error: cd /srv/app && node app.js']);
    const bare = new SpawnError({ category: 'exited-before-ready', step: 'load', app: 'web', exitCode: 1, outputTail: NODE_CRASH, durationMs: 80 }, 90_000);
    expect(bare.suggestions.join(' ')).not.toMatch(/<[^>]+>/);
  });

  it('names the start timeout in seconds for a process that never listened', () => {
    const err = new SpawnError({ category: 'timeout', step: 'load', app: 'web', outputTail: '', durationMs: 2000 }, 2000);
    expect(err.code).toBe('FERRY_ERR_SPAWN_TIMEOUT');
    expect(err.message).toBe("app 'web' did not listen within 2s (start timeout)");
  });
});

describe('SpawnError of a readiness check', () => {
  const base = { app: 'shop', pid: 42, outputTail: '', durationMs: 3000, step: 'ready' as const, readiness: { path: '/ready', timeoutMs: 5000, last: '503' } };

  it('names the path, the last status seen and the timeout, with its own code', () => {
    const err = new SpawnError({ ...base, category: 'not-ready' }, 90_000);
    expect(err.code).toBe('FERRY_ERR_SPAWN_NOT_READY');
    expect(err.message).toBe("app 'shop' listened but GET /ready did not answer 2xx within 5s (readiness timeout); last: 503");
    expect(err.suggestions?.[0]).toContain('--readiness-timeout');
  });

  it('names the last error when the check never got an answer', () => {
    const err = new SpawnError({ ...base, category: 'not-ready', readiness: { path: '/health?deep=1', timeoutMs: 2000, last: 'ECONNREFUSED' } }, 90_000);
    expect(err.message).toBe("app 'shop' listened but GET /health?deep=1 did not answer 2xx within 2s (readiness timeout); last: ECONNREFUSED");
  });

  it('says a process that exited while its check waited exited before it was ready, not before it listened', () => {
    const err = new SpawnError({ ...base, category: 'exited-before-ready', exitCode: 1, signal: null }, 90_000);
    expect(err.code).toBe('FERRY_ERR_SPAWN_EXITED');
    expect(err.message).toBe("app 'shop' exited with code 1 before it was ready (GET /ready last got 503)");
  });
});

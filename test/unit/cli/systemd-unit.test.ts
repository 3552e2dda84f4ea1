import { describe, expect, it } from 'vitest';
import { quoteExecArg, renderEnvironmentFile, renderServiceUnit, renderSocketUnit, type UnitSpec } from '../../../src/cli/systemd-unit.js';

const spec: UnitSpec = {
  unitName: 'ferry',
  cli: ['/usr/bin/node', '/opt/ferry/bin/run.js'],
  startArgs: ['/srv/my app', '--port', '8080'],
  appDir: '/srv/my app',
  shutdownTimeoutS: 30,
  watchdogSec: 30,
};

/** The values of one key in a unit's text. */
function values(text: string, key: string): string[] {
  return text.split('\n').filter((line) => line.startsWith(`${key}=`)).map((line) => line.slice(key.length + 1));
}

describe('renderServiceUnit', () => {
  it('runs ferry start in the foreground as a Type=notify service with absolute paths and the given flags', () => {
    const unit = renderServiceUnit(spec);
    expect(values(unit, 'Type')).toEqual(['notify']);
    expect(values(unit, 'NotifyAccess')).toEqual(['main']);
    expect(values(unit, 'ExecStart')).toEqual(['/usr/bin/node /opt/ferry/bin/run.js start "/srv/my app" --port 8080']);
    expect(unit).not.toContain('--daemonize');
    expect(values(unit, 'ExecReload')).toEqual(['/usr/bin/node /opt/ferry/bin/run.js restart']);
    expect(values(unit, 'WorkingDirectory')).toEqual(['/srv/my app']);
  });

  it("gives systemd's stop timeout a margin over Ferry's shutdown deadline and signals only ferry start first", () => {
    const unit = renderServiceUnit({ ...spec, shutdownTimeoutS: 30 });
    expect(values(unit, 'KillMode')).toEqual(['mixed']);
    expect(values(unit, 'TimeoutStopSec')).toEqual(['35']);
    expect(values(unit, 'Restart')).toEqual(['on-failure']);
  });

  it('registers the instance in a runtime directory of its own unless a registry dir is given', () => {
    const own = renderServiceUnit(spec);
    expect(values(own, 'Environment')).toEqual(['"FERRY_INSTANCE_REGISTRY_DIR=%t/ferry"']);
    expect(values(own, 'RuntimeDirectory')).toEqual(['ferry']);
    const given = renderServiceUnit({ ...spec, registryDir: '/var/run/100%' });
    expect(values(given, 'Environment')).toEqual(['"FERRY_INSTANCE_REGISTRY_DIR=/var/run/100%%"']);
    expect(values(given, 'RuntimeDirectory')).toEqual([]);
  });

  it('sets User= only for --user, and WatchdogSec only when on', () => {
    expect(values(renderServiceUnit(spec), 'User')).toEqual([]);
    expect(values(renderServiceUnit({ ...spec, user: 'www-data' }), 'User')).toEqual(['www-data']);
    expect(values(renderServiceUnit(spec), 'WatchdogSec')).toEqual(['30']);
    expect(values(renderServiceUnit({ ...spec, watchdogSec: 0 }), 'WatchdogSec')).toEqual([]);
  });

  it('requires the socket unit with socket activation, and only then', () => {
    expect(values(renderServiceUnit(spec), 'Requires')).toEqual([]);
    const activated = renderServiceUnit({ ...spec, socketActivation: { kind: 'tcp', address: '127.0.0.1', port: 8080 } });
    expect(values(activated, 'Requires')).toEqual(['ferry.socket']);
    expect(values(activated, 'After')).toEqual(['network.target ferry.socket']);
  });
});

describe('the --envvar values', () => {
  it('are referenced with EnvironmentFile= when there are any, never written into the unit', () => {
    expect(values(renderServiceUnit(spec), 'EnvironmentFile')).toEqual([]);
    const unit = renderServiceUnit({ ...spec, startArgs: [...spec.startArgs, '--envvar', 'SECRET'], environmentFile: '/etc/systemd/system/100%.env' });
    expect(values(unit, 'EnvironmentFile')).toEqual(['/etc/systemd/system/100%%.env']);
    expect(values(unit, 'ExecStart')[0]).toMatch(/ --envvar SECRET$/);
  });

  it("are written double-quoted, with systemd's escapes for \\ \" ` $ and newlines as they are", () => {
    expect(renderEnvironmentFile({})).toBe('');
    expect(renderEnvironmentFile({ A: 'plain', B: 'say "hi" \\ `x` $HOME', C: 'two\nlines', D: '' })).toBe(
      ['A="plain"', 'B="say \\"hi\\" \\\\ \\`x\\` \\$HOME"', 'C="two', 'lines"', 'D=""', ''].join('\n'),
    );
  });
});

describe('renderSocketUnit', () => {
  it('listens on the TCP address, IPv6 in brackets, or on the unix socket path, for NAME.service', () => {
    expect(values(renderSocketUnit({ ...spec, socketActivation: { kind: 'tcp', address: '127.0.0.1', port: 8080 } }), 'ListenStream')).toEqual(['127.0.0.1:8080']);
    expect(values(renderSocketUnit({ ...spec, socketActivation: { kind: 'tcp', address: '::1', port: 80 } }), 'ListenStream')).toEqual(['[::1]:80']);
    const unix = renderSocketUnit({ ...spec, unitName: 'shop', socketActivation: { kind: 'unix', path: '/run/shop.sock' } });
    expect(values(unix, 'ListenStream')).toEqual(['/run/shop.sock']);
    expect(values(unix, 'SocketMode')).toEqual(['0660']);
    expect(values(unix, 'Service')).toEqual(['shop.service']);
  });
});

describe('quoteExecArg', () => {
  it('leaves plain words alone and quotes blanks, quotes and backslashes C-style', () => {
    expect(quoteExecArg('--port')).toBe('--port');
    expect(quoteExecArg('a b')).toBe('"a b"');
    expect(quoteExecArg('say "hi"')).toBe('"say \\"hi\\""');
    expect(quoteExecArg('back\\slash')).toBe('"back\\\\slash"');
    expect(quoteExecArg('')).toBe('""');
  });

  it('doubles % and $ so systemd does not expand them', () => {
    expect(quoteExecArg('A=$HOME')).toBe('A=$$HOME');
    expect(quoteExecArg('50%')).toBe('50%%');
  });
});

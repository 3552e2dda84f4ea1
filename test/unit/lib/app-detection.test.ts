import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { detectApp } from '../../../src/lib/app-detection.js';

let root: string;

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-detect-'));
});

afterEach(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

function write(relative: string, content = ''): string {
  const file = path.join(root, relative);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
  return file;
}

describe('detectApp', () => {
  it('recognises a Node app by its app.js', () => {
    const file = write('app.js');
    expect(detectApp(root)).toEqual({ ok: true, app: { appType: 'node', startupFile: file } });
  });

  it('uses the "main" of package.json when there is no app.js', () => {
    write('package.json', JSON.stringify({ name: 'x', main: 'server/index.js' }));
    const file = write('server/index.js');
    expect(detectApp(root)).toEqual({ ok: true, app: { appType: 'node', startupFile: file } });
  });

  it('prefers app.js over the "main" of package.json', () => {
    write('package.json', JSON.stringify({ main: 'server.js' }));
    write('server.js');
    const appJs = write('app.js');
    expect(detectApp(root)).toEqual({ ok: true, app: { appType: 'node', startupFile: appJs } });
  });

  it('finds no app when "main" names a file that does not exist', () => {
    write('package.json', JSON.stringify({ main: 'missing.js' }));
    const result = detectApp(root);
    expect(result.ok).toBe(false);
  });

  it('finds no app when package.json is not valid JSON', () => {
    write('package.json', '{ not json');
    write('index.js');
    expect(detectApp(root).ok).toBe(false);
  });

  it('uses an explicit startup file, resolved against the app directory, over app.js', () => {
    write('app.js');
    const file = write('bin/www.js');
    expect(detectApp(root, { startupFile: 'bin/www.js' })).toEqual({ ok: true, app: { appType: 'node', startupFile: file } });
  });

  it('reports an explicit startup file that does not exist', () => {
    write('app.js');
    const result = detectApp(root, { startupFile: 'nope.js' });
    expect(result).toMatchObject({ ok: false, reason: `startup file ${path.join(root, 'nope.js')} does not exist` });
  });

  it('reports a directory that does not exist', () => {
    const missing = path.join(root, 'missing');
    const result = detectApp(missing);
    expect(result).toMatchObject({ ok: false, reason: `app directory ${missing} does not exist` });
    expect(result.ok === false && result.suggestion).toContain('ferry start');
  });

  it('reports a file given in place of a directory', () => {
    const file = write('app.js');
    expect(detectApp(file)).toMatchObject({ ok: false, reason: `${file} is not a directory` });
  });

  it('reports an empty directory with a suggestion naming --startup-file', () => {
    const result = detectApp(root);
    expect(result).toMatchObject({ ok: false, reason: `no app found in ${root}: expected passenger_wsgi.py, asgi.py, config.ru, app.js or a package.json with a "main" file` });
    expect(result.ok === false && result.suggestion).toContain('--startup-file');
  });

  it('recognises a WSGI app by passenger_wsgi.py and a Rack app by config.ru, before app.js', () => {
    fs.writeFileSync(path.join(root, 'app.js'), '');
    fs.writeFileSync(path.join(root, 'config.ru'), '');
    expect(detectApp(root)).toEqual({ ok: true, app: { appType: 'ruby', startupFile: path.join(root, 'config.ru') } });
    fs.writeFileSync(path.join(root, 'passenger_wsgi.py'), '');
    expect(detectApp(root)).toEqual({ ok: true, app: { appType: 'python', startupFile: path.join(root, 'passenger_wsgi.py') } });
    // An explicit type narrows the search.
    expect(detectApp(root, { appType: 'node' })).toEqual({ ok: true, app: { appType: 'node', startupFile: path.join(root, 'app.js') } });
  });

  it('recognises an ASGI app by asgi.py, after passenger_wsgi.py and before config.ru', () => {
    fs.writeFileSync(path.join(root, 'config.ru'), '');
    fs.writeFileSync(path.join(root, 'asgi.py'), '');
    expect(detectApp(root)).toEqual({ ok: true, app: { appType: 'asgi', startupFile: path.join(root, 'asgi.py') } });
    expect(detectApp(root, { startupFile: 'asgi.py' })).toEqual({ ok: true, app: { appType: 'asgi', startupFile: path.join(root, 'asgi.py') } });
    fs.writeFileSync(path.join(root, 'passenger_wsgi.py'), '');
    expect(detectApp(root)).toEqual({ ok: true, app: { appType: 'python', startupFile: path.join(root, 'passenger_wsgi.py') } });
  });

  it('guesses the type of an explicit startup file from its extension', () => {
    fs.writeFileSync(path.join(root, 'wsgi.py'), '');
    expect(detectApp(root, { startupFile: 'wsgi.py' })).toEqual({ ok: true, app: { appType: 'python', startupFile: path.join(root, 'wsgi.py') } });
  });
});

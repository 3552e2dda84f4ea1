import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PublicDirs } from '../../../../src/core/proxy/static-files.js';

describe('PublicDirs', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-public-dirs-'));
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  it("takes an app's public/ at start and again only after the app restarted (a deploy switching a current link)", () => {
    for (const release of ['r1', 'r2']) fs.mkdirSync(path.join(root, release, 'public'), { recursive: true });
    fs.mkdirSync(path.join(root, 'bare'));
    fs.symlinkSync('r1', path.join(root, 'current'));
    const app = { app: { root: path.join(root, 'current') }, stats: { restarts: 0 } };
    const bare = { app: { root: path.join(root, 'bare') }, stats: { restarts: 0 } };
    const dirs = new PublicDirs([app, bare]);
    expect(dirs.any).toBe(true);
    expect(dirs.dirFor(app)?.realPath).toBe(fs.realpathSync(path.join(root, 'r1', 'public')));
    expect(dirs.dirFor(bare)).toBeUndefined();

    fs.rmSync(path.join(root, 'current'));
    fs.symlinkSync('r2', path.join(root, 'current'));
    fs.mkdirSync(path.join(root, 'bare', 'public'));
    // Until the app restarts, the release its processes run.
    expect(dirs.dirFor(app)?.realPath).toBe(fs.realpathSync(path.join(root, 'r1', 'public')));
    expect(dirs.dirFor(bare)).toBeUndefined();
    app.stats.restarts++;
    bare.stats.restarts++;
    expect(dirs.dirFor(app)?.realPath).toBe(fs.realpathSync(path.join(root, 'r2', 'public')));
    expect(dirs.dirFor(bare)?.realPath).toBe(fs.realpathSync(path.join(root, 'bare', 'public')));
  });

  it('carries the uid and gid an app runs as, for the read checks, and nothing for an app run as Ferry itself', () => {
    fs.mkdirSync(path.join(root, 'owned', 'public'), { recursive: true });
    const asUser = { app: { root: path.join(root, 'owned'), user: { uid: 1000, gid: 1001 } }, stats: { restarts: 0 } };
    const asFerry = { app: { root: path.join(root, 'owned') }, stats: { restarts: 0 } };
    const dirs = new PublicDirs([asUser, asFerry]);
    expect(dirs.dirFor(asUser)?.user).toEqual({ uid: 1000, gid: 1001 });
    expect(dirs.dirFor(asFerry)?.user).toBeUndefined();
  });
});

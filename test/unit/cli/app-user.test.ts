import { describe, expect, it } from 'vitest';
import { decideAppUser, firstUnsearchableDir, parsePasswdLine, type PasswdEntry } from '../../../src/cli/app-user.js';

const root: PasswdEntry = { name: 'root', uid: 0, gid: 0, home: '/root' };
const alice: PasswdEntry = { name: 'alice', uid: 1000, gid: 1000, home: '/home/alice' };
const www: PasswdEntry = { name: 'www-data', uid: 33, gid: 33, home: '/var/www' };

describe('decideAppUser', () => {
  it('as root, runs the app as the owner of its startup file', () => {
    expect(decideAppUser({ ferryUid: 0, owner: alice })).toEqual({ verdict: 'switch', user: alice });
  });

  it('as root, runs the app as --user when given, whoever owns it', () => {
    expect(decideAppUser({ ferryUid: 0, requested: www, owner: alice })).toEqual({ verdict: 'switch', user: www });
    expect(decideAppUser({ ferryUid: 0, requested: www, owner: root })).toEqual({ verdict: 'switch', user: www });
  });

  it('as root, refuses a root-owned app without --user, and runs it as root with --user root', () => {
    expect(decideAppUser({ ferryUid: 0, owner: root })).toEqual({ verdict: 'refuse-root' });
    expect(decideAppUser({ ferryUid: 0, requested: root, owner: root })).toEqual({ verdict: 'same-as-ferry' });
  });

  it('as another user, runs apps as itself, and refuses --user naming anyone else', () => {
    expect(decideAppUser({ ferryUid: 1000, owner: www })).toEqual({ verdict: 'same-as-ferry' });
    expect(decideAppUser({ ferryUid: 1000, requested: alice, owner: www })).toEqual({ verdict: 'same-as-ferry' });
    expect(decideAppUser({ ferryUid: 1000, requested: www, owner: alice })).toEqual({ verdict: 'not-allowed', requested: www });
  });
});

describe('parsePasswdLine', () => {
  it('reads name, uid, gid and home from a passwd line', () => {
    expect(parsePasswdLine('www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n')).toEqual(www);
  });

  it('gives / as home when it is empty, and nothing for a malformed line', () => {
    expect(parsePasswdLine('svc:x:990:990:::/bin/false')).toEqual({ name: 'svc', uid: 990, gid: 990, home: '/' });
    expect(parsePasswdLine('')).toBeUndefined();
    expect(parsePasswdLine('svc:x:abc:990::/:/bin/false')).toBeUndefined();
  });
});

describe('firstUnsearchableDir', () => {
  const user = { uid: 1000, gid: 1000 };
  const tree = (modes: Record<string, { uid?: number; gid?: number; mode: number }>) => (p: string) => ({ uid: 0, gid: 0, ...modes[p]! });

  it('lets a user through directories that others may enter', () => {
    expect(firstUnsearchableDir('/run/ferry', user, tree({ '/': { mode: 0o755 }, '/run': { mode: 0o755 }, '/run/ferry': { mode: 0o711 } }))).toBeUndefined();
  });

  it('names the first directory the user cannot enter', () => {
    expect(firstUnsearchableDir('/srv/private/reg', user, tree({ '/': { mode: 0o755 }, '/srv': { mode: 0o755 }, '/srv/private': { mode: 0o700 }, '/srv/private/reg': { mode: 0o755 } }))).toBe('/srv/private');
  });

  it("reads the owner's bits for the owner and the group's for the primary group, as the kernel does", () => {
    // Owned by the user but without the owner's x: closed to it, even though others may enter.
    expect(firstUnsearchableDir('/d', user, tree({ '/': { mode: 0o755 }, '/d': { uid: 1000, mode: 0o601 } }))).toBe('/d');
    expect(firstUnsearchableDir('/d', user, tree({ '/': { mode: 0o755 }, '/d': { gid: 1000, mode: 0o710 } }))).toBeUndefined();
    expect(firstUnsearchableDir('/d', user, tree({ '/': { mode: 0o755 }, '/d': { gid: 1000, mode: 0o701 } }))).toBe('/d');
  });
});

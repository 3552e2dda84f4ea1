import { describe, expect, it } from 'vitest';
import { userMay } from '../../../src/lib/file-access.js';

const app = { uid: 1000, gid: 1000 };
const file = (uid: number, gid: number, mode: number) => ({ uid, gid, mode: 0o100000 | mode });

describe('userMay', () => {
  it("reads others' bits for a user who neither owns the file nor is in its group", () => {
    expect(userMay(app, 'read', file(0, 0, 0o644))).toBe(true);
    expect(userMay(app, 'read', file(0, 0, 0o640))).toBe(false);
    expect(userMay(app, 'read', file(0, 0, 0o600))).toBe(false);
    expect(userMay(app, 'write', file(0, 0, 0o646))).toBe(true);
    expect(userMay(app, 'search', file(0, 0, 0o711))).toBe(true);
    expect(userMay(app, 'search', file(0, 0, 0o744))).toBe(false);
  });

  it("reads the group's bits for the user's group, and only those", () => {
    expect(userMay(app, 'read', file(0, 1000, 0o640))).toBe(true);
    // In the group, the group's bits decide even when everyone else may.
    expect(userMay(app, 'read', file(0, 1000, 0o604))).toBe(false);
    expect(userMay(app, 'search', file(0, 1000, 0o710))).toBe(true);
  });

  it("reads the owner's bits for the owner, even when the group's or others' would allow more", () => {
    expect(userMay(app, 'read', file(1000, 1000, 0o600))).toBe(true);
    expect(userMay(app, 'read', file(1000, 0, 0o044))).toBe(false);
    expect(userMay(app, 'write', file(1000, 1000, 0o466))).toBe(false);
    expect(userMay(app, 'search', file(1000, 0, 0o611))).toBe(false);
  });

  it('lets root do anything, as the kernel does for reading and entering', () => {
    expect(userMay({ uid: 0, gid: 0 }, 'read', file(1000, 1000, 0o000))).toBe(true);
    expect(userMay({ uid: 0, gid: 0 }, 'search', file(1000, 1000, 0o700))).toBe(true);
  });
});

// Which user an app's processes run as. As root: --user if given, else the owner of the app's
// startup file (generic apps: of the app directory), and never root unless asked. Otherwise: the
// user Ferry runs as (naming anyone else is an error: only root can switch users).

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { AppUser } from '../lib/config.js';
import { userMay, type FileOwnership, type FileUser } from '../lib/file-access.js';
import { CliError } from './errors.js';

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/** What to do about an app's user, decided from facts alone (unit-tested directly). */
export type AppUserDecision =
  | { verdict: 'same-as-ferry' }
  | { verdict: 'switch'; user: PasswdEntry }
  | { verdict: 'refuse-root' }
  | { verdict: 'not-allowed'; requested: PasswdEntry };

export function decideAppUser(facts: { ferryUid: number; requested?: PasswdEntry; owner: PasswdEntry }): AppUserDecision {
  const { ferryUid, requested, owner } = facts;
  if (ferryUid !== 0) {
    if (requested && requested.uid !== ferryUid) return { verdict: 'not-allowed', requested };
    return { verdict: 'same-as-ferry' };
  }
  const target = requested ?? owner;
  // An app owned by root runs as root only when the operator said so (--user root).
  if (target.uid === 0) return requested ? { verdict: 'same-as-ferry' } : { verdict: 'refuse-root' };
  return { verdict: 'switch', user: target };
}

/** Parses one line of passwd(5): name:password:uid:gid:gecos:home:shell. */
export function parsePasswdLine(line: string): PasswdEntry | undefined {
  const fields = line.trim().split(':');
  if (fields.length < 7) return undefined;
  const uid = Number(fields[2]);
  const gid = Number(fields[3]);
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) return undefined;
  return { name: fields[0] as string, uid, gid, home: fields[5] || '/' };
}

/** Looks a user up by name or uid through NSS (getent), so LDAP and systemd's dynamic users count too. */
export function lookUpUser(nameOrUid: string): PasswdEntry | undefined {
  try {
    return parsePasswdLine(execFileSync('getent', ['passwd', nameOrUid], { encoding: 'utf8', timeout: 5_000, stdio: ['ignore', 'pipe', 'ignore'] }));
  } catch {
    return undefined; // exit 2: no such user
  }
}

function quoteArg(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** This very command line with `--user NAME` added: the exact command the operator can run. */
function withUserFlag(name: string, argv: readonly string[]): string {
  return ['ferry', ...argv.map(quoteArg), '--user', name].join(' ');
}

/**
 * Resolves the user for an app rooted at `ownedPath` (its startup file, or its directory for a
 * generic app). Returns undefined when the app runs as the same user as Ferry.
 */
export function resolveAppUser(requestedName: string | undefined, ownedPath: string, appRoot: string, argv: readonly string[] = process.argv.slice(2)): AppUser | undefined {
  const requested = requestedName === undefined ? undefined : lookUpUser(requestedName);
  if (requestedName !== undefined && !requested) {
    throw new CliError('FERRY_ERR_APP_USER_UNKNOWN', `--user ${requestedName}: there is no such user on this host`, [
      'Name an existing user (see getent passwd), or create one: useradd --system --no-create-home NAME',
    ]);
  }
  const ownerUid = fs.statSync(ownedPath).uid;
  const owner = lookUpUser(String(ownerUid)) ?? { name: String(ownerUid), uid: ownerUid, gid: fs.statSync(ownedPath).gid, home: '/' };
  const ferryUid = process.getuid?.() ?? 0;
  const decision = decideAppUser({ ferryUid, requested, owner });
  switch (decision.verdict) {
    case 'same-as-ferry':
      return undefined;
    case 'switch':
      return decision.user;
    case 'refuse-root':
      throw new CliError(
        'FERRY_ERR_APP_USER_ROOT',
        `${ownedPath} is owned by root: Ferry runs an app as the owner of its startup file and will not run it as root unless asked`,
        [
          `Run it as an unprivileged user: ${withUserFlag('nobody', argv)}`,
          `Or give the app to its own user: chown -R USER ${quoteArg(appRoot)}`,
          `Or, if it really must run as root: ${withUserFlag('root', argv)}`,
        ],
      );
    case 'not-allowed':
      throw new CliError('FERRY_ERR_APP_USER_NOT_ALLOWED', `--user ${decision.requested.name}: only root can run apps as another user (Ferry runs as uid ${ferryUid})`, [
        'Start Ferry as root to run apps as another user, or drop --user to run them as yourself.',
      ]);
  }
}

/** The first directory on the way to `dir` (itself included) that `user` cannot enter, if any. */
export function firstUnsearchableDir(dir: string, user: FileUser, stat: (p: string) => FileOwnership = fs.statSync): string | undefined {
  const absolute = path.resolve(dir);
  const steps = absolute.split(path.sep).filter(Boolean);
  for (let i = 0; i <= steps.length; i++) {
    const current = path.sep + steps.slice(0, i).join(path.sep);
    if (!userMay(user, 'search', stat(current))) return current;
  }
  return undefined;
}

/**
 * An app running as another user binds its socket in a directory of its own beside the instance
 * directory, so it must be able to reach the registry directory: said at start, not as a spawn
 * failure later.
 */
export function checkRegistryReachable(registryDir: string, user: AppUser | undefined): void {
  if (!user || !fs.existsSync(registryDir)) return;
  const blocked = firstUnsearchableDir(registryDir, user);
  if (blocked === undefined) return;
  throw new CliError(
    'FERRY_ERR_APP_USER_NO_ACCESS',
    `the app runs as ${user.name}, who cannot enter ${blocked} on the way to the instance registry ${registryDir}, where its processes bind their sockets`,
    [`Let ${user.name} through (chmod o+x ${quoteArg(blocked)}), or register instances in a directory it can reach: --instance-registry-dir /tmp (or /run/NAME under systemd)`],
  );
}

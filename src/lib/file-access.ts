// What another user could do with a file, from its owner, group and mode alone: root uses it to
// act for an app's user (serve a file only if that user could read it, check that it can reach a
// directory) without switching users.

/** The identity an app process has: its uid and primary group (apps get no supplementary groups). */
export interface FileUser {
  uid: number;
  gid: number;
}

export interface FileOwnership {
  uid: number;
  gid: number;
  mode: number;
}

const ACCESS_BITS = { read: 4, write: 2, search: 1 } as const;

export type FileAccess = keyof typeof ACCESS_BITS;

/**
 * Whether `user` may `access` the file, by its permission bits as the kernel reads them: the
 * owner's bits if the user owns it (even when the group's or others' would allow more), else the
 * group's if it is the user's group, else everyone else's. Root (uid 0) may always. ACLs are not
 * read: a file readable only through an ACL counts as unreadable, the safe side.
 */
export function userMay(user: FileUser, access: FileAccess, file: FileOwnership): boolean {
  if (user.uid === 0) return true;
  const shift = file.uid === user.uid ? 6 : file.gid === user.gid ? 3 : 0;
  return ((file.mode >> shift) & ACCESS_BITS[access]) !== 0;
}

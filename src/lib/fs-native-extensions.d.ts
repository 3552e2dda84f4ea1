// Types for the part of fs-native-extensions we use: flock on an open fd.
declare module 'fs-native-extensions' {
  const fsx: {
    tryLock(fd: number, offset?: number, length?: number, opts?: { shared?: boolean }): boolean;
    unlock(fd: number, offset?: number, length?: number): void;
  };
  export default fsx;
}

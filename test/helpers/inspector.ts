// What another local user would try against a Node inspector left open: a TCP connection to its
// loopback port, and its /json/list (which hands out the URL to run code with).

import net from 'node:net';
import { expect } from 'vitest';
import { listeningPorts } from '../../src/lib/diagnostics/js-stack.js';
import { isProcessRunning } from '../../src/lib/process-groups.js';

/** The port in the line Node prints on stderr as its inspector opens. */
export const INSPECTOR_PORT = /Debugger listening on ws:\/\/127\.0\.0\.1:(\d+)\//;

/** Whether anything accepts a TCP connection on 127.0.0.1:port. */
export function acceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Nothing accepts on the port, /json/list cannot be fetched, and the process listens on no TCP port. */
export async function expectInspectorClosed(port: number, pid: number): Promise<void> {
  expect(await acceptsConnections(port), `something still accepts on the inspector port ${port}`).toBe(false);
  await expect(fetch(`http://127.0.0.1:${port}/json/list`, { signal: AbortSignal.timeout(2000) })).rejects.toThrow();
  // Ferry's apps listen on a unix socket, the tests' plain processes on nothing: no TCP port at all.
  if (isProcessRunning(pid)) expect(listeningPorts(pid)).toEqual([]);
}

// The JavaScript stack of a running Node process, even one stuck in a busy loop: SIGUSR1 opens
// Node's inspector (on a loopback port Ferry asked for with --inspect-port=127.0.0.1:0), and
// Debugger.pause interrupts the running JS and reports its frames.

import fs from 'node:fs';
import { signalQuietly } from '../units.js';

/** Node prints this on stderr when its inspector opens. */
export const INSPECTOR_LINE = /Debugger listening on (ws:\/\/\S+)/;

export interface JsFrame {
  functionName: string;
  url: string;
  line: number;
  column: number;
}

export function formatFrames(frames: JsFrame[]): string {
  return frames.map((f) => `    at ${f.functionName || '(anonymous)'} (${f.url || '<eval>'}:${f.line}:${f.column})`).join('\n');
}

/** Pauses the process through its inspector and returns its JS frames; undefined if that fails in time. */
export async function captureJsStack(pid: number, inspectorUrl: () => string | undefined, timeoutMs = 2000): Promise<JsFrame[] | undefined> {
  const deadline = Date.now() + timeoutMs;
  if (!inspectorUrl() && !signalQuietly(pid, 'SIGUSR1')) return undefined;
  while (!inspectorUrl()) {
    if (Date.now() > deadline) return undefined;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  // Loaded here, not at the top: all of undici costs the core ~150 ms of start-up, and this runs rarely.
  const { WebSocket } = await import('undici');
  return new Promise((resolve) => {
    const ws = new WebSocket(inspectorUrl() as string);
    const done = (frames: JsFrame[] | undefined): void => {
      clearTimeout(timer);
      try {
        ws.close();
      } catch {
        // already closed
      }
      resolve(frames);
    };
    const timer = setTimeout(() => done(undefined), Math.max(100, deadline - Date.now()));
    ws.onerror = () => done(undefined);
    ws.onopen = () => {
      ws.send(JSON.stringify({ id: 1, method: 'Debugger.enable' }));
      ws.send(JSON.stringify({ id: 2, method: 'Debugger.pause' }));
    };
    // Frames name their script by id; Debugger.enable reports every script's URL first.
    const scripts = new Map<string, string>();
    ws.onmessage = (event) => {
      const message = JSON.parse(String(event.data)) as {
        method?: string;
        params?: {
          scriptId?: string;
          url?: string;
          callFrames?: { functionName: string; url: string; location: { scriptId: string; lineNumber: number; columnNumber: number } }[];
        };
      };
      if (message.method === 'Debugger.scriptParsed' && message.params?.scriptId) scripts.set(message.params.scriptId, message.params.url ?? '');
      if (message.method !== 'Debugger.paused') return;
      done(
        (message.params?.callFrames ?? []).map((f) => ({
          functionName: f.functionName,
          url: f.url || scripts.get(f.location.scriptId) || '',
          line: f.location.lineNumber + 1,
          column: f.location.columnNumber + 1,
        })),
      );
    };
  });
}

/** Loopback TCP ports a process listens on, from its fds and /proc/PID/net/tcp (its netns). */
export function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  try {
    for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
      try {
        const match = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (match) inodes.add(match[1] as string);
      } catch {
        // fd closed meanwhile
      }
    }
  } catch {
    return [];
  }
  const ports: number[] = [];
  for (const table of ['tcp', 'tcp6']) {
    let text: string;
    try {
      text = fs.readFileSync(`/proc/${pid}/net/${table}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // cols: sl local rem st tx:rx tr:when retrnsmt uid timeout inode; st 0A = LISTEN
      if (cols[3] === '0A' && cols[9] && inodes.has(cols[9])) ports.push(parseInt((cols[1] as string).split(':')[1] as string, 16));
    }
  }
  return ports;
}

/**
 * The inspector URL of any Node process: opens its inspector with SIGUSR1 if needed, finds the
 * port it listens on, and asks /json/list for the debugger URL.
 */
export async function findInspectorUrl(pid: number, timeoutMs = 2000): Promise<string | undefined> {
  const before = new Set(listeningPorts(pid));
  signalQuietly(pid, 'SIGUSR1');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const port of listeningPorts(pid)) {
      if (before.has(port) && port !== 9229) continue; // the app's own servers
      try {
        const res = await fetch(`http://127.0.0.1:${port}/json/list`, { signal: AbortSignal.timeout(500) });
        const targets = (await res.json()) as { webSocketDebuggerUrl?: string }[];
        const url = targets[0]?.webSocketDebuggerUrl;
        if (url) return url;
      } catch {
        // not the inspector, or not ready yet
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return undefined;
}

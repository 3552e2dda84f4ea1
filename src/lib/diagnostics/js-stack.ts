// The JavaScript stack of a running Node process, even one stuck in a busy loop: SIGUSR1 opens
// Node's inspector (on a loopback port Ferry asked for with --inspect-port=127.0.0.1:0), and
// Debugger.pause interrupts the running JS and reports its frames. The inspector has no
// authentication (whoever connects runs code as the process's user), so it is closed again as
// soon as the stack is taken, and the port is checked to refuse.

import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import type { WebSocket as UndiciWebSocket } from 'undici';
import { signalQuietly } from '../units.js';

/**
 * Node prints this on stderr when its inspector opens. Loopback only: the core (root) connects
 * to what an app's stderr names, and an app could print any line.
 */
export const INSPECTOR_LINE = /Debugger listening on (ws:\/\/(?:127\.0\.0\.1|\[::1\]):\d+\/[\w-]+)/;

/**
 * Evaluated in the inspected process to close its inspector (and drop every session, ours and
 * any other). Only `process` is used: an ES module has no `require` in scope. The public
 * node:inspector close() where Node has getBuiltinModule (20.16+), else what it calls.
 */
const CLOSE_INSPECTOR_EXPRESSION =
  "(() => { const p = globalThis.process; const close = p.getBuiltinModule?.('node:inspector')?.close ?? p._debugEnd; if (typeof close === 'function') close(); })()";

/** How long closing may take before the port counts as still open. */
const CLOSE_TIMEOUT_MS = 1000;

/**
 * After the process answered Debugger.pause, how long running JavaScript may take to stop. The
 * answer comes from its main thread, so running JS stops at once after it; only an idle process
 * (waiting for I/O or timers) does not, and the wait is time the inspector is open.
 */
const IDLE_PAUSE_WAIT_MS = 300;

export interface JsFrame {
  functionName: string;
  url: string;
  line: number;
  column: number;
}

/** Where the inspector listened, and whether it refuses connections again. */
export interface InspectorState {
  port: number;
  closed: boolean;
}

export interface JsStackCapture {
  /** Undefined when nothing paused in time or the inspector could not be reached. */
  frames?: JsFrame[];
  /** No frames because the process answered but was running no JavaScript: waiting for I/O or timers. */
  idle?: true;
  /** Undefined when no inspector opened. */
  inspector?: InspectorState;
}

export function formatFrames(frames: JsFrame[]): string {
  return frames.map((f) => `    at ${f.functionName || '(anonymous)'} (${f.url || '<eval>'}:${f.line}:${f.column})`).join('\n');
}

export interface ProtocolMessage {
  id?: number;
  method?: string;
  /** An answer's failure (a method the process refused). */
  error?: { message?: string };
  params?: {
    /** HeapProfiler.addHeapSnapshotChunk: the next piece of the snapshot's JSON. */
    chunk?: string;
    scriptId?: string;
    url?: string;
    callFrames?: { functionName: string; url: string; location: { scriptId: string; lineNumber: number; columnNumber: number } }[];
  };
}

let webSocket: Promise<typeof UndiciWebSocket> | undefined;

/**
 * undici's WebSocket, loaded on first use, not at the top: all of undici costs the core ~150 ms
 * of start-up, and this runs rarely. Loaded before SIGUSR1, not after: the load takes longer
 * than the rest of a JS stack, and the inspector is open meanwhile.
 */
function webSocketClass(): Promise<typeof UndiciWebSocket> {
  webSocket ??= import('undici').then((undici) => undici.WebSocket);
  return webSocket;
}

/** One inspector protocol session; requests are sent without waiting for their answers. */
export class InspectorSession {
  private nextId = 1;
  private readonly listeners = new Set<(message: ProtocolMessage) => void>();
  /** Settles when the socket closes, from either end. */
  readonly ended: Promise<void>;

  private constructor(
    private readonly ws: UndiciWebSocket,
    readonly url: string,
  ) {
    this.ended = new Promise((resolve) => ws.addEventListener('close', () => resolve()));
    ws.addEventListener('message', (event) => {
      const message = JSON.parse(String(event.data)) as ProtocolMessage;
      for (const listener of this.listeners) listener(message);
    });
  }

  /** Undefined if the inspector does not accept the session before the deadline. */
  static async connect(url: string, deadline: number): Promise<InspectorSession | undefined> {
    const WebSocket = await webSocketClass();
    return new Promise((resolve) => {
      const ws = new WebSocket(url);
      const settle = (session: InspectorSession | undefined): void => {
        clearTimeout(timer);
        if (!session) ws.close();
        resolve(session);
      };
      const timer = setTimeout(() => settle(undefined), Math.max(100, deadline - Date.now()));
      ws.onopen = () => settle(new InspectorSession(ws, url));
      ws.onerror = () => settle(undefined);
    });
  }

  /** The request's id, to recognise its answer. */
  send(method: string, params?: Record<string, unknown>): number {
    const id = this.nextId++;
    try {
      this.ws.send(JSON.stringify({ id, method, params }));
    } catch {
      // closed meanwhile: ended says so
    }
    return id;
  }

  onMessage(listener: (message: ProtocolMessage) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    try {
      this.ws.close();
    } catch {
      // already closed
    }
  }
}

/**
 * A session on the process's inspector: the one it already has open if that still answers
 * (crash-watch found it, or the core saw it on stderr), else opened with SIGUSR1 and awaited as
 * a new URL (the one known before may be closed: a new opening prints a new one).
 */
export async function openSession(pid: number, inspectorUrl: () => string | undefined, deadline: number): Promise<InspectorSession | undefined> {
  await webSocketClass();
  const known = inspectorUrl();
  if (known) {
    const session = await InspectorSession.connect(known, deadline);
    if (session) return session;
  }
  if (!signalQuietly(pid, 'SIGUSR1')) return undefined;
  for (;;) {
    const url = inspectorUrl();
    if (url && url !== known) return InspectorSession.connect(url, deadline);
    if (Date.now() > deadline) return undefined;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Pauses the JavaScript and returns its frames; idle if it answered but nothing ran to pause. */
function pauseForFrames(session: InspectorSession, deadline: number): Promise<Pick<JsStackCapture, 'frames' | 'idle'>> {
  return new Promise((resolve) => {
    // Frames name their script by id; Debugger.enable reports every script's URL first.
    const scripts = new Map<string, string>();
    let answered = false;
    const settle = (frames: JsFrame[] | undefined): void => {
      clearTimeout(timer);
      stopListening();
      resolve(frames ? { frames } : answered ? { idle: true } : {});
    };
    let timer = setTimeout(() => settle(undefined), Math.max(100, deadline - Date.now()));
    void session.ended.then(() => settle(undefined));
    const stopListening = session.onMessage((message) => {
      if (message.method === 'Debugger.scriptParsed' && message.params?.scriptId) scripts.set(message.params.scriptId, message.params.url ?? '');
      if (message.id === pauseId) {
        answered = true;
        clearTimeout(timer);
        timer = setTimeout(() => settle(undefined), Math.min(IDLE_PAUSE_WAIT_MS, Math.max(0, deadline - Date.now())));
      }
      if (message.method !== 'Debugger.paused') return;
      settle(
        (message.params?.callFrames ?? []).map((f) => ({
          functionName: f.functionName,
          url: f.url || scripts.get(f.location.scriptId) || '',
          line: f.location.lineNumber + 1,
          column: f.location.columnNumber + 1,
        })),
      );
    });
    session.send('Debugger.enable');
    const pauseId = session.send('Debugger.pause');
  });
}

/**
 * Closes the inspector from inside the process. Debugger.disable first: it resumes a paused
 * process and cancels a pause not yet taken (an idle one), which would otherwise stop the
 * evaluation itself. Runtime.evaluate runs even in a busy loop: Node hands inspector messages to
 * V8 as an interrupt, as it does Debugger.pause. Node drops every session as it closes.
 */
export async function closeInspector(session: InspectorSession): Promise<void> {
  session.send('Debugger.disable');
  session.send('Runtime.evaluate', { expression: CLOSE_INSPECTOR_EXPRESSION });
  await Promise.race([session.ended, new Promise((resolve) => setTimeout(resolve, CLOSE_TIMEOUT_MS))]);
  session.close();
}

/** Whether anything accepts a TCP connection on host:port. */
function acceptsConnections(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, host);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** The inspector's port and whether it refuses connections (Node stops listening just after it drops the sessions). */
async function inspectorState(url: string): Promise<InspectorState> {
  const { hostname, port: portText } = new URL(url);
  const host = hostname.replace(/^\[(.*)\]$/, '$1'); // URL keeps an IPv6 host bracketed
  const port = Number(portText);
  const deadline = Date.now() + CLOSE_TIMEOUT_MS;
  for (;;) {
    if (!(await acceptsConnections(host, port))) return { port, closed: true };
    if (Date.now() > deadline) return { port, closed: false };
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Closes the inspector at `url` if it is open: `was-closed` if nothing took a session there,
 * `still-open` if the process did not close it (its main thread is blocked outside JavaScript).
 */
export async function closeInspectorAt(url: string, timeoutMs = 2000): Promise<'was-closed' | 'closed' | 'still-open'> {
  const session = await InspectorSession.connect(url, Date.now() + timeoutMs);
  if (!session) return 'was-closed';
  await closeInspector(session);
  return (await inspectorState(url)).closed ? 'closed' : 'still-open';
}

/**
 * Pauses the process through its inspector and returns its JS frames (undefined if that fails in
 * time), then closes the inspector again, whatever happened, and says whether its port refuses.
 */
export async function captureJsStack(pid: number, inspectorUrl: () => string | undefined, timeoutMs = 2000): Promise<JsStackCapture> {
  const deadline = Date.now() + timeoutMs;
  const session = await openSession(pid, inspectorUrl, deadline);
  if (!session) {
    const url = inspectorUrl();
    return url ? { inspector: await inspectorState(url) } : {};
  }
  const paused = await pauseForFrames(session, deadline);
  await closeInspector(session);
  return { ...paused, inspector: await inspectorState(session.url) };
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
 * port it listens on, and asks /json/list for the debugger URL. `before`: the ports it listened on
 * before (its own servers), which the caller may have read already.
 */
export async function findInspectorUrl(pid: number, timeoutMs = 2000, before: ReadonlySet<number> = new Set(listeningPorts(pid))): Promise<string | undefined> {
  await webSocketClass();
  signalQuietly(pid, 'SIGUSR1');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const port of listeningPorts(pid)) {
      if (before.has(port) && port !== 9229) continue; // the app's own servers
      const url = await debuggerUrlAt(port);
      if (url) return url;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return undefined;
}

/**
 * Closes every inspector of `pid` listening on a loopback port that was not in `before`: whatever
 * went wrong on the way (a session that timed out on a loaded machine, a second opening), the
 * caller that sent SIGUSR1 leaves no inspector open behind it. Returns the ports it closed.
 */
export async function closeInspectorsOpenedSince(pid: number, before: ReadonlySet<number>): Promise<number[]> {
  const closed: number[] = [];
  for (const port of listeningPorts(pid)) {
    if (before.has(port)) continue;
    const url = await debuggerUrlAt(port);
    if (url && (await closeInspectorAt(url)) === 'closed') closed.push(port);
  }
  return closed;
}

/** The debugger URL the inspector on this port lists, if it is one. node:http, not fetch: fetch's first use loads undici's copy inside Node, while the inspector is open. */
function debuggerUrlAt(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/json/list', timeout: 500 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        try {
          resolve((JSON.parse(body) as { webSocketDebuggerUrl?: string }[])[0]?.webSocketDebuggerUrl);
        } catch {
          resolve(undefined); // not the inspector
        }
      });
      res.on('error', () => resolve(undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined)); // not ready yet, or gone
  });
}

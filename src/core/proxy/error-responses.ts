// The answers Ferry itself gives when it cannot get one from the app: honest status, a reason,
// a request id to find the log line, and never the environment or a stack.

import crypto from 'node:crypto';

const PREFIX = crypto.randomBytes(3).toString('hex');
let counter = 0;

/** Short, unique within an instance's lifetime, and greppable in the logs. */
export function nextRequestId(): string {
  counter = (counter + 1) % Number.MAX_SAFE_INTEGER;
  return `${PREFIX}-${counter.toString(36)}`;
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  408: 'Request Timeout',
  412: 'Precondition Failed',
  413: 'Payload Too Large',
  416: 'Range Not Satisfiable',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export type ErrorStatus = 400 | 403 | 404 | 408 | 412 | 413 | 416 | 431 | 500 | 502 | 503 | 504;

export interface ErrorResponse {
  status: ErrorStatus;
  /** One sentence for the client; no internals. */
  reason: string;
  requestId: string;
  retryAfterS?: number;
  /** Close the connection after the answer (the rest of the request will not be read). */
  close?: boolean;
  /** Header fields the status calls for (416: Content-Range), written before the others. */
  headers?: Readonly<Record<string, string>>;
}

function errorBody(error: ErrorResponse): string {
  return `${error.status} ${REASONS[error.status]}\n\n${error.reason}\nRequest id: ${error.requestId}\n`;
}

/**
 * The answer as a status, a flat field list [name, value, ...] and its body, for the front to
 * write (Connection is the writer's), Content-Length included (a HEAD's answer carries it too).
 */
export function errorAnswerParts(error: ErrorResponse): { reason: string; fields: string[]; body: string } {
  const body = errorBody(error);
  const fields: string[] = [];
  for (const [name, value] of Object.entries(error.headers ?? {})) fields.push(name, value);
  fields.push('Content-Type', 'text/plain; charset=utf-8', 'Content-Length', String(Buffer.byteLength(body)), 'Cache-Control', 'no-store', 'X-Request-Id', error.requestId);
  if (error.retryAfterS !== undefined) fields.push('Retry-After', String(error.retryAfterS));
  return { reason: REASONS[error.status] as string, fields, body };
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/** What went wrong at spawn, as the friendly page shows it; from SpawnError's facts. */
export interface SpawnFacts {
  app: string;
  message: string;
  category?: string;
  step?: string;
  exitCode?: number | null;
  signal?: string | null;
  outputTail?: string;
  durationMs?: number;
}

/**
 * The development page for an app that cannot start: what failed, at which step, how it exited,
 * and what it printed, for a client allowed to see it (error-page-audience.ts); for any other, a
 * page saying where those details are. Never the environment, never Ferry's own stack.
 */
export function spawnErrorPageBody(facts: SpawnFacts, requestId: string, showDetails: boolean): string {
  const row = (name: string, value: unknown): string =>
    value === undefined || value === null || value === '' ? '' : `<tr><th>${name}</th><td>${escapeHtml(String(value))}</td></tr>`;
  // The message quotes the output's last line: it is a detail as much as the output is.
  const details = showDetails
    ? `<p>${escapeHtml(facts.message)}</p>
<table>${row('App', facts.app)}${row('What failed', facts.category)}${row('Step', facts.step)}${row('Exit code', facts.exitCode)}${row('Signal', facts.signal)}${row('Time taken', facts.durationMs === undefined ? undefined : `${facts.durationMs} ms`)}${row('Request id', requestId)}</table>
<h2>Last output of the app</h2>
<pre>${escapeHtml(facts.outputTail?.trim() || '(nothing)')}</pre>
<p>This page is shown because the app runs in development (or with --friendly-error-pages). Ferry retries with a growing delay; fix the app and reload.</p>`
    : `<p>What failed and the app's last output are shown only to clients on the server's own machine (loopback), since that output may hold secrets. The operator finds them in the server log.</p>
<table>${row('Request id', requestId)}</table>
<p>Ferry retries with a growing delay; reload later. (Started with --friendly-error-pages, Ferry shows the details to every client.)</p>`;
  const body = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>The application could not be started</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem}th{text-align:left;padding-right:1rem;vertical-align:top}pre{background:#f4f4f4;padding:1rem;overflow:auto}</style></head>
<body><h1>The application could not be started</h1>
${details}
</body></html>
`;
  return body;
}

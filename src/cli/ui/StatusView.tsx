// The live view of `ferry status --watch` (presentational: props are snapshots), like pm2 monit:
// one row per process with recent CPU, memory, req/s and 5xx, the selected process's app with its
// settings, and that app's last log lines. Narrow terminals lose columns, never split a header.

import React from 'react';
import { Box, Text } from 'ink';
import type { AppConfigSummary, GroupSnapshot, PoolResponse, ProcessSnapshot, ServerResponse } from '../../lib/admin-api-contract.js';
import type { LogEntry } from './log-pane.js';
import { formatMegabytes, formatPercent, formatUptime } from '../format/units.js';
import { currentSelection, fitColumns, MARKER_WIDTH, selectedApp, type Column, type ColumnId, type ProcessRates } from './watch-model.js';

export interface StatusViewProps {
  instance: string;
  pool: PoolResponse;
  server: ServerResponse;
  /** Recent rates per pid (two frames' difference); absent or null: not known yet. */
  rates?: Map<number, ProcessRates>;
  /** The selected process (arrow keys); default the first. */
  selected?: number;
  /** The apps' settings (getConfig); absent when the core did not say. */
  apps?: AppConfigSummary[];
  /** The instance's log file; null: it logs to the terminal of `ferry start`; absent: unknown. */
  logFile?: string | null;
  /** The selected app's last log lines, oldest first. */
  logLines?: LogEntry[];
  /** Terminal columns. */
  width?: number;
  /** Set when the last refresh failed; the last good numbers stay on screen. */
  error?: string;
}

/** Memory as Passenger counts it: private dirty + swap, else RSS + swap. */
function processMemory(p: ProcessSnapshot): number | null {
  if (p.privateDirtyBytes !== null) return p.privateDirtyBytes + (p.swapBytes ?? 0);
  if (p.rssBytes !== null) return p.rssBytes + (p.swapBytes ?? 0);
  return null;
}

function formatRate(value: number | null | undefined): string {
  if (value == null) return '-';
  return value < 10 ? value.toFixed(1) : String(Math.round(value));
}

function cell(id: ColumnId, p: ProcessSnapshot, rates: ProcessRates | undefined): string {
  switch (id) {
    case 'pid':
      return String(p.pid);
    case 'state':
      return p.state;
    case 'cpu':
      return rates?.cpuPercent == null ? '-' : formatPercent(rates.cpuPercent);
    case 'memory':
      return formatMegabytes(processMemory(p));
    case 'rps':
      return formatRate(rates?.requestsPerSecond);
    case 'errors':
      return String(p.errors5xx ?? 0);
    case 'sessions':
      return String(p.sessions);
    case 'processed':
      return String(p.processed);
    case 'uptime':
      return formatUptime(p.uptimeMs);
  }
}

function Row({ columns, cells, marker, selected, bold }: { columns: Column[]; cells: string[]; marker: string; selected?: boolean; bold?: boolean }): React.ReactElement {
  return (
    <Box>
      <Box width={MARKER_WIDTH} flexShrink={0}>
        <Text>{marker}</Text>
      </Box>
      {columns.map((column, i) => (
        <Box key={column.id} width={column.width} flexShrink={0}>
          <Text inverse={selected} bold={bold} wrap="truncate">
            {cells[i]}
          </Text>
        </Box>
      ))}
    </Box>
  );
}

function groupLine(g: GroupSnapshot): string {
  const parts = [`queue ${g.waiting}`, `restarts ${g.restarts ?? 0}`, `crashes ${g.crashes ?? 0}`];
  if (g.spawning > 0) parts.push(`spawning ${g.spawning}`);
  return `${g.name} (${g.state}) ${parts.join(', ')}`;
}

function Group({ group, columns, rates, selected }: { group: GroupSnapshot; columns: Column[]; rates?: Map<number, ProcessRates>; selected?: number }): React.ReactElement {
  return (
    <Box flexDirection="column" marginTop={1}>
      <Text color="cyan" wrap="wrap">
        {groupLine(group)}
      </Text>
      {group.restart?.failed ? <Text color="red">restart failed: {group.restart.failed}</Text> : null}
      {group.state === 'backoff' && group.lastSpawnError ? <Text color="red">cannot start, retrying: {group.lastSpawnError.message}</Text> : null}
      <Row columns={columns} cells={columns.map((c) => c.title)} marker="" bold />
      {group.processes.map((p) => (
        <Row key={p.pid} columns={columns} cells={columns.map((c) => cell(c.id, p, rates?.get(p.pid)))} marker={p.pid === selected ? '›' : ''} selected={p.pid === selected} />
      ))}
      {group.processes.length === 0 ? <Text dimColor>  no process</Text> : null}
    </Box>
  );
}

/** Local time of day, as a log pane shows it. */
function clock(ms: number): string {
  const d = new Date(ms);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

const LEVEL_TAGS: Record<number, string> = { 20: 'DEBUG', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

function LogLine({ entry }: { entry: LogEntry }): React.ReactElement {
  const isErr = entry.stream === 'stderr';
  const tag = isErr ? 'err' : entry.stream === 'stdout' ? 'out' : (LEVEL_TAGS[entry.level ?? 30] ?? 'ferry');
  const prefix = [entry.time === undefined ? undefined : clock(entry.time), entry.pid === undefined ? undefined : String(entry.pid), tag].filter(Boolean).join(' ');
  const loud = isErr || (entry.level ?? 0) >= 40;
  return (
    <Text wrap="truncate" color={loud ? 'red' : undefined}>
      <Text dimColor={!loud}>{prefix}</Text> {entry.msg}
    </Text>
  );
}

function Details({ process, app, logFile }: { process?: ProcessSnapshot; app?: AppConfigSummary; logFile?: string | null }): React.ReactElement | null {
  if (!process && !app) return null;
  const lines: [string, string][] = [];
  if (process) lines.push(['process', `${process.pid}, up ${formatUptime(process.uptimeMs)}, generation ${process.generation}, spawned in ${process.spawnDurationMs} ms`]);
  if (app) {
    lines.push(['user', app.user ?? '(the user Ferry runs as)']);
    lines.push([app.appType === 'generic' ? 'command' : 'interpreter', app.interpreter]);
    lines.push(['startup', app.startupFile]);
  }
  if (logFile !== undefined) lines.push(['log', logFile ?? 'the terminal of ferry start (no --log-file)']);
  return (
    <Box flexDirection="column" marginTop={1}>
      {lines.map(([label, value]) => (
        // Paths keep both ends (the file name matters), sentences their start.
        <Text key={label} wrap={label === 'process' ? 'truncate-end' : 'truncate-middle'}>
          <Text dimColor>{label.padEnd(12)}</Text>
          {value}
        </Text>
      ))}
    </Box>
  );
}

export function StatusView({ instance, pool, server, rates, selected, apps, logFile, logLines, width = 80, error }: StatusViewProps): React.ReactElement {
  const memory = pool.groups.flatMap((g) => g.processes).reduce((sum, p) => sum + (processMemory(p) ?? 0), 0);
  const columns = fitColumns(width);
  const pid = currentSelection(pool, selected);
  const appName = selectedApp(pool, selected);
  const process = pool.groups.flatMap((g) => g.processes).find((p) => p.pid === pid);
  const app = apps?.find((a) => a.name === appName);
  const { failed } = server.requests;
  return (
    <Box flexDirection="column" width={width}>
      <Text bold wrap="wrap">
        ferry {instance}: {pool.processCount}/{pool.maxPoolSize} processes, {server.requests.perSecond} req/s, {server.requests.inFlight} in flight, {pool.waiting} queued, {formatMegabytes(memory)},
        5xx {failed['502'] + failed['503'] + failed['504']}
      </Text>
      {pool.groups.map((group) => (
        <Group key={group.name} group={group} columns={columns} rates={rates} selected={pid} />
      ))}
      <Details process={process} app={app} logFile={logFile} />
      {logLines !== undefined && appName !== undefined ? (
        <Box flexDirection="column" marginTop={1}>
          <Text bold>log: {appName}</Text>
          {logLines.length === 0 ? <Text dimColor>{logFile ? 'no lines yet' : 'not in a file'}</Text> : logLines.map((entry, i) => <LogLine key={i} entry={entry} />)}
        </Box>
      ) : null}
      {error ? (
        <Text color="red" wrap="wrap">
          refresh failed: {error}
        </Text>
      ) : null}
      <Text dimColor wrap="truncate">
        ↑↓ select · q or Ctrl-C quit
      </Text>
    </Box>
  );
}

/** What the view shows once the instance is gone: no stale numbers, and why it ends. */
export function StoppedView({ instance, reason }: { instance: string; reason: string }): React.ReactElement {
  return (
    <Box flexDirection="column">
      <Text bold>
        ferry {instance} has stopped
      </Text>
      <Text wrap="wrap">{reason}</Text>
    </Box>
  );
}

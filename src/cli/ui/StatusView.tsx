// The live view of `ferry status --watch` (presentational: props are snapshots), like top:
// one line per process, totals, requests per second and the queue.

import React from 'react';
import { Box, Text } from 'ink';
import type { PoolResponse, ServerResponse } from '../../lib/admin-api-contract.js';
import { formatMegabytes, formatPercent, formatUptime } from '../format/units.js';

export interface StatusViewProps {
  instance: string;
  pool: PoolResponse;
  server: ServerResponse;
  /** Set when the last refresh failed; the last good numbers stay on screen. */
  error?: string;
}

const COLUMNS = [
  ['PID', 8],
  ['STATE', 10],
  ['SESSIONS', 10],
  ['PROCESSED', 11],
  ['CPU', 6],
  ['MEMORY', 8],
  ['UPTIME', 12],
] as const;

function Row({ cells }: { cells: string[] }): React.ReactElement {
  return (
    <Box>
      {cells.map((cell, i) => (
        <Box key={i} width={COLUMNS[i]?.[1]}>
          <Text>{cell}</Text>
        </Box>
      ))}
    </Box>
  );
}

export function StatusView({ instance, pool, server, error }: StatusViewProps): React.ReactElement {
  const memory = pool.groups.flatMap((g) => g.processes).reduce((sum, p) => sum + (p.privateDirtyBytes ?? p.rssBytes ?? 0) + (p.swapBytes ?? 0), 0);
  return (
    <Box flexDirection="column">
      <Text bold>
        ferry {instance} — {pool.processCount}/{pool.maxPoolSize} processes, {server.requests.perSecond} req/s, {server.requests.inFlight} in flight, {pool.waiting} queued,{' '}
        {formatMegabytes(memory)} memory
      </Text>
      {pool.groups.map((group) => (
        <Box key={group.name} flexDirection="column" marginTop={1}>
          <Text color="cyan">
            {group.name} ({group.state}) {group.root} — queue {group.waiting}
            {group.spawning > 0 ? `, spawning ${group.spawning}` : ''}
          </Text>
          <Row cells={COLUMNS.map(([title]) => title)} />
          {group.processes.map((p) => (
            <Row key={p.pid} cells={[String(p.pid), p.state, String(p.sessions), String(p.processed), formatPercent(p.cpuPercent), formatMegabytes(p.privateDirtyBytes ?? p.rssBytes), formatUptime(p.uptimeMs)]} />
          ))}
        </Box>
      ))}
      {error ? <Text color="red">refresh failed: {error}</Text> : null}
      <Text dimColor>q or Ctrl-C to quit; refreshes every second</Text>
    </Box>
  );
}

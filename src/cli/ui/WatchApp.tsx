// The live view's loop: refresh every interval, keep the previous snapshot for the rates, follow
// the arrow keys, quit on q or Ctrl-C, and end with a clear frame when the instance is gone.

import React, { useCallback, useEffect, useRef, useState } from 'react';
import { Text, useApp, useInput, useStdin, useStdout } from 'ink';
import type { ConfigResponse, PoolResponse, ServerResponse } from '../../lib/admin-api-contract.js';
import type { LogEntry } from './log-pane.js';
import { StatusView, StoppedView } from './StatusView.js';
import { moveSelection, poolRates, selectedApp, type ProcessRates } from './watch-model.js';

/** Where the view gets its data: the admin API and the log file in production, fakes in tests. */
export interface WatchSource {
  instance: string;
  fetchFrame(): Promise<{ pool: PoolResponse; server: ServerResponse }>;
  fetchConfig(): Promise<ConfigResponse>;
  readLog(file: string, app: string, lines: number): LogEntry[];
  /** After a failed refresh: why the instance is gone for good, or undefined while it still runs. */
  goneReason(err: unknown): string | undefined;
}

export interface WatchAppProps {
  source: WatchSource;
  intervalMs: number;
  /** Called once when the view ends because the instance stopped. */
  onStopped?(reason: string): void;
}

interface Frame {
  pool: PoolResponse;
  server: ServerResponse;
  rates: Map<number, ProcessRates>;
}

function useTerminalSize(): { columns: number; rows: number } {
  const { stdout } = useStdout();
  const read = (): { columns: number; rows: number } => ({ columns: stdout.columns || 80, rows: stdout.rows || 24 });
  const [size, setSize] = useState(read);
  useEffect(() => {
    const onResize = (): void => setSize(read());
    stdout.on('resize', onResize);
    return () => void stdout.off('resize', onResize);
  });
  return size;
}

/** Log lines that fit below the table: what is left of the screen, within reason. */
function logRowsFor(rows: number, frame: Frame | undefined): number {
  const processes = frame?.pool.processCount ?? 0;
  const groups = frame?.pool.groups.length ?? 0;
  const used = 2 + groups * 3 + processes + 6 + 3;
  return Math.min(20, Math.max(3, rows - used));
}

export function WatchApp({ source, intervalMs, onStopped }: WatchAppProps): React.ReactElement {
  const { exit } = useApp();
  const { isRawModeSupported } = useStdin();
  const { columns, rows } = useTerminalSize();
  const [frame, setFrame] = useState<Frame>();
  const [config, setConfig] = useState<ConfigResponse>();
  const [error, setError] = useState<string>();
  const [stopped, setStopped] = useState<string>();
  const [selected, setSelected] = useState<number>();
  const previous = useRef<PoolResponse | undefined>(undefined);
  const ended = useRef(false);

  const refresh = useCallback(async (): Promise<void> => {
    try {
      const next = await source.fetchFrame();
      const rates = poolRates(previous.current, next.pool);
      previous.current = next.pool;
      setFrame({ ...next, rates });
      setError(undefined);
    } catch (err) {
      const reason = source.goneReason(err);
      if (reason === undefined) return setError((err as Error).message);
      if (!ended.current) onStopped?.(reason);
      ended.current = true;
      setStopped(reason);
    }
  }, [source, onStopped]);

  useEffect(() => {
    source.fetchConfig().then(setConfig, () => undefined);
    void refresh();
    const timer = setInterval(() => void refresh(), intervalMs);
    return () => clearInterval(timer);
  }, [source, refresh, intervalMs]);

  useEffect(() => {
    if (stopped === undefined) return;
    // After this frame is drawn: the last thing on screen says the instance stopped.
    const timer = setTimeout(() => exit(), 50);
    return () => clearTimeout(timer);
  }, [stopped, exit]);

  // The key handler is re-subscribed after each render, so a key pressed just after a frame is
  // drawn can reach the handler of the frame before: it reads the newest pool from here.
  const shown = useRef<PoolResponse | undefined>(undefined);
  shown.current = frame?.pool;
  useInput(
    (input, key) => {
      // Raw mode turns Ctrl-C into the byte 0x03 instead of SIGINT: it is ours to handle.
      if (input === 'q' || input === '\u0003' || (key.ctrl && input === 'c')) return exit();
      const pool = shown.current;
      if (pool && (key.upArrow || key.downArrow)) setSelected((current) => moveSelection(pool, current, key.upArrow ? -1 : 1));
    },
    { isActive: isRawModeSupported },
  );

  if (stopped !== undefined) return <StoppedView instance={source.instance} reason={stopped} />;
  if (!frame) return <StatusLine text={error ? `ferry ${source.instance}: ${error}` : `ferry ${source.instance}: connecting...`} />;
  const app = selectedApp(frame.pool, selected);
  const logFile = config?.logFile;
  const logLines = logFile && app ? source.readLog(logFile, app, logRowsFor(rows, frame)) : config ? [] : undefined;
  return (
    <StatusView
      instance={source.instance}
      pool={frame.pool}
      server={frame.server}
      rates={frame.rates}
      selected={selected}
      apps={config?.apps}
      logFile={config ? config.logFile : undefined}
      logLines={logLines}
      width={columns}
      error={error}
    />
  );
}

function StatusLine({ text }: { text: string }): React.ReactElement {
  return <Text>{text}</Text>;
}

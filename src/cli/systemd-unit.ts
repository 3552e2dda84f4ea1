// The text of a systemd service unit (and a socket unit, for socket activation) that runs one
// Ferry instance in the foreground as a Type=notify service. Pure: ferry systemd-unit gathers the
// facts (paths, flags, timeouts) and prints or writes what this returns.

import type { ListenAddress } from '../lib/config.js';

export interface UnitSpec {
  /** Base name of the units: NAME.service and NAME.socket. */
  unitName: string;
  /** The command that runs ferry, absolute: node and bin/run.js, or the single executable alone. */
  cli: string[];
  /** Arguments after `start`: the app directory (absolute) and the flags to pass on. */
  startArgs: string[];
  /** The app's directory, for WorkingDirectory= and the description. */
  appDir: string;
  /** Runs Ferry itself as this user (and so its apps). */
  user?: string;
  /** Where the instance registers itself; undefined: a runtime directory of the unit's own. */
  registryDir?: string;
  /** Ferry's graceful shutdown deadline, in seconds. */
  shutdownTimeoutS: number;
  /** systemd's watchdog; 0: off. */
  watchdogSec: number;
  /** With socket activation: the address the socket unit listens on. */
  socketActivation?: ListenAddress;
  /** The 0600 file holding the --envvar values (EnvironmentFile=); ExecStart names them only. */
  environmentFile?: string;
}

/** systemd expands %specifiers and $VARIABLES in command lines; a literal one is doubled. */
function escapeSpecifiers(text: string): string {
  return text.replace(/%/g, '%%').replace(/\$/g, '$$$$');
}

/** One word of an Exec*= line: quoted (C-style escapes) when it has blanks, quotes or backslashes. */
export function quoteExecArg(arg: string): string {
  const escaped = escapeSpecifiers(arg);
  if (escaped !== '' && !/[\s"'\\;]/.test(escaped)) return escaped;
  return `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

function execLine(words: string[]): string {
  return words.map(quoteExecArg).join(' ');
}

/** Extra seconds systemd gives beyond Ferry's own deadline, so Ferry's SIGKILL of its groups comes first. */
const STOP_MARGIN_S = 5;

export function renderServiceUnit(spec: UnitSpec): string {
  const socketUnit = `${spec.unitName}.socket`;
  const registry = spec.registryDir === undefined ? `%t/${spec.unitName}` : escapeSpecifiers(spec.registryDir);
  const lines = [
    '[Unit]',
    `Description=Ferry application server for ${spec.appDir}`,
    ...(spec.socketActivation ? [`Requires=${socketUnit}`, `After=network.target ${socketUnit}`] : ['After=network.target']),
    '',
    '[Service]',
    // ferry start stays in the foreground as the main process and says READY=1 once it serves.
    'Type=notify',
    'NotifyAccess=main',
    `ExecStart=${execLine([...spec.cli, 'start', ...spec.startArgs])}`,
    // A new core takes over on the same socket; app processes and connections are kept.
    `ExecReload=${execLine([...spec.cli, 'restart'])}`,
    `Environment="FERRY_INSTANCE_REGISTRY_DIR=${registry}"`,
    // The values of --envvar: in a file only root reads, not in this world-readable unit or in ps.
    ...(spec.environmentFile ? [`EnvironmentFile=${escapeSpecifiers(spec.environmentFile)}`] : []),
    ...(spec.registryDir === undefined ? [`RuntimeDirectory=${spec.unitName}`] : []),
    `WorkingDirectory=${escapeSpecifiers(spec.appDir)}`,
    ...(spec.user ? [`User=${spec.user}`] : []),
    // SIGTERM to ferry start alone: it stops the watchdog, core and apps gracefully, in order,
    // and its watchdog kills what is left at its own deadline; systemd's SIGKILL is the last resort.
    'KillMode=mixed',
    'KillSignal=SIGTERM',
    `TimeoutStopSec=${spec.shutdownTimeoutS + STOP_MARGIN_S}`,
    'Restart=on-failure',
    ...(spec.watchdogSec > 0 ? [`WatchdogSec=${spec.watchdogSec}`] : []),
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ];
  return lines.join('\n');
}

/**
 * An EnvironmentFile= for systemd: every value in double quotes, where systemd's parser takes
 * \\ \" \` \$ as escapes and a newline as itself (no expansion in either case).
 */
export function renderEnvironmentFile(env: Record<string, string>): string {
  return Object.entries(env)
    .map(([name, value]) => `${name}="${value.replace(/[\\"`$]/g, (c) => `\\${c}`)}"\n`)
    .join('');
}

export function renderSocketUnit(spec: UnitSpec): string {
  const listen = spec.socketActivation;
  if (!listen) throw new Error('renderSocketUnit needs spec.socketActivation');
  const address = listen.kind === 'unix' ? listen.path : listen.address.includes(':') ? `[${listen.address}]:${listen.port}` : `${listen.address}:${listen.port}`;
  return [
    '[Unit]',
    `Description=Listening socket of ${spec.unitName}.service (Ferry)`,
    '',
    '[Socket]',
    `ListenStream=${escapeSpecifiers(address)}`,
    // Ferry serves one socket: the one this unit passes as fd 3.
    'Backlog=2048',
    ...(listen.kind === 'unix' ? ['SocketMode=0660'] : []),
    `Service=${spec.unitName}.service`,
    '',
    '[Install]',
    'WantedBy=sockets.target',
    '',
  ].join('\n');
}

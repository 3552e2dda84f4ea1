import { Flags } from '@oclif/core';
import fs from 'node:fs';
import path from 'node:path';
import { BaseCommand } from '../cli/base-command.js';
import { lookUpUser } from '../cli/app-user.js';
import type { FlagValues } from '../cli/config-file.js';
import { CliError } from '../cli/errors.js';
import { exitCodeHelp, type ExitStatus } from '../cli/exit-codes.js';
import { buildConfig, parseEnvvars } from '../cli/launch-instance.js';
import { explicitFlags, resolveStartOptions } from '../cli/start-options.js';
import { renderEnvironmentFile, renderServiceUnit, renderSocketUnit, type UnitSpec } from '../cli/systemd-unit.js';
import { CLI_COMMAND } from '../lib/paths.js';
import Start from './start.js';

export interface SystemdUnitResult {
  service: string;
  socket?: string;
  /** The EnvironmentFile= (mode 0600) with the --envvar values, when there are any. */
  environment?: string;
  /** With --output-dir: the files written. */
  files?: string[];
}

// A unit runs ferry start in the foreground (Type=notify), so these have no place in one.
const { daemonize: _daemonize, 'pid-file': _pidFile, ...serviceFlags } = Start.flags;

/** Flags whose relative paths must not depend on the directory systemd starts ferry in. */
const PATH_FLAGS = new Set(['config', 'log-file', 'socket', 'env-file']);
/** Flags of this command alone, not passed on to ferry start. */
const OWN_FLAGS = new Set(['socket-activation', 'output-dir', 'unit-name', 'watchdog-sec', 'instance-registry-dir', 'json']);

/** What this command can exit with besides 0, 1 and 2 (its --help and docs/errors.md list them). */
const EXIT_STATUSES: ExitStatus[] = ['environment'];

export default class SystemdUnit extends BaseCommand<SystemdUnitResult> {
  static exitStatuses: readonly ExitStatus[] = EXIT_STATUSES;
  static summary = 'Print a systemd service unit (and a socket unit with --socket-activation) that runs ferry start with these flags.';
  static description = `Takes the arguments and flags of ferry start, checks them the same way, and prints NAME.service: a
Type=notify unit running ferry start in the foreground, with ExecReload=ferry restart, KillMode=mixed, a stop
timeout beyond Ferry's own, Restart=on-failure, WatchdogSec, and User= for --user. With --socket-activation it
also prints NAME.socket, which holds the listening socket (ListenStream=) and passes it to Ferry.
The values of --envvar go to NAME.env (mode 0600, EnvironmentFile=) and ExecStart names them only,
so no value is in the world-readable unit or in any process list.

${exitCodeHelp(EXIT_STATUSES)}`;

  static examples = [
    'sudo <%= config.bin %> systemd-unit /srv/myapp --port 8080 --user www-data --output-dir /etc/systemd/system',
    '<%= config.bin %> systemd-unit ./myapp --socket-activation --port 80 --user myapp',
  ];

  static args = Start.args;

  static flags = {
    ...serviceFlags,
    'socket-activation': Flags.boolean({ summary: 'Also write NAME.socket: systemd listens and hands the socket to Ferry (LISTEN_FDS).', default: false }),
    'output-dir': Flags.string({ summary: 'Write the unit files into this directory (for example /etc/systemd/system) instead of printing them.' }),
    'unit-name': Flags.string({ summary: 'Name of the units (NAME.service, NAME.socket).', default: 'ferry' }),
    'watchdog-sec': Flags.integer({ summary: "systemd restarts Ferry when its core has not answered for this many seconds (WatchdogSec); 0 = off.", default: 30, min: 0 }),
  };

  async run(): Promise<SystemdUnitResult> {
    const { args, flags, raw } = await this.parse(SystemdUnit);
    const values = flags as unknown as FlagValues;
    const explicit = explicitFlags(raw);
    if (!/^[\w@.:-]+$/.test(flags['unit-name'])) {
      throw new CliError('FERRY_ERR_CONFIG_INVALID', `--unit-name '${flags['unit-name']}' is not a unit name`, ['Use letters, digits and - _ . @ : only, for example --unit-name myapp']);
    }
    const appDir = path.resolve(args.dir);
    // The same checks as ferry start. Written by someone other than root, the unit is checked as
    // if root ran it for the user check too (ferry start as that user), which only root can do here:
    // then --user is only checked to exist.
    if (flags.user !== undefined && flags.user !== '' && !lookUpUser(flags.user)) {
      throw new CliError('FERRY_ERR_APP_USER_UNKNOWN', `--user ${flags.user}: there is no such user on this host`, ['Name an existing user (see getent passwd).']);
    }
    const { instanceOptions, apps } = resolveStartOptions(appDir, process.getuid?.() === 0 ? values : { ...values, user: undefined }, explicit);
    const config = buildConfig(instanceOptions, apps, (message) => this.warn(message));
    const env = explicit.has('envvar') ? parseEnvvars(flags.envvar) : {};
    const hasEnv = Object.keys(env).length > 0;
    const envDir = flags['output-dir'] ? path.resolve(flags['output-dir']) : '/etc/systemd/system';

    const spec: UnitSpec = {
      unitName: flags['unit-name'],
      cli: CLI_COMMAND,
      startArgs: [appDir, ...startFlagArgs(values, explicit)],
      appDir,
      ...(flags.user ? { user: flags.user } : {}),
      ...(flags['instance-registry-dir'] && explicit.has('instance-registry-dir') ? { registryDir: path.resolve(flags['instance-registry-dir']) } : {}),
      shutdownTimeoutS: Math.ceil(config.shutdownTimeoutMs / 1000),
      watchdogSec: flags['watchdog-sec'],
      ...(flags['socket-activation'] ? { socketActivation: config.listen } : {}),
      ...(hasEnv ? { environmentFile: path.join(envDir, `${flags['unit-name']}.env`) } : {}),
    };
    const result: SystemdUnitResult = {
      service: renderServiceUnit(spec),
      ...(spec.socketActivation ? { socket: renderSocketUnit(spec) } : {}),
      ...(hasEnv ? { environment: renderEnvironmentFile(env) } : {}),
    };
    if (flags['output-dir']) {
      const dir = path.resolve(flags['output-dir']);
      result.files = [];
      for (const [suffix, text] of [['service', result.service], ['socket', result.socket], ['env', result.environment]] as const) {
        if (text === undefined) continue;
        const file = path.join(dir, `${spec.unitName}.${suffix}`);
        try {
          if (suffix === 'env') writePrivateFile(file, text);
          else fs.writeFileSync(file, text, { mode: 0o644 });
        } catch (err) {
          throw new CliError('FERRY_ERR_FILE_UNWRITABLE', `cannot write ${file}: ${(err as Error).message}`, ['Pass a writable directory with --output-dir (as root for /etc/systemd/system).']);
        }
        result.files.push(file);
      }
      this.log(`Wrote ${result.files.join(' and ')}. Then: systemctl daemon-reload && systemctl enable --now ${spec.unitName}.${spec.socketActivation ? 'socket' : 'service'}`);
    } else {
      this.log(`# ${spec.unitName}.service\n${result.service}`);
      if (result.socket) this.log(`# ${spec.unitName}.socket\n${result.socket}`);
      if (result.environment) this.log(`# ${spec.environmentFile} (mode 0600, owned by root)\n${result.environment}`);
    }
    return result;
  }
}

/** Writes `text` to `file` readable by its owner alone, even over an older file with a wider mode; never through a link. */
function writePrivateFile(file: string, text: string): void {
  const { O_WRONLY, O_CREAT, O_TRUNC, O_NOFOLLOW } = fs.constants;
  const fd = fs.openSync(file, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0o600);
  try {
    fs.fchmodSync(fd, 0o600);
    fs.writeFileSync(fd, text);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The flags to pass on to ferry start: those typed on the command line (and --user), as typed;
 * --envvar by name alone (its value is in the EnvironmentFile).
 */
function startFlagArgs(values: FlagValues, explicit: ReadonlySet<string>): string[] {
  const words: string[] = [];
  const names = new Set(explicit);
  if (values.user) names.add('user'); // may come from FERRY_USER
  for (const name of names) {
    if (OWN_FLAGS.has(name)) continue;
    const value = values[name];
    const definition = (serviceFlags as Record<string, { type: string; allowNo?: boolean }>)[name];
    if (!definition || value === undefined) continue;
    if (definition.type === 'boolean') {
      if (value === true) words.push(`--${name}`);
      else if (definition.allowNo) words.push(`--no-${name}`);
    } else if (name === 'envvar') {
      for (const item of value as string[]) words.push('--envvar', item.split('=')[0] as string);
    } else {
      for (const item of Array.isArray(value) ? value : [value]) words.push(`--${name}`, PATH_FLAGS.has(name) ? path.resolve(String(item)) : String(item));
    }
  }
  return words;
}

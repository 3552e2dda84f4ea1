import { Args, Flags } from '@oclif/core';
import { ACCESS_LOG_FORMATS, APP_TYPES, BUFFERING_DEFAULTS, CLIENT_LIMIT_DEFAULTS, DEFAULT_LIMITS, DEFAULTS, HEALTH_DRAIN_DEFAULT_S, HEALTH_DRAIN_MAX_S, LOG_LEVELS, WEBSOCKET_IDLE_TIMEOUT_DEFAULT_S } from '../lib/config.js';
import type { InstanceSummary, WatchdogToCli } from '../lib/ipc-messages.js';
import { BaseCommand } from '../cli/base-command.js';
import { exitCodeHelp, type ExitStatus } from '../cli/exit-codes.js';
import { registryFlags } from '../cli/flags.js';
import { launchInstance } from '../cli/launch-instance.js';
import { stopCommandFor } from '../cli/locate-instance.js';
import type { FlagValues } from '../cli/config-file.js';
import { explicitFlags, resolveStartOptions } from '../cli/start-options.js';
import { ServiceNotifier } from '../cli/service-notifier.js';

export type StartResult = InstanceSummary & { daemonized: boolean; logFile?: string; accessLog?: string };

/** What this command can exit with besides 0, 1 and 2 (its --help and docs/errors.md list them). */
const EXIT_STATUSES: ExitStatus[] = ['notRunning', 'environment', 'appStartFailed'];

export default class Start extends BaseCommand<StartResult> {
  static exitStatuses: readonly ExitStatus[] = EXIT_STATUSES;
  static summary = 'Serve the app in DIR through a supervised pool of processes.';
  static description = `Starts a watchdog, which starts the core, which spawns the app's processes and proxies HTTP to them.
In the foreground (the default) logs go to stdout and Ctrl-C stops everything gracefully; with --daemonize,
ferry start returns once the instance serves, or fails with the reason.

${exitCodeHelp(EXIT_STATUSES)}`;

  static examples = [
    '<%= config.bin %> start examples/hello',
    '<%= config.bin %> start ./myapp --port 8080 --min-instances 2',
    '<%= config.bin %> start ./myapp --daemonize --pid-file /run/myapp.pid --log-file /var/log/myapp.log',
    '<%= config.bin %> start ./myapp --socket /run/myapp.sock',
  ];

  static args = {
    dir: Args.string({ description: 'Directory of the app to serve.', default: '.' }),
  };

  static flags = {
    ...registryFlags,
    config: Flags.string({ char: 'c', summary: 'Read options and apps from this JSON file (default: ferry.json in DIR, if there is one).' }),
    port: Flags.integer({ char: 'p', summary: 'TCP port to listen on.', default: DEFAULTS.port, min: 1, max: 65535 }),
    address: Flags.string({ char: 'a', summary: 'Address to listen on.', default: DEFAULTS.address }),
    socket: Flags.string({ summary: 'Listen on this unix socket instead of TCP (for a front server such as nginx).', exclusive: ['port', 'address'] }),
    daemonize: Flags.boolean({ char: 'd', summary: 'Run in the background; return once the instance serves.', default: false }),
    'pid-file': Flags.string({ summary: "Write the watchdog's pid to this file (removed at stop)." }),
    'log-file': Flags.string({ summary: 'Write logs to this file instead of stdout (daemon default: log/ferry.PORT.log in the app).' }),
    'log-level': Flags.string({ summary: 'Least severe log level to write.', options: [...LOG_LEVELS], default: DEFAULTS.logLevel }),
    'access-log': Flags.string({ summary: 'Write one line per request to this file (- for standard output of a foreground start); reopened with the log file.' }),
    'access-log-format': Flags.string({ summary: 'Access log lines: combined (Apache/nginx, with Ferry\'s fields appended) or json.', options: [...ACCESS_LOG_FORMATS] }),
    'app-type': Flags.string({ summary: 'Kind of app: node, python (WSGI), asgi (ASGI 3), ruby (Rack), generic (any program on $PORT); detected when not given.', options: [...APP_TYPES] }),
    'app-start-command': Flags.string({ summary: 'Start the app with this shell command; it must listen on 127.0.0.1:$PORT (makes the app generic).' }),
    'startup-file': Flags.string({ summary: 'File that starts the app, relative to DIR (default: app.js, or "main" of package.json).' }),
    'min-instances': Flags.integer({ summary: 'App processes kept alive at least.', default: DEFAULTS.minInstances }),
    'max-pool-size': Flags.integer({ summary: 'Most app processes alive at once, across all apps.', default: DEFAULTS.maxPoolSize }),
    concurrency: Flags.integer({ summary: 'Requests one app process takes at once; 0 = unlimited. Default: 1 for WSGI/Rack, unlimited otherwise. Beyond it, requests queue.', min: 0 }),
    'busy-sessions': Flags.integer({
      summary: 'With unlimited concurrency, a process with this many requests in flight is busy; when all are, another is spawned.',
      default: DEFAULT_LIMITS.busySessions,
      min: 1,
    }),
    'max-request-queue-size': Flags.integer({ summary: 'Requests that may wait for a process; more get 503 with Retry-After. 0 = unlimited.', default: DEFAULT_LIMITS.maxRequestQueueSize, min: 0 }),
    'max-request-queue-time': Flags.integer({ summary: 'Seconds a request may wait for a process before it gets 503. 0 = no limit.', default: 0, min: 0 }),
    'pool-idle-time': Flags.integer({ summary: 'Seconds an idle process beyond --min-instances lives before it is stopped. 0 = never.', default: DEFAULT_LIMITS.poolIdleTimeMs / 1000, min: 0 }),
    'max-request-time': Flags.integer({
      summary: 'Seconds a request may run; then it gets 504 and its process is replaced. 0 = no limit.',
      default: 0,
      min: 0,
    }),
    'memory-limit': Flags.integer({ summary: 'MB of memory (private dirty + swap) a process may use; over it for --memory-limit-checks checks in a row, it is drained and replaced. 0 = no limit.', default: 0, min: 0 }),
    'memory-limit-checks': Flags.integer({
      summary: 'Consecutive checks (every 2 s) a process must be over --memory-limit before it is replaced; one check under it starts the count again.',
      default: DEFAULT_LIMITS.memoryLimitChecks,
      min: 1,
    }),
    'rolling-restarts': Flags.boolean({ summary: 'Restarts triggered by tmp/restart.txt replace processes one at a time, without dropping requests.', default: false }),
    watch: Flags.boolean({
      summary: 'For development: restart the app, rolling, 300 ms after files under its root change (not in node_modules, .git, log, tmp, nor editor temp files).',
      default: false,
    }),
    'sticky-sessions': Flags.boolean({ summary: 'Send a client back to the process that served it (cookie), while that process has room.', default: false }),
    'sticky-sessions-cookie-name': Flags.string({ summary: 'Name of the sticky-session cookie.', default: '_ferry_route' }),
    'friendly-error-pages': Flags.boolean({
      summary: 'When the app cannot start, show its error on an HTML page (default: only with --environment development).',
      allowNo: true,
    }),
    'max-requests': Flags.integer({ summary: 'Replace a process after it has handled this many requests. 0 = never.', default: DEFAULT_LIMITS.maxRequests, min: 0 }),
    'max-requests-jitter': Flags.integer({
      summary: 'Each process gets its own --max-requests, plus 0 to this many (uniform, chosen at spawn), so they do not all restart together. 0 = off.',
      default: DEFAULT_LIMITS.maxRequestsJitter,
      min: 0,
    }),
    direct: Flags.boolean({
      summary: 'Direct mode: Node app processes accept connections from the listening socket themselves (fastest); the core only supervises. No turbocache, queue, sticky sessions, request time limit or static files.',
      default: false,
    }),
    'disable-turbocaching': Flags.boolean({ summary: 'Turn the turbocache (the response cache in front of the apps) off.', default: false }),
    'vary-turbocache-by-cookie': Flags.string({
      summary: "Keep one cached variant per value of this cookie (for example user_id): anonymous visitors share one, each user gets their own.",
    }),
    'turbocache-max-bytes': Flags.string({ summary: 'Memory for cached answers, in bytes or with k/m/g; least recently used go first.', default: '64m' }),
    'turbocache-max-entry-bytes': Flags.string({ summary: 'Largest answer the turbocache keeps (body and headers), in bytes or with k/m/g.', default: '1m' }),
    'turbocache-serve-stale-on-error': Flags.integer({
      summary: 'When an app fails (5xx, no answer, cannot start), answer with a cached page up to this many seconds stale instead of the error. 0 = only where the app says stale-if-error.',
      default: 0,
      min: 0,
    }),
    'turbocache-debug-header': Flags.boolean({
      summary: 'Add X-Ferry-Cache: hit, miss or bypass, with the reason, to every answer (default: only with --environment development).',
      allowNo: true,
    }),
    'max-header-size': Flags.integer({ summary: 'Bytes a request line and its headers may take; more gets 431.', default: CLIENT_LIMIT_DEFAULTS.maxHeaderBytes, min: 1024 }),
    'client-header-timeout': Flags.integer({
      summary: 'Seconds a client may take to send its request headers (slowloris); then 408 and the connection closes. 0 = no limit.',
      default: CLIENT_LIMIT_DEFAULTS.headerTimeoutS,
      min: 0,
    }),
    'client-body-timeout': Flags.integer({
      summary: 'Seconds a client may take to send a whole request, body included; then 408 and the connection closes. 0 = no limit.',
      default: CLIENT_LIMIT_DEFAULTS.bodyTimeoutS,
      min: 0,
    }),
    'max-body-size': Flags.string({ summary: 'Largest request body, in bytes or with k/m/g; more gets 413. 0 = no limit.', default: CLIENT_LIMIT_DEFAULTS.maxBodySize }),
    'websocket-idle-timeout': Flags.integer({
      summary: 'Seconds a WebSocket (or other upgraded connection) may pass with no byte either way before both its ends are closed. 0 = no limit.',
      default: WEBSOCKET_IDLE_TIMEOUT_DEFAULT_S,
      min: 0,
    }),
    compression: Flags.boolean({
      summary: 'Compress text-like answers (HTML, CSS, JS, JSON, XML, SVG) over 1 KiB with brotli or gzip for clients that accept it; the turbocache keeps the compressed variants.',
      default: false,
    }),
    'buffer-uploads': Flags.boolean({
      summary: 'Read each request body whole (memory, then a temp file) before it goes to a process, for Node and generic apps too (always on for apps with limited concurrency).',
      default: false,
    }),
    'response-buffer-high-watermark': Flags.string({
      summary: "Bytes of one response Ferry holds for a slow client (memory, then disk) before it slows the app down, in bytes or with k/m/g. 0 = no buffering.",
      default: BUFFERING_DEFAULTS.responseBufferHighWatermark,
    }),
    'metrics-address': Flags.string({
      summary: 'Serve Prometheus metrics at http://HOST:PORT/metrics, without a token; HOST must be a loopback address (127.0.0.1, ::1).',
    }),
    'health-check-path': Flags.string({
      summary: 'Answer this path (for example /healthz) on the public port for load balancers: 200 when ready, 503 when not or while stopping. Off by default.',
    }),
    'health-drain-time': Flags.integer({
      summary: 'Seconds a graceful stop reports 503 on --health-check-path, still serving, before it stops accepting connections.',
      default: HEALTH_DRAIN_DEFAULT_S,
      min: 0,
      max: HEALTH_DRAIN_MAX_S,
    }),
    envvar: Flags.string({ summary: 'Environment variable for the app, as NAME=VALUE; repeatable. Wins over every other source of the variable.', multiple: true, default: [] }),
    'env-file': Flags.string({
      summary: 'Read environment variables for the app from FILE (dotenv syntax, no expansion; owned by root or you, not a symbolic link); repeatable, later files win.',
      multiple: true,
      default: [],
    }),
    environment: Flags.string({ char: 'e', summary: 'App environment, exported as NODE_ENV; also picks "environments" in ferry.json.', default: DEFAULTS.environment }),
    // No `min` here: the same check (and message) covers ferry.json values, in buildConfig.
    'stop-timeout': Flags.integer({
      summary: "Seconds a stopping app process (ferry stop, restart-app, detach-process, recycling) may take to finish its requests before it is signalled; per app in ferry.json.",
      default: DEFAULTS.stopTimeoutS,
    }),
    'start-timeout': Flags.integer({ summary: 'Seconds an app process may take to listen before it is killed and reported.', default: DEFAULTS.startTimeoutMs / 1000, min: 1 }),
    'readiness-path': Flags.string({
      summary: 'Put a new process (start, restart, replacement, scale-out) in rotation only once GET PATH (for example /ready) answers it with 2xx, not as soon as it listens; per app in ferry.json.',
    }),
    // No `min` here: the same check (and message) covers ferry.json values, in buildConfig.
    'readiness-timeout': Flags.integer({
      summary: 'Seconds a new process may take, once it listens, to answer --readiness-path with 2xx before it is killed and reported (default: --start-timeout).',
    }),
    nodejs: Flags.string({ summary: 'Node.js interpreter for the app.', default: process.execPath }),
    python: Flags.string({ summary: 'Python interpreter for a WSGI app.', default: 'python3' }),
    ruby: Flags.string({ summary: 'Ruby interpreter for a Rack app.', default: 'ruby' }),
    user: Flags.string({
      summary: "As root: run the app's processes as this user (default: the owner of the startup file; an app owned by root needs --user root).",
      env: 'FERRY_USER',
    }),
  };

  async run(): Promise<StartResult> {
    const { args, flags, raw } = await this.parse(Start);
    const { instanceOptions, apps } = resolveStartOptions(args.dir, flags as unknown as FlagValues, explicitFlags(raw));
    const launched = await launchInstance(instanceOptions, apps, (message) => this.warn(message));
    const { instance } = launched;
    const where = instance.addresses.join(' ');
    const notifier = ServiceNotifier.fromEnv();
    if (instanceOptions.daemonize) {
      // systemd follows the watchdog from now on (a Type=notify unit should run in the foreground).
      notifier?.ready(instance, { mainPid: instance.watchdogPid });
      notifier?.close();
      await launched.detach();
      const stopCommand = stopCommandFor(instance.name, instanceOptions.registryDir);
      this.log(`Ferry is serving at ${where} (instance ${instance.name}, watchdog pid ${instance.watchdogPid}).`);
      this.log(`Log: ${launched.logFile ?? '(stdout)'} (read it with: ${stopCommand.replace('ferry stop', 'ferry logs -f')})`);
      if (launched.accessLog) this.log(`Access log: ${launched.accessLog}`);
      this.log(`Stop it with: ${stopCommand}`);
      return { ...instance, daemonized: true, ...logPaths(launched) };
    }
    this.log(`Ferry is serving at ${where} (instance ${instance.name}). Press Ctrl-C to stop.`);
    if (launched.logFile) this.log(`Log: ${launched.logFile} (read it with: ferry logs -f)`);
    if (launched.accessLog && launched.accessLog !== '-') this.log(`Access log: ${launched.accessLog}`);
    if (notifier) {
      notifier.ready(instance);
      launched.watchdog.on('message', (message: WatchdogToCli) => {
        if (message.type === 'stopping') notifier.stopping();
        else if (message.type === 'core-restart' && message.state === 'running') notifier.reloading();
        else if (message.type === 'core-restart') notifier.reloaded(message.state === 'done', instance);
      });
    }
    let interrupts = 0;
    const onSignal = (): void => {
      interrupts++;
      notifier?.stopping();
      if (interrupts === 1) this.log('Stopping gracefully (Ctrl-C again to force)...');
      // The watchdog treats a second signal as "now".
      launched.watchdog.kill('SIGTERM');
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.on('SIGHUP', onSignal);
    const code = await launched.exited;
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
    notifier?.close();
    if (code !== 0) process.exitCode = code;
    return { ...instance, daemonized: false, ...logPaths(launched) };
  }
}

function logPaths(launched: { logFile?: string; accessLog?: string }): Pick<StartResult, 'logFile' | 'accessLog'> {
  return { ...(launched.logFile ? { logFile: launched.logFile } : {}), ...(launched.accessLog ? { accessLog: launched.accessLog } : {}) };
}

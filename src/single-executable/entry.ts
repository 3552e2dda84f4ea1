// The main script of the single executable (dist-bin/ferry): one binary that is, by its first
// argument, the CLI, the watchdog, the core, or the Node that runs an app (see lib/paths.ts).

import inspector from 'node:inspector';
import Module from 'node:module';
import path from 'node:path';
import { LOADER_DIR, ROLE_ARG, type ProcessRole } from '../lib/paths.js';

/**
 * Set in an app's environment: the executable is that app's `node`, so a child it starts with
 * process.execPath and a script (child_process.fork, a worker pool) runs the script, not the CLI.
 */
const RUN_AS_NODE_ENV = 'FERRY_RUN_AS_NODE';

async function runNodeApp(startupFile: string, appArgs: string[]): Promise<void> {
  process.env[RUN_AS_NODE_ENV] = '1';
  // The executable's Node installs no SIGUSR1 handler of its own (the signal would kill the app),
  // so do what `node --inspect-port=127.0.0.1:0` does from JavaScript: SIGUSR1 opens the
  // inspector on a free loopback port (crash-watch). Unlike Node's, it waits for the event loop;
  // one nobody closes, the core closes (core/spawn/inspector-guard.ts), as for node.
  process.on('SIGUSR1', () => {
    if (!inspector.url()) inspector.open(0, '127.0.0.1');
  });
  await import('../core/spawn/node-loader.cjs');
  // As `node app.js` would see it; runMain picks CommonJS or ESM by Node's own rules.
  process.argv = [process.execPath, path.resolve(startupFile), ...appArgs];
  Module.runMain();
}

async function main(argv: string[]): Promise<void> {
  if (process.env[RUN_AS_NODE_ENV] && argv[0] !== ROLE_ARG) {
    // The loader acts only on the first process (it removes FERRY_APP_SOCKET), so a child is a plain script.
    if (argv[0] === undefined || argv[0].startsWith('-')) throw new Error(`the Node inside ferry runs a script file only (node ${argv.join(' ')}); use --nodejs for a full node`);
    await runNodeApp(argv[0], argv.slice(1));
    return;
  }
  if (argv[0] !== ROLE_ARG) {
    // The same fast path as bin/run.js for one-shot `ferry status`.
    const fastExitCode = argv[0] === 'status' && !process.env.FERRY_NO_FAST_PATH ? await (await import('../cli/status-fast.js')).runStatusFast(argv.slice(1)) : undefined;
    if (fastExitCode !== undefined) process.exitCode = fastExitCode;
    else {
      // oclif checks, as it loads, the Node version against a package.json it reads from disk.
      process.env.OCLIF_DISABLE_ENGINE_WARNING = '1';
      await (await import('./cli.js')).runCli(argv);
    }
    return;
  }
  const role = argv[1] as ProcessRole;
  if (role === 'watchdog') await import('../core/watchdog/main.js');
  else if (role === 'core') {
    (await import('./assets.js')).writeLoaders(LOADER_DIR);
    await import('../core/main.js');
  } else if (role === 'node-app' && argv[2] !== undefined) await runNodeApp(argv[2], argv.slice(3));
  else {
    process.stderr.write(`ferry: unknown internal role ${String(role)}\n`);
    process.exitCode = 2;
  }
}

// argv[0] is the executable and argv[1] the name it was invoked by (both set by Node for an SEA).
main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`ferry: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});

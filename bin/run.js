#!/usr/bin/env -S node --
// `--`: Node 20 reads any `--env-file FILE` on its command line, even after the script, and exits
// (code 9) when FILE is missing, before ferry start could say so; it stops looking at `--`.
// `ferry status` one-shot views take a fast path that skips loading oclif (~80 ms on Node 20);
// it hands back anything it does not understand, and oclif runs the command as usual.
// FERRY_NO_FAST_PATH=1 forces the oclif path (tests compare the two).
const fastExitCode =
  process.argv[2] === 'status' && !process.env.FERRY_NO_FAST_PATH ? await (await import('../dist/cli/status-fast.js')).runStatusFast(process.argv.slice(3)) : undefined;

if (fastExitCode === undefined) {
  const { execute } = await import('@oclif/core');
  await execute({ dir: import.meta.url });
} else {
  process.exitCode = fastExitCode;
}

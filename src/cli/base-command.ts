// BaseCommand: --json for every command, one place that renders errors and maps exit codes.

import { Command, type Interfaces } from '@oclif/core';
import { CliError } from './errors.js';
import type { ExitStatus } from './exit-codes.js';
import { renderError } from './render-error.js';

/** oclif's FlagOutput and ArgOutput, which its index does not export. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Output = { [name: string]: any };

interface OclifError extends Error {
  oclif?: { exit?: number };
}

export abstract class BaseCommand<T> extends Command {
  static enableJsonFlag = true;
  /** The exit statuses this command can end with besides 0, 1 and 2: its --help lists them, and docs/errors.md. */
  static exitStatuses: readonly ExitStatus[] = [];

  abstract run(): Promise<T>;

  /**
   * Anything the parser throws is a usage error: oclif's own errors carry an exit code, but an
   * argument's parse function (Args.integer on "abc") throws a plain Error, which read as a bug.
   */
  protected async parse<F extends Output, B extends Output, A extends Output>(
    options?: Interfaces.Input<F, B, A>,
    argv?: string[],
  ): Promise<Interfaces.ParserOutput<F, B, A>> {
    try {
      return await super.parse(options, argv);
    } catch (err) {
      if ((err as OclifError).oclif?.exit !== undefined || err instanceof CliError) throw err;
      throw new CliError('FERRY_ERR_USAGE', (err as Error).message);
    }
  }

  /** Renders any error once: JSON on stdout with --json, else one red line and suggestions on stderr. */
  protected async catch(err: OclifError): Promise<never> {
    if (err.oclif?.exit === 0) throw err; // --help, --version
    const flags = Object.keys((this.ctor as { flags?: Record<string, unknown> }).flags ?? {});
    const rendered = renderError(err, { json: this.jsonEnabled(), color: Boolean(process.stderr.isTTY) && process.env.NO_COLOR === undefined, commandId: this.id, flags });
    if (rendered.stdout) process.stdout.write(rendered.stdout);
    if (rendered.stderr) process.stderr.write(rendered.stderr);
    throw Object.assign(new Error(err.message), { skipOclifErrorHandling: true, oclif: { exit: rendered.exitCode } });
  }
}

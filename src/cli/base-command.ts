// BaseCommand: --json for every command, one place that renders errors and maps exit codes.

import { Command } from '@oclif/core';
import { renderError } from './render-error.js';

interface OclifError extends Error {
  oclif?: { exit?: number };
}

export abstract class BaseCommand<T> extends Command {
  static enableJsonFlag = true;

  abstract run(): Promise<T>;

  /** Renders any error once: JSON on stdout with --json, else one red line and suggestions on stderr. */
  protected async catch(err: OclifError): Promise<never> {
    if (err.oclif?.exit === 0) throw err; // --help, --version
    const rendered = renderError(err, { json: this.jsonEnabled(), color: Boolean(process.stderr.isTTY) && process.env.NO_COLOR === undefined, commandId: this.id });
    if (rendered.stdout) process.stdout.write(rendered.stdout);
    if (rendered.stderr) process.stderr.write(rendered.stderr);
    throw Object.assign(new Error(err.message), { skipOclifErrorHandling: true, oclif: { exit: rendered.exitCode } });
  }
}

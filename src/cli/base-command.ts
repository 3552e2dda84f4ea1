// BaseCommand: --json for every command, one place that renders errors and maps exit codes.

import { Command } from '@oclif/core';
import chalk from 'chalk';
import { CliError } from './errors.js';
import { EXIT_CODES } from './exit-codes.js';

interface OclifError extends Error {
  oclif?: { exit?: number };
  code?: string;
}

export abstract class BaseCommand<T> extends Command {
  static enableJsonFlag = true;

  abstract run(): Promise<T>;

  /** Renders any error once: JSON on stdout with --json, else one red line and suggestions on stderr. */
  protected async catch(err: OclifError): Promise<never> {
    let code: string;
    let exitCode: number;
    let suggestions: string[] = [];
    if (err instanceof CliError) {
      code = err.code;
      exitCode = err.exitCode;
      suggestions = err.suggestions;
    } else if (err.oclif?.exit !== undefined) {
      // oclif's own parse errors: unknown flag, bad value, missing argument.
      code = 'FERRY_ERR_USAGE';
      exitCode = err.oclif.exit;
      if (exitCode === 0) throw err; // --help, --version
    } else {
      code = 'FERRY_ERR_INTERNAL';
      exitCode = EXIT_CODES.failed;
    }
    const message = err.message.replace(/\n+See more help with --help$/, '');
    if (this.jsonEnabled()) {
      this.logJson({ error: { code, message, suggestions } });
    } else {
      process.stderr.write(`${chalk.red(`Error: ${message}`)}\n`);
      for (const suggestion of suggestions) process.stderr.write(`  ${suggestion}\n`);
      if (code === 'FERRY_ERR_USAGE') process.stderr.write(`  See: ferry ${this.id ?? ''} --help\n`);
      if (code === 'FERRY_ERR_INTERNAL' && process.env.DEBUG) process.stderr.write(`${err.stack ?? ''}\n`);
    }
    throw Object.assign(new Error(message), { skipOclifErrorHandling: true, oclif: { exit: exitCode } });
  }
}

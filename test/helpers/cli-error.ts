import { expect } from 'vitest';
import { CliError } from '../../src/cli/errors.js';

/** Runs `fn`, which must throw a CliError, and returns it. */
export function cliErrorOf(fn: () => unknown): CliError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CliError);
    return err as CliError;
  }
  throw new Error('expected a CliError, but nothing was thrown');
}

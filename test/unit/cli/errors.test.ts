import { describe, expect, it } from 'vitest';
import { CliError, cliErrorFromPayload } from '../../../src/cli/errors.js';
import { EXIT_CODES, EXIT_FOR_CODE } from '../../../src/cli/exit-codes.js';
import { ERROR_CODES, type ErrorCode } from '../../../src/lib/error-codes.js';

describe('EXIT_FOR_CODE', () => {
  it.each<[ErrorCode, string]>([
    ['FERRY_ERR_CONFIG_INVALID', 'usage'],
    ['FERRY_ERR_APP_NOT_FOUND', 'usage'],
    ['FERRY_ERR_INSTANCE_AMBIGUOUS', 'usage'],
    ['FERRY_ERR_LISTEN_IN_USE', 'environment'],
    ['FERRY_ERR_LISTEN_PERMISSION', 'environment'],
    ['FERRY_ERR_LISTEN_FAILED', 'environment'],
    ['FERRY_ERR_SPAWN_EXITED', 'appStartFailed'],
    ['FERRY_ERR_SPAWN_TIMEOUT', 'appStartFailed'],
    ['FERRY_ERR_SPAWN_FAILED', 'appStartFailed'],
    ['FERRY_ERR_INSTANCE_NOT_RUNNING', 'notRunning'],
    ['FERRY_ERR_CORE_CRASH_LOOP', 'failed'],
    ['FERRY_ERR_INTERNAL', 'failed'],
    ['FERRY_ERR_FILE_UNWRITABLE', 'environment'],
    ['FERRY_ERR_WAIT_TIMEOUT', 'inProgress'],
  ])('maps %s to %s', (code, name) => {
    expect(EXIT_FOR_CODE[code]).toBe(name);
  });

  it('maps every known code to an exit code that exists', () => {
    for (const code of ERROR_CODES) expect(EXIT_CODES[EXIT_FOR_CODE[code]]).toBeTypeOf('number');
  });
});

describe('CliError', () => {
  // Issue 19, item 8: --log-file in a missing directory exited 5 with a code documented as 2.
  it('takes its exit status from the code, so a code always ends a command the same way', () => {
    expect(new CliError('FERRY_ERR_CONFIG_INVALID', 'x').exitCode).toBe(EXIT_CODES.usage);
    expect(new CliError('FERRY_ERR_FILE_UNWRITABLE', 'x').exitCode).toBe(EXIT_CODES.environment);
    expect(new CliError('FERRY_ERR_WAIT_TIMEOUT', 'x').exitCode).toBe(EXIT_CODES.inProgress);
  });
});

describe('cliErrorFromPayload', () => {
  it('keeps the code, message and suggestions and sets the matching exit code', () => {
    const err = cliErrorFromPayload({
      code: 'FERRY_ERR_SPAWN_EXITED',
      message: "app 'hello' exited with code 1 before it listened",
      suggestions: ['Run the app by hand.'],
      details: { pid: 1234 },
    });
    expect(err).toBeInstanceOf(CliError);
    expect(err).toMatchObject({
      name: 'CliError',
      code: 'FERRY_ERR_SPAWN_EXITED',
      message: "app 'hello' exited with code 1 before it listened",
      exitCode: 6,
      suggestions: ['Run the app by hand.'],
    });
  });

  it('gives an empty suggestion list when the payload has none', () => {
    const err = cliErrorFromPayload({ code: 'FERRY_ERR_LISTEN_IN_USE', message: 'port 3000 is in use' });
    expect(err.suggestions).toEqual([]);
    expect(err.exitCode).toBe(5);
  });
});

import { describe, expect, it } from 'vitest';
import { buildAccessLog } from '../../../src/cli/access-log-options.js';
import { CliError } from '../../../src/cli/errors.js';
import { thrownBy } from '../../helpers/thrown.js';

describe('buildAccessLog', () => {
  it('is off without --access-log, combined by default, and takes a path relative to the working directory', () => {
    expect(buildAccessLog({}, undefined)).toBeUndefined();
    expect(buildAccessLog({ accessLog: 'a.log' }, undefined)).toEqual({ path: `${process.cwd()}/a.log`, format: 'combined' });
    expect(buildAccessLog({ accessLog: '/var/log/a.jsonl', accessLogFormat: 'json' }, '/var/log/ferry.log')).toEqual({ path: '/var/log/a.jsonl', format: 'json' });
    expect(buildAccessLog({ accessLog: '-' }, undefined)).toEqual({ path: '-', format: 'combined' });
  });

  it.each([
    [{ accessLogFormat: 'json' }, undefined, /--access-log-format needs --access-log/],
    [{ accessLog: 'a.log', accessLogFormat: 'apache' }, undefined, /'apache' is not one of combined, json/],
    [{ accessLog: '-' }, '/var/log/ferry.log', /standard output, which is the log file \/var\/log\/ferry\.log/],
    [{ accessLog: '/var/log/ferry.log' }, '/var/log/ferry.log', /is the log file too/],
    [{ accessLog: '' }, undefined, /needs a file/],
    [{ accessLog: 'a.log', direct: true }, undefined, /--direct has none/],
  ])('refuses %j (log file %s) with a usage error that says what to do', (given, logFile, message) => {
    const err = thrownBy(() => buildAccessLog(given, logFile), CliError);
    expect(err).toMatchObject({ code: 'FERRY_ERR_CONFIG_INVALID', exitCode: 2 });
    expect(err.message).toMatch(message);
    expect(err.suggestions.length).toBeGreaterThan(0);
  });
});

import { describe, expect, it } from 'vitest';
import { CliError } from '../../../src/cli/errors.js';
import { thrownBy } from '../../helpers/thrown.js';
import { EXIT_CODES } from '../../../src/cli/exit-codes.js';
import { buildHealthCheck, parseMetricsAddress } from '../../../src/cli/observability-options.js';

const cliErrorOf = (fn: () => unknown): CliError => thrownBy(fn, CliError);

describe('parseMetricsAddress', () => {
  it('takes loopback addresses, IPv4, IPv6 in brackets, and localhost', () => {
    expect(parseMetricsAddress('127.0.0.1:9464')).toEqual({ address: '127.0.0.1', port: 9464 });
    expect(parseMetricsAddress('127.1.2.3:9464')).toEqual({ address: '127.1.2.3', port: 9464 });
    expect(parseMetricsAddress('[::1]:9464')).toEqual({ address: '::1', port: 9464 });
    expect(parseMetricsAddress('localhost:9464')).toEqual({ address: '127.0.0.1', port: 9464 });
  });

  it('refuses an address other hosts can reach, with a usage exit code and a way out', () => {
    for (const text of ['0.0.0.0:9464', '10.0.0.5:9464', '[::]:9464', 'example.com:9464']) {
      const err = cliErrorOf(() => parseMetricsAddress(text));
      expect(err.code).toBe('FERRY_ERR_CONFIG_INVALID');
      expect(err.exitCode).toBe(EXIT_CODES.usage);
      expect(err.message).toContain('not a loopback address');
      expect(err.suggestions.join(' ')).toContain('/v1/metrics');
    }
  });

  it('refuses text that is not HOST:PORT, and ports out of range', () => {
    for (const text of ['9464', '127.0.0.1', '127.0.0.1:', '127.0.0.1:0', '127.0.0.1:65536', '::1:9464']) {
      expect(cliErrorOf(() => parseMetricsAddress(text)).exitCode).toBe(EXIT_CODES.usage);
    }
  });
});

describe('buildHealthCheck', () => {
  it('is off without a path, whatever the drain time', () => {
    expect(buildHealthCheck(undefined, 5)).toBeUndefined();
  });

  it('keeps the path and turns the drain time into milliseconds', () => {
    expect(buildHealthCheck('/healthz', 5)).toEqual({ path: '/healthz', drainTimeMs: 5000 });
    expect(buildHealthCheck('/-/ready', 0)).toEqual({ path: '/-/ready', drainTimeMs: 0 });
  });

  it('refuses a path that does not start with / or carries a query', () => {
    for (const text of ['healthz', '/healthz?x=1', '/a b', '']) expect(cliErrorOf(() => buildHealthCheck(text, 5)).code).toBe('FERRY_ERR_CONFIG_INVALID');
  });

  it('refuses a drain time out of range', () => {
    expect(cliErrorOf(() => buildHealthCheck('/healthz', -1)).message).toContain('--health-drain-time');
    expect(cliErrorOf(() => buildHealthCheck('/healthz', 301)).message).toContain('--health-drain-time');
  });
});

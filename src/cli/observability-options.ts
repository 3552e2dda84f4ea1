// Validates the options of the metrics endpoint (--metrics-address) and of the health check
// (--health-check-path, --health-drain-time) into their config.

import { HEALTH_DRAIN_MAX_S, type HealthCheckConfig } from '../lib/config.js';
import { isLoopbackAddress } from '../lib/loopback.js';
import { CliError } from './errors.js';

function usage(message: string, suggestion: string): CliError {
  return new CliError('FERRY_ERR_CONFIG_INVALID', message, [suggestion]);
}

/**
 * HOST:PORT or [V6]:PORT, where HOST is a loopback address ("localhost" is 127.0.0.1): the
 * endpoint needs no token, so it must not be reachable from other hosts.
 */
export function parseMetricsAddress(text: string): { address: string; port: number } {
  const example = 'For example: --metrics-address 127.0.0.1:9464';
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d+)$/.exec(text.trim());
  if (!match) throw usage(`--metrics-address '${text}' is not HOST:PORT`, example);
  const host = (match[1] ?? match[2]) as string;
  const port = Number(match[3]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw usage(`--metrics-address '${text}': ${match[3]} is not a TCP port`, example);
  const address = host === 'localhost' ? '127.0.0.1' : host;
  if (!isLoopbackAddress(address)) {
    throw usage(
      `--metrics-address '${text}' is not a loopback address; the metrics endpoint has no token, so it listens on 127.0.0.1 or ::1 only`,
      'Use 127.0.0.1:PORT and let the Prometheus agent on this host scrape it, or scrape GET /v1/metrics of the admin API with the read-only token.',
    );
  }
  return { address, port };
}

export function buildHealthCheck(pathText: string | undefined, drainTimeS: number): HealthCheckConfig | undefined {
  if (pathText === undefined) return undefined;
  if (!/^\/[^\s?#]*$/.test(pathText)) throw usage(`--health-check-path '${pathText}' is not a path`, 'Give a path that starts with /, without ? or #: for example --health-check-path /healthz');
  if (!Number.isInteger(drainTimeS) || drainTimeS < 0 || drainTimeS > HEALTH_DRAIN_MAX_S) {
    throw usage(`--health-drain-time must be a whole number of seconds from 0 to ${HEALTH_DRAIN_MAX_S} (got ${drainTimeS})`, 'Set it to what your balancer needs to notice a failing check: interval x failures.');
  }
  return { path: pathText, drainTimeMs: drainTimeS * 1000 };
}

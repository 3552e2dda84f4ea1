import { describe, expect, it } from 'vitest';
import { healthVerdict, isHealthCheckRequest } from '../../../../src/core/proxy/health-check.js';

const up = { name: 'web', canServe: true };

describe('healthVerdict', () => {
  it('is ready (200) when serving and every app can serve', () => {
    expect(healthVerdict({ serving: true, draining: false, apps: [up, { name: 'api', canServe: true }] })).toEqual({ httpStatus: 200, body: { status: 'ready' } });
  });

  it('is starting (503) until the pool has started', () => {
    expect(healthVerdict({ serving: false, draining: false, apps: [up] })).toEqual({ httpStatus: 503, body: { status: 'starting' } });
  });

  it('names the apps that cannot start (503), so a balancer sends their traffic elsewhere', () => {
    expect(healthVerdict({ serving: true, draining: false, apps: [up, { name: 'api', canServe: false }] })).toEqual({
      httpStatus: 503,
      body: { status: 'unavailable', unavailableApps: ['api'] },
    });
  });

  it('says draining (503) during a graceful stop, whatever else holds', () => {
    expect(healthVerdict({ serving: true, draining: true, apps: [up] })).toEqual({ httpStatus: 503, body: { status: 'draining' } });
    expect(healthVerdict({ serving: false, draining: true, apps: [{ name: 'web', canServe: false }] }).body.status).toBe('draining');
  });
});

describe('isHealthCheckRequest', () => {
  it('matches the path, with or without a query string', () => {
    expect(isHealthCheckRequest('/healthz', '/healthz')).toBe(true);
    expect(isHealthCheckRequest('/healthz?probe=lb', '/healthz')).toBe(true);
  });

  it('does not match longer paths or other paths, so app routes stay the app\'s', () => {
    expect(isHealthCheckRequest('/healthz2', '/healthz')).toBe(false);
    expect(isHealthCheckRequest('/healthz/deep', '/healthz')).toBe(false);
    expect(isHealthCheckRequest('/', '/healthz')).toBe(false);
    expect(isHealthCheckRequest(undefined, '/healthz')).toBe(false);
  });
});

import { describe, expect, it } from 'vitest';
import { matchRoute } from '../../../../src/core/admin-api/router.js';
import { routePath } from '../../../../src/lib/admin-api-contract.js';

describe('matchRoute', () => {
  it('finds a route and decodes its parameters', () => {
    expect(matchRoute('POST', '/v1/apps/my%20app/restart')).toEqual({ kind: 'found', name: 'restartApp', params: { name: 'my app' } });
    expect(matchRoute('GET', '/v1/pool')).toEqual({ kind: 'found', name: 'pool', params: {} });
  });

  it('tells a wrong method from an unknown path, listing the methods allowed', () => {
    expect(matchRoute('DELETE', '/v1/config')).toEqual({ kind: 'wrong-method', allowed: ['GET', 'PATCH'] });
    expect(matchRoute('GET', '/v1/nothing')).toEqual({ kind: 'not-found' });
    expect(matchRoute('GET', '/v1/pool/extra')).toEqual({ kind: 'not-found' });
  });

  it('matches the paths the client builds from the same contract', () => {
    expect(matchRoute('POST', routePath('detachProcess', { pid: 4242 }))).toEqual({ kind: 'found', name: 'detachProcess', params: { pid: '4242' } });
  });
});

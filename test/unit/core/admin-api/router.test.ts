import { describe, expect, it } from 'vitest';
import { matchRoute } from '../../../../src/core/admin-api/router.js';
import { ROUTES, routePath, type RouteName } from '../../../../src/lib/admin-api-contract.js';

describe('matchRoute', () => {
  it('finds a route without parameters by its method and path', () => {
    expect(matchRoute('GET', '/v1/pool')).toEqual({ kind: 'found', name: 'pool', params: {} });
    expect(matchRoute('POST', '/v1/logs/reopen')).toEqual({ kind: 'found', name: 'reopenLogs', params: {} });
  });

  it('tells GET and PATCH of the same path apart', () => {
    expect(matchRoute('GET', '/v1/config')).toEqual({ kind: 'found', name: 'getConfig', params: {} });
    expect(matchRoute('PATCH', '/v1/config')).toEqual({ kind: 'found', name: 'patchConfig', params: {} });
  });

  it('fills the parameters of a route from its path segments', () => {
    expect(matchRoute('POST', '/v1/apps/hello/restart')).toEqual({ kind: 'found', name: 'restartApp', params: { name: 'hello' } });
    expect(matchRoute('POST', '/v1/processes/4242/detach')).toEqual({ kind: 'found', name: 'detachProcess', params: { pid: '4242' } });
  });

  it('decodes percent-encoded parameters, so an app root can be given as a name', () => {
    const path = routePath('restartApp', { name: '/srv/my app' });
    expect(path).toBe('/v1/apps/%2Fsrv%2Fmy%20app/restart');
    expect(matchRoute('POST', path)).toEqual({ kind: 'found', name: 'restartApp', params: { name: '/srv/my app' } });
  });

  it('matches every route of the contract at the path routePath builds for it', () => {
    for (const name of Object.keys(ROUTES) as RouteName[]) {
      const match = matchRoute(ROUTES[name].method, routePath(name, { name: 'a', pid: 1 }));
      expect(match).toMatchObject({ kind: 'found', name });
    }
  });

  it('lists the methods a path allows when it is called with another one', () => {
    expect(matchRoute('DELETE', '/v1/pool')).toEqual({ kind: 'wrong-method', allowed: ['GET'] });
    expect(matchRoute('GET', '/v1/apps/hello/restart')).toEqual({ kind: 'wrong-method', allowed: ['POST'] });
  });

  it('lists both methods of a path that has two', () => {
    const match = matchRoute('POST', '/v1/config');
    expect(match.kind).toBe('wrong-method');
    expect(match.kind === 'wrong-method' && [...match.allowed].sort()).toEqual(['GET', 'PATCH']);
  });

  it('finds nothing for an unknown path, a trailing slash or an extra segment', () => {
    expect(matchRoute('GET', '/v1/nothing')).toEqual({ kind: 'not-found' });
    expect(matchRoute('GET', '/v1/pool/')).toEqual({ kind: 'not-found' });
    expect(matchRoute('GET', '/v2/pool')).toEqual({ kind: 'not-found' });
    expect(matchRoute('POST', '/v1/apps/hello/world/restart')).toEqual({ kind: 'not-found' });
  });

  it('does not match an empty parameter segment', () => {
    expect(matchRoute('POST', '/v1/apps//restart')).toEqual({ kind: 'not-found' });
  });

  it('reports a parameter that is not valid percent-encoding instead of throwing', () => {
    expect(matchRoute('POST', '/v1/apps/%E0%A4%A/restart')).toEqual({ kind: 'bad-param', param: 'name', raw: '%E0%A4%A' });
  });
});

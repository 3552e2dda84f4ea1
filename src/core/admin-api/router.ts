// The admin API's route table: method + path pattern -> route name and parameters (pure).

import { ROUTES, type RouteName } from '../../lib/admin-api-contract.js';

interface CompiledRoute {
  name: RouteName;
  method: string;
  pattern: RegExp;
  params: string[];
}

const COMPILED: CompiledRoute[] = (Object.keys(ROUTES) as RouteName[]).map((name) => {
  const params: string[] = [];
  const source = ROUTES[name].path.replace(/:(\w+)/g, (_, key: string) => {
    params.push(key);
    return '([^/]+)';
  });
  return { name, method: ROUTES[name].method, pattern: new RegExp(`^${source}$`), params };
});

export type RouteMatch =
  | { kind: 'found'; name: RouteName; params: Record<string, string> }
  | { kind: 'wrong-method'; allowed: string[] }
  | { kind: 'not-found' }
  /** The path matches a route but a parameter is not valid percent-encoding. */
  | { kind: 'bad-param'; param: string; raw: string };

export function matchRoute(method: string, pathname: string): RouteMatch {
  const allowed: string[] = [];
  for (const route of COMPILED) {
    const match = route.pattern.exec(pathname);
    if (!match) continue;
    if (route.method !== method) {
      allowed.push(route.method);
      continue;
    }
    const params: Record<string, string> = {};
    for (const [i, key] of route.params.entries()) {
      const raw = match[i + 1] as string;
      try {
        params[key] = decodeURIComponent(raw);
      } catch {
        return { kind: 'bad-param', param: key, raw };
      }
    }
    return { kind: 'found', name: route.name, params };
  }
  return allowed.length > 0 ? { kind: 'wrong-method', allowed } : { kind: 'not-found' };
}

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

export type RouteMatch = { kind: 'found'; name: RouteName; params: Record<string, string> } | { kind: 'wrong-method'; allowed: string[] } | { kind: 'not-found' };

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
    route.params.forEach((key, i) => (params[key] = decodeURIComponent(match[i + 1] as string)));
    return { kind: 'found', name: route.name, params };
  }
  return allowed.length > 0 ? { kind: 'wrong-method', allowed } : { kind: 'not-found' };
}

// The one way commands reach a running instance: locate it in the registry, then talk to its
// admin API. Commands call this instead of wiring locate + client themselves.

import { AdminClient } from './admin-client.js';
import { locateInstance } from './locate-instance.js';

export interface InstanceFlags {
  'instance-registry-dir'?: string;
  instance?: string;
  timeout: number;
}

export function openAdminClient(flags: InstanceFlags): AdminClient {
  const instance = locateInstance({ registryDir: flags['instance-registry-dir'], name: flags.instance });
  return new AdminClient(instance, flags.timeout * 1000);
}

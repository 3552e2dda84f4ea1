// Flags shared by several commands, defined once, each with an environment-variable fallback.

import { Flags } from '@oclif/core';

export const registryFlags = {
  'instance-registry-dir': Flags.string({
    summary: 'Directory where running instances register themselves.',
    description: 'Defaults to $FERRY_INSTANCE_REGISTRY_DIR, then $TMPDIR, then /tmp.',
    env: 'FERRY_INSTANCE_REGISTRY_DIR',
  }),
};

export const instanceFlags = {
  ...registryFlags,
  instance: Flags.string({
    summary: 'Name (or unique prefix) of the instance to act on, when several are running.',
    env: 'FERRY_INSTANCE',
  }),
};

/** Flags of every command that talks to a running instance's admin API. */
export const adminFlags = {
  ...instanceFlags,
  timeout: Flags.integer({
    summary: 'Seconds to wait for the core to answer before calling it not responding (exit 4).',
    default: 10,
    min: 1,
    env: 'FERRY_TIMEOUT',
  }),
};

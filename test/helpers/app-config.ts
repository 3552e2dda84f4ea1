// An app config for unit tests that never start a real process.

import { DEFAULT_LIMITS, type AppConfig, type BufferingConfig, type ClientLimits, type TurbocacheConfig } from '../../src/lib/config.js';

export const TEST_APP: AppConfig = {
  name: 'hello',
  hosts: [],
  root: '/srv/hello',
  appType: 'node',
  startupFile: '/srv/hello/app.js',
  environment: 'test',
  envvars: {},
  nodeCommand: 'node',
  minInstances: 1,
  startTimeoutMs: 5_000,
  stopTimeoutMs: 30_000,
  limits: DEFAULT_LIMITS,
  rollingRestarts: false,
  stickySessions: false,
  stickyCookieName: '_ferry_route',
  friendlyErrorPages: 'off',
};

export const TEST_TURBOCACHE: TurbocacheConfig = { enabled: true, maxBytes: 64 * 1024 * 1024, maxEntryBytes: 1024 * 1024, debugHeader: true };

export const TEST_CLIENT_LIMITS: ClientLimits = { maxHeaderBytes: 16 * 1024, headerTimeoutMs: 30_000, bodyTimeoutMs: 60_000, maxBodyBytes: 1024 ** 3 };

export const TEST_BUFFERING: BufferingConfig = { bufferUploads: false, responseBufferHighWatermarkBytes: 128 * 1024 * 1024 };

// undici's Pool with its request API, and not undici's index: the index loads fetch, WebSocket,
// caches and more, ~150 ms of the core's start-up, which is time a restarted core keeps clients
// waiting. The index would add the API (request() for out-of-band work) to Dispatcher; so do we.
// CommonJS with plain require() calls, so that the single executable's bundler sees them.

import type { Pool } from 'undici';

const UpstreamPool = require('undici/lib/dispatcher/pool.js') as typeof Pool;
const Dispatcher = require('undici/lib/dispatcher/dispatcher.js') as { prototype: object };
Object.assign(Dispatcher.prototype, require('undici/lib/api/index.js') as object);

export = UpstreamPool;

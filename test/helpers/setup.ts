// Runs in every test file: scratch directories made with tempDir go when the file is done, after
// its own afterAll hooks (hooks run in stack order), so no run leaves them piling up in $TMPDIR.

import { afterAll } from 'vitest';
import { removeTempDirs } from './ferry.js';

afterAll(() => removeTempDirs());

import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    env: { FORCE_COLOR: '0', NO_COLOR: '1', TZ: 'UTC' },
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      { test: { name: 'ui', include: ['test/ui/**/*.test.tsx'] } },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          setupFiles: ['test/helpers/setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          // Real processes and ports: one file at a time keeps the 2-core machine honest.
          fileParallelism: false,
        },
      },
    ],
  },
});

import { defineConfig } from 'vitest/config';

// Integration tests talk to real Redis, a real Redis Cluster and real MariaDB
// (started by scripts/services.sh); each file uses its own key prefix/database.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
  },
});

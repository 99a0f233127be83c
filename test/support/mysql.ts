// A throwaway MySQL database per test file, migrated, dropped afterwards.
import { randomUUID } from 'node:crypto';
import type { Pool } from 'mysql2/promise';
import { createMysqlPool, ensureDatabase, migrate } from '../../src/store/mysql/pool.js';
import { TEST_MYSQL_URL } from './env.js';

/** A migrated database for one test file. */
export interface TestDb {
  url: string;
  pool: Pool;
  drop(): Promise<void>;
}

/** Creates and migrates `orgengine_t_<tag>_<random>`. */
export async function createTestDb(tag: string): Promise<TestDb> {
  const name = `orgengine_t_${tag}_${randomUUID().slice(0, 8)}`.replace(/[^A-Za-z0-9_]/g, '_');
  const url = `${TEST_MYSQL_URL.replace(/\/$/, '')}/${name}`;
  await ensureDatabase(url);
  const pool = createMysqlPool(url, 4);
  await migrate(pool);
  return {
    url,
    pool,
    async drop() {
      await pool.query(`DROP DATABASE IF EXISTS \`${name}\``).catch(() => undefined);
      await pool.end();
    },
  };
}

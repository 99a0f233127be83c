// The MySQL pool, transactions on it, and the migration runner.
import mysql, { type Pool, type PoolConnection, type PoolOptions } from 'mysql2/promise';
import { MIGRATIONS, type Migration } from './migrations.js';

// Callers outside the store name these types through here, never through mysql2.
export type { Pool, PoolConnection };

/** Opens a pool on `url` (mysql://user:pass@host:port/db). Times are UTC. */
export function createMysqlPool(url: string, connectionLimit = 8): Pool {
  const u = new URL(url);
  const opts: PoolOptions = {
    host: u.hostname,
    port: u.port ? Number(u.port) : 3306,
    user: decodeURIComponent(u.username || 'root'),
    password: decodeURIComponent(u.password),
    database: decodeURIComponent(u.pathname.replace(/^\//, '')) || undefined,
    connectionLimit,
    timezone: 'Z',
    supportBigNumbers: true,
    bigNumberStrings: false,
    dateStrings: false,
    enableKeepAlive: true,
    // Multi-row INSERTs of a few thousand rows can exceed small defaults.
    maxPreparedStatements: 256,
  };
  return mysql.createPool(opts);
}

/** Creates the database named in `url` if it does not exist (connects without it first). */
export async function ensureDatabase(url: string): Promise<void> {
  const u = new URL(url);
  const db = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!/^[A-Za-z0-9_]{1,64}$/.test(db)) throw new Error(`database name ${JSON.stringify(db)} must be 1-64 chars of [A-Za-z0-9_]`);
  u.pathname = '/';
  const conn = await mysql.createConnection({
    host: u.hostname,
    port: u.port ? Number(u.port) : 3306,
    user: decodeURIComponent(u.username || 'root'),
    password: decodeURIComponent(u.password),
  });
  try {
    await conn.query(`CREATE DATABASE IF NOT EXISTS \`${db}\` CHARACTER SET utf8mb4`);
  } finally {
    await conn.end();
  }
}

/**
 * Runs `fn` in one transaction on one pooled connection: committed when `fn`
 * returns, rolled back when it throws; the connection always goes back.
 * `isolation` applies to this transaction only.
 */
export async function inTransaction<T>(pool: Pool, fn: (conn: PoolConnection) => Promise<T>, isolation?: 'READ COMMITTED'): Promise<T> {
  const conn = await pool.getConnection();
  try {
    if (isolation) await conn.query(`SET TRANSACTION ISOLATION LEVEL ${isolation}`);
    await conn.beginTransaction();
    const out = await fn(conn);
    await conn.commit();
    return out;
  } catch (e) {
    await conn.rollback().catch(() => undefined);
    throw e;
  } finally {
    conn.release();
  }
}

/** Drops a database (a scratch one `orgengine diff` made) if it exists. */
export async function dropDatabase(pool: Pool, name: string): Promise<void> {
  if (!/^[A-Za-z0-9_]{1,64}$/.test(name)) throw new Error(`database name ${JSON.stringify(name)} must be 1-64 chars of [A-Za-z0-9_]`);
  await pool.query(`DROP DATABASE IF EXISTS \`${name}\``);
}

/** What one migrate call did. */
export interface MigrateResult {
  applied: Array<Pick<Migration, 'version' | 'name'>>;
  current: number;
}

/**
 * Applies every migration not yet recorded, in version order, under a
 * named lock so concurrent `migrate` calls (several workers starting) are safe.
 */
export async function migrate(pool: Pool, migrations: readonly Migration[] = MIGRATIONS): Promise<MigrateResult> {
  const conn = await pool.getConnection();
  try {
    const [lockRows] = await conn.query<mysql.RowDataPacket[]>("SELECT GET_LOCK('orgengine_migrate', 60) AS got");
    if (lockRows[0]?.got !== 1) throw new Error('migrate: could not take the migration lock within 60 s');
    try {
      await conn.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version INT UNSIGNED NOT NULL PRIMARY KEY,
        name VARCHAR(255) NOT NULL,
        applied_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`);
      // Every version not yet recorded is applied, not only those above the highest:
      // branches number their migrations apart, so a database may have 4 before 3.
      const [rows] = await conn.query<mysql.RowDataPacket[]>('SELECT version FROM schema_migrations');
      const done = new Set(rows.map((r) => Number(r.version)));
      let current = Math.max(0, ...done);
      const applied: MigrateResult['applied'] = [];
      for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
        if (done.has(m.version)) continue;
        // DDL commits implicitly in MySQL; IF NOT EXISTS makes a half-applied step re-runnable.
        for (const sql of m.statements) await conn.query(sql);
        await conn.query('INSERT INTO schema_migrations (version, name) VALUES (?, ?)', [m.version, m.name]);
        applied.push({ version: m.version, name: m.name });
        current = Math.max(current, m.version);
      }
      return { applied, current };
    } finally {
      await conn.query("SELECT RELEASE_LOCK('orgengine_migrate')");
    }
  } finally {
    conn.release();
  }
}

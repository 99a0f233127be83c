// Policies and their binding to lessons.
import type { Pool, RowDataPacket, ResultSetHeader } from 'mysql2/promise';
import { OrgError } from '../../errors.js';
import { parsePolicyConf, type PolicyConf } from '../../model/policy.js';

/** A policy row as stored: conf is raw text, validated when used. */
export interface PolicyRow {
  policyId: number;
  name: string;
  confText: string;
  description: string;
}

/** Validates and stores a policy under `name` (insert or replace); returns its id. */
export async function putPolicy(pool: Pool, name: string, conf: unknown, description = ''): Promise<{ policyId: number; conf: PolicyConf }> {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) throw new OrgError('BAD_REQUEST', `policy name must be 1-64 chars of [A-Za-z0-9_.-], got ${JSON.stringify(name)}`);
  const text = typeof conf === 'string' ? conf : JSON.stringify(conf);
  const valid = parsePolicyConf(text);
  await pool.query(
    'INSERT INTO policy (name, conf, description) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE conf = VALUES(conf), description = VALUES(description)',
    [name, text, description.slice(0, 512)],
  );
  const [rows] = await pool.query<RowDataPacket[]>('SELECT policy_id FROM policy WHERE name = ?', [name]);
  return { policyId: Number(rows[0]!.policy_id), conf: valid };
}

/** Reads a policy by name, or undefined. */
export async function getPolicyByName(pool: Pool, name: string): Promise<PolicyRow | undefined> {
  const [rows] = await pool.query<RowDataPacket[]>('SELECT policy_id, name, conf, description FROM policy WHERE name = ?', [name]);
  return rows[0] ? toPolicy(rows[0]) : undefined;
}

/** Reads the policy bound to a lesson: undefined when the lesson has no binding. */
export async function getBoundPolicy(pool: Pool, lessonId: number): Promise<{ policyId: number; policy: PolicyRow | undefined } | undefined> {
  const [rows] = await pool.query<RowDataPacket[]>(
    `SELECT lp.policy_id AS bound_id, p.policy_id, p.name, p.conf, p.description
       FROM lesson_policy lp LEFT JOIN policy p ON p.policy_id = lp.policy_id
      WHERE lp.lesson_id = ?`,
    [lessonId],
  );
  const r = rows[0];
  if (!r) return undefined;
  return { policyId: Number(r.bound_id), policy: r.policy_id === null ? undefined : toPolicy(r) };
}

/** Binds a lesson to a policy by name (replaces an earlier binding). */
export async function bindPolicy(pool: Pool, lessonId: number, policyName: string): Promise<number> {
  const p = await getPolicyByName(pool, policyName);
  if (!p) throw new OrgError('POLICY_NOT_FOUND', `no policy named ${JSON.stringify(policyName)}`);
  await pool.query<ResultSetHeader>(
    'INSERT INTO lesson_policy (lesson_id, policy_id) VALUES (?, ?) ON DUPLICATE KEY UPDATE policy_id = VALUES(policy_id), bound_at = CURRENT_TIMESTAMP(3)',
    [lessonId, p.policyId],
  );
  return p.policyId;
}

/** Every policy, by name, with when it changed and how many lessons are bound to it. */
export async function listPolicies(pool: Pool): Promise<Array<{ policyId: number; name: string; confText: string; description: string; updatedAt: number; lessons: number }>> {
  const [rows] = await pool.query<RowDataPacket[]>(
    `SELECT p.policy_id, p.name, p.conf, p.description, p.updated_at, (SELECT COUNT(*) FROM lesson_policy lp WHERE lp.policy_id = p.policy_id) AS lessons
       FROM policy p ORDER BY p.name`,
  );
  return rows.map((r) => ({
    policyId: Number(r.policy_id),
    name: String(r.name),
    confText: String(r.conf),
    description: String(r.description),
    updatedAt: (r.updated_at as Date).getTime(),
    lessons: Number(r.lessons),
  }));
}

function toPolicy(r: RowDataPacket): PolicyRow {
  return { policyId: Number(r.policy_id), name: String(r.name), confText: String(r.conf), description: String(r.description) };
}

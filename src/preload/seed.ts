// `orgengine seed`: writes a synthetic day of source data and binds every
// lesson to a policy, so demos and benchmarks start from realistic rows.
import { OrgError } from '../errors.js';
import { BUILTIN_POLICIES, checkSyntheticParams, syntheticLesson } from '../model/synthetic.js';
import { dayLessonIds } from '../store/mysql/lessons.js';
import { bindPolicy, getPolicyByName, putPolicy } from '../store/mysql/policies.js';
import type { Pool } from '../store/mysql/pool.js';
import { writeLessonSource } from '../store/mysql/source.js';

/** Parameters of `orgengine seed`. */
export interface SeedParams {
  lessons: number;
  students: number;
  tutors: number;
  lpcs?: number;
  policy: string;
  seed: number;
  /** Day of the lessons, YYYY-MM-DD (UTC). */
  date: string;
  onCameraRatio?: number;
  batchRows: number;
}

/** Largest `--seed`: lesson ids are seed * 100,000 + n and must stay below 9e9. */
export const MAX_SEED = 80_000;
/** Most lessons per seed call. */
export const MAX_SEED_LESSONS = 99_999;

/** Lesson id of the n-th (0-based) lesson of a seed. */
export function seededLessonId(seed: number, n: number): number {
  return seed * 100_000 + n + 1;
}

/** Installs the built-in policies (insert or refresh). */
export async function installBuiltinPolicies(pool: Pool): Promise<void> {
  for (const p of BUILTIN_POLICIES) await putPolicy(pool, p.name, p.conf, p.description);
}

/** Writes the synthetic day; returns lesson ids and rows written. */
export async function seedDay(pool: Pool, p: SeedParams, onLesson?: (lessonId: number, rows: number) => void): Promise<{ lessonIds: number[]; rows: number }> {
  if (!Number.isInteger(p.lessons) || p.lessons < 1 || p.lessons > MAX_SEED_LESSONS) throw new OrgError('BAD_REQUEST', `--lessons must be an integer from 1 to ${MAX_SEED_LESSONS}`);
  if (!Number.isInteger(p.seed) || p.seed < 0 || p.seed > MAX_SEED) throw new OrgError('BAD_REQUEST', `--seed must be an integer from 0 to ${MAX_SEED}`);
  const bad = checkSyntheticParams(p);
  if (bad) throw new OrgError('BAD_REQUEST', `--${bad}`);
  if (p.onCameraRatio !== undefined && !(p.onCameraRatio >= 0 && p.onCameraRatio <= 1)) throw new OrgError('BAD_REQUEST', '--on-camera-ratio must be from 0 to 1');
  const day = /^\d{4}-\d{2}-\d{2}$/.test(p.date) ? Date.parse(`${p.date}T00:00:00Z`) : NaN;
  if (Number.isNaN(day)) throw new OrgError('BAD_REQUEST', `--date must be YYYY-MM-DD, got ${JSON.stringify(p.date)}`);

  await installBuiltinPolicies(pool);
  if (!(await getPolicyByName(pool, p.policy))) throw new OrgError('POLICY_NOT_FOUND', `no policy named ${JSON.stringify(p.policy)}`);

  // Lessons start between 08:00 and 21:00, spread evenly over the day.
  const first = day + 8 * 3_600_000;
  const span = 13 * 3_600_000;
  const lessonIds: number[] = [];
  let rows = 0;
  for (let i = 0; i < p.lessons; i++) {
    const lessonId = seededLessonId(p.seed, i);
    const src = syntheticLesson({
      lessonId,
      ordinal: i,
      students: p.students,
      tutors: p.tutors,
      lpcs: p.lpcs,
      seed: p.seed,
      startTime: first + Math.floor((span * i) / p.lessons / 60_000) * 60_000,
      onCameraRatio: p.onCameraRatio,
    });
    const n = await writeLessonSource(pool, src, p.batchRows);
    await bindPolicy(pool, lessonId, p.policy);
    rows += n + 1;
    lessonIds.push(lessonId);
    onLesson?.(lessonId, n + 1);
  }
  return { lessonIds, rows };
}

/** Lesson ids starting on a day (UTC), earliest first. */
export async function lessonsOfDay(pool: Pool, date: string): Promise<number[]> {
  const day = /^\d{4}-\d{2}-\d{2}$/.test(date) ? Date.parse(`${date}T00:00:00Z`) : NaN;
  if (Number.isNaN(day)) throw new OrgError('BAD_REQUEST', `--date must be YYYY-MM-DD, got ${JSON.stringify(date)}`);
  return dayLessonIds(pool, day);
}

// Seeds synthetic lessons for in-class tests: source rows in MySQL, a bound
// built-in policy, and (per Redis mode) a preload under the test's key prefix.
import type { Pool } from 'mysql2/promise';
import { syntheticLesson } from '../../src/model/synthetic.js';
import { installBuiltinPolicies } from '../../src/preload/seed.js';
import { bindPolicy } from '../../src/store/mysql/policies.js';
import { writeLessonSource } from '../../src/store/mysql/source.js';

/** Lesson start used by in-class tests. */
export const START = Date.UTC(2026, 10, 21, 10);

/** Writes a synthetic lesson's source rows and binds it to a built-in policy; returns the source. */
export async function seedLesson(pool: Pool, lessonId: number, policy: string, students: number, tutors: number) {
  await installBuiltinPolicies(pool);
  const src = syntheticLesson({ lessonId, ordinal: lessonId % 1000, students, tutors, seed: 5, startTime: START });
  await writeLessonSource(pool, src, 1000);
  await bindPolicy(pool, lessonId, policy);
  return src;
}

/** uid -> tutor uid of a synthetic lesson. */
export function tutorOf(src: ReturnType<typeof syntheticLesson>): Map<number, number> {
  return new Map(src.tutorAssignments.map((a) => [a.studentUid, a.tutorUid]));
}

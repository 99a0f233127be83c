// The one way a service runs a write the flusher must hear of: the lesson is
// registered with every registry that is due (the write-behind flusher's, the
// interaction checker's) before the script runs, so no acknowledged write sits
// in a stream nobody drains; the outcome is counted by operation (ok or the
// error code); failures go through backendError.
import type { Counter } from 'prom-client';
import { backendError } from '../errors.js';
import type { LessonRegistry } from '../writebehind/registry.js';

/** Registers `lessonId` where due, runs `call`, counts `{op, outcome}` on `counter`. */
export async function registeredWrite<T>(
  registries: readonly LessonRegistry[],
  counter: Counter | null,
  op: string,
  lessonId: number,
  call: () => Promise<T>,
): Promise<T> {
  try {
    for (let i = 0; i < registries.length; i++) {
      const due = registries[i]!.ensure(lessonId);
      if (due) await due;
    }
    const r = await call();
    counter?.inc({ op, outcome: 'ok' });
    return r;
  } catch (e) {
    const err = backendError(e);
    counter?.inc({ op, outcome: err.code });
    throw err;
  }
}

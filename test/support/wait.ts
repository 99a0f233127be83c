// Waiting helpers for tests that observe asynchronous effects (channels, flushers).

/** Resolves after `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` every `pollMs` until it returns something other than undefined; throws after `timeoutMs`. */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 5000, pollMs = 5): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(pollMs);
  }
}

/** A token expiry (epoch seconds) an hour from now. */
export const hour = (): number => Math.floor(Date.now() / 1000) + 3600;

/**
 * Freezes `child` (SIGSTOP) at a moment when `held()` is above 0 — e.g. a
 * flusher holding stream records it has read but not acknowledged — and
 * returns that count with the child still stopped, for the caller to kill.
 * Between tries the child runs on (SIGCONT). The pause before counting lets
 * what the child had already written reach the server, so nothing it sent
 * can lower the count after it is taken. Returns 0 (child running) if no
 * moment is found within `timeoutMs`.
 */
export async function freezeWhileHolding(child: { kill(signal: NodeJS.Signals): boolean }, held: () => Promise<number>, timeoutMs = 5000): Promise<number> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    child.kill('SIGSTOP');
    await sleep(20);
    const n = await held();
    if (n > 0) return n;
    child.kill('SIGCONT');
    await sleep(1 + Math.random() * 4);
  }
  return 0;
}

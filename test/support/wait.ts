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

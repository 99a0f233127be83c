// The console API client: the operator token kept for this browser tab, JSON
// calls, and errors with the code, message and bad fields the server named.

const KEY = 'orgengine.console.token';

/** The operator token of this tab, or null when signed out. */
export function token(): string | null {
  return sessionStorage.getItem(KEY);
}

/** Keeps `t` for this tab. */
export function signIn(t: string): void {
  sessionStorage.setItem(KEY, t);
}

/** Forgets the token and tells the app. */
export function signOut(): void {
  sessionStorage.removeItem(KEY);
  window.dispatchEvent(new CustomEvent('oe-signed-out'));
}

/** An error answer of the API. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, any> = {},
  ) {
    super(message);
  }

  /** The problems by field path, as the server listed them (`conf.partitionSize` -> message). */
  fieldErrors(): Map<string, string> {
    const out = new Map<string, string>();
    const problems: string[] = this.details.problems ?? [];
    for (const p of problems) {
      const i = p.indexOf(':');
      if (i > 0) out.set(p.slice(0, i), p.slice(i + 1).trim());
    }
    for (const f of (this.details.fields as string[] | undefined) ?? (this.details.field ? [this.details.field] : [])) if (!out.has(f)) out.set(f, this.message);
    return out;
  }
}

/** Calls the API; throws ApiError on an error answer (and signs out on 401). */
export async function api<T = any>(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown, t: string | null = token()): Promise<T> {
  const res = await fetch(path, {
    method,
    headers: { ...(t ? { authorization: `Bearer ${t}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    const e = data?.error ?? {};
    if (res.status === 401 && t === token()) signOut();
    throw new ApiError(res.status, e.code ?? 'HTTP', e.message ?? `HTTP ${res.status}`, e.details ?? {});
  }
  return data as T;
}

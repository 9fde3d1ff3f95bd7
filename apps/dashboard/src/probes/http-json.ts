/** One HTTP request with a deadline; the body parsed as JSON when it is JSON. */
export async function fetchJson(
  url: string,
  timeoutMs: number,
  init: RequestInit = {},
): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  try {
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  } catch {
    return { status: res.status, body: text };
  }
}

/** An error's message, for a view's `error` field. */
export const errorText = (err: unknown): string =>
  err instanceof Error
    ? err.cause instanceof Error
      ? err.cause.message
      : err.message
    : String(err);

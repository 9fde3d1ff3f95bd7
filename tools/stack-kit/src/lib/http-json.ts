import http from 'node:http';

export interface JsonReply {
  status: number;
  /** The parsed JSON body; the raw text when it is not JSON; undefined when empty. */
  body: unknown;
}

export interface JsonRequestOptions {
  method?: string;
  /** Sent as is when a string, as JSON (with its content type) otherwise. */
  body?: unknown;
  headers?: Record<string, string>;
  /** A bearer token for the `authorization` header (the services' admin routes). */
  token?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * One request on its own connection (no keep-alive pool to leave open in a
 * probe or a CLI), its answer parsed as JSON when it is JSON. Rejects on a
 * connection error, when no answer came within `timeoutMs` (default 1.5 s), or
 * when `signal` aborts. The one HTTP-JSON helper of the kits, the launcher,
 * the demos and the tests (a pooled load uses {@link HttpClient}).
 */
export function httpJson(url: string, o: JsonRequestOptions = {}): Promise<JsonReply> {
  const json = o.body !== undefined && typeof o.body !== 'string';
  const payload = json ? JSON.stringify(o.body) : (o.body as string | undefined);
  const headers: Record<string, string> = {
    ...(json ? { 'content-type': 'application/json' } : {}),
    ...(o.token ? { authorization: `Bearer ${o.token}` } : {}),
    ...o.headers,
  };
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: o.method ?? 'GET',
        headers,
        timeout: o.timeoutMs ?? 1_500,
        agent: false,
        signal: o.signal,
      },
      (res) => {
        let data = '';
        res.setEncoding('utf8').on('data', (d: string) => (data += d));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode ?? 0, body: data ? JSON.parse(data) : undefined });
          } catch {
            resolve({ status: res.statusCode ?? 0, body: data });
          }
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(payload);
  });
}

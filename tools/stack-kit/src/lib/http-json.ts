import http from 'node:http';

export interface JsonReply {
  status: number;
  /** The parsed JSON body; the raw text when it is not JSON; undefined when empty. */
  body: unknown;
}

/**
 * One request on its own connection (no keep-alive pool to leave open in a
 * probe or a CLI), its answer parsed as JSON when it is JSON. Rejects on a
 * connection error, when no answer came within `timeoutMs`, or when `signal` aborts.
 */
export function httpJson(
  url: string,
  o: { method?: 'GET' | 'POST'; body?: string; timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<JsonReply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: o.method ?? 'GET', timeout: o.timeoutMs ?? 1_500, agent: false, signal: o.signal },
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
    req.end(o.body);
  });
}

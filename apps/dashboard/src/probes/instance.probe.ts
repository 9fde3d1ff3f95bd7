import type { ServiceInstance } from '@stayline/discovery';
import { errorText, fetchJson } from './http-json';
import { InstanceHealthReport, parseInstanceHealth } from './instance-health';

/** Asks one instance's `/health/ready`; no answer in time reads as down. */
export async function probeInstance(
  i: ServiceInstance,
  timeoutMs: number,
): Promise<InstanceHealthReport> {
  if (!i.httpPort) return { health: 'unknown', breakers: [] };
  try {
    const { status, body } = await fetchJson(
      `http://${i.host}:${i.httpPort}/health/ready`,
      timeoutMs,
    );
    return { ...parseInstanceHealth(i.id, status, body), atMs: performance.now() };
  } catch (err) {
    return { health: 'down', breakers: [], error: errorText(err) };
  }
}

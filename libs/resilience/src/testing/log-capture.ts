import { createLogger } from '@stayline/observability';

/** A real logger whose JSON lines are kept in `lines` for a test to read. */
export function captureLogs(service = 'spec') {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({
    service,
    destination: { write: (line: string) => lines.push(JSON.parse(line)) },
  });
  return { logger, lines };
}

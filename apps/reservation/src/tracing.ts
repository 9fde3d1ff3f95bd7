// main's first import: the instrumentations must be in place before http, express,
// NestJS, mysql2 and ioredis load (see libs/observability/src/tracing.ts)
import { startTracing } from '@stayline/observability/tracing';

startTracing('reservation');

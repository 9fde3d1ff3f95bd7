import fs from 'node:fs';
import path from 'node:path';
import {
  BadRequestException,
  Body,
  Controller,
  ForbiddenException,
  Get,
  HttpCode,
  Inject,
  NotFoundException,
  Param,
  Post,
  Query,
  Res,
} from '@nestjs/common';
import { counter } from '@stayline/observability';
import type { Response } from 'express';
import { z } from 'zod';
import { DashboardConfig } from '../config';
import { DASHBOARD_CONFIG } from '../topology/topology-collector';
import { OtlpFormatError, readOtlpTraces } from './otlp';
import { TraceStore, type TraceQuery } from './trace-store';

/** The page and its script and style: files beside it, read once (the CSP runs no inline script). */
const file = (name: string) => fs.readFileSync(path.join(__dirname, '..', 'page', name), 'utf8');
const PAGE = { html: file('traces.html'), js: file('traces.js'), css: file('traces.css') };

const received = counter(
  'stayline_dashboard_spans_received_total',
  'Spans received over OTLP by outcome (stored, rejected: malformed).',
  ['outcome'],
);
received.inc({ outcome: 'stored' }, 0);
received.inc({ outcome: 'rejected' }, 0);

const TRACE_ID = /^[0-9a-f]{32}$/i;

const listQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(500).default(50),
    minDurationMs: z.coerce.number().min(0).max(3_600_000).optional(),
    service: z
      .string()
      .regex(/^[\w.-]{1,64}$/)
      .optional(),
    error: z.enum(['true', 'false']).optional(),
  })
  .strict();

/**
 * Where the services' traces are looked at, without a trace backend to
 * install: the dashboard receives OTLP/HTTP JSON itself (`POST /v1/traces`,
 * the path every OTLP exporter posts to), keeps the recent traces in memory
 * ({@link TraceStore}) and draws one request's waterfall at
 * `/dashboard/traces?id=<trace id>`. The receiver is not under `/dashboard`,
 * so the gateway never routes it; the traces themselves (internal addresses,
 * statements) are shown in the `full` view only.
 */
@Controller()
export class TracesController {
  constructor(
    private readonly store: TraceStore,
    @Inject(DASHBOARD_CONFIG) private readonly c: DashboardConfig,
  ) {}

  /** OTLP/HTTP, JSON encoding: answers an `ExportTraceServiceResponse`. */
  @Post('v1/traces')
  @HttpCode(200)
  receive(@Body() body: unknown) {
    try {
      const { spans, rejected } = readOtlpTraces(body);
      this.store.add(spans);
      received.inc({ outcome: 'stored' }, spans.length);
      received.inc({ outcome: 'rejected' }, rejected);
      return rejected
        ? {
            partialSuccess: {
              rejectedSpans: rejected,
              errorMessage: 'spans without valid ids or times',
            },
          }
        : {};
    } catch (err) {
      if (err instanceof OtlpFormatError) throw new BadRequestException(err.message);
      throw err;
    }
  }

  @Get('dashboard/traces')
  page(@Res() res: Response): void {
    res.status(200).type('html').set('Cache-Control', 'no-cache').send(PAGE.html);
  }

  @Get('dashboard/traces/app.js')
  script(@Res() res: Response): void {
    res.status(200).type('js').set('Cache-Control', 'no-cache').send(PAGE.js);
  }

  @Get('dashboard/traces/app.css')
  style(@Res() res: Response): void {
    res.status(200).type('css').set('Cache-Control', 'no-cache').send(PAGE.css);
  }

  /** The recent traces, newest first: `limit`, `minDurationMs`, `service`, `error=true`. */
  @Get('dashboard/trace-data')
  list(@Query() query: Record<string, unknown>) {
    this.fullViewOnly();
    const parsed = listQuery.safeParse(query);
    if (!parsed.success)
      throw new BadRequestException(
        parsed.error.issues.map((i) => `${i.path.join('.') || 'query'}: ${i.message}`).join('; '),
      );
    const q: TraceQuery = {
      limit: parsed.data.limit,
      minDurationMs: parsed.data.minDurationMs,
      service: parsed.data.service,
      errorOnly: parsed.data.error === 'true',
    };
    return { traces: this.store.list(q), stored: this.store.size };
  }

  /** One trace's spans in waterfall order. */
  @Get('dashboard/trace-data/:traceId')
  trace(@Param('traceId') traceId: string) {
    this.fullViewOnly();
    if (!TRACE_ID.test(traceId))
      throw new BadRequestException(
        'traceId: 32 hexadecimal digits (the X-Request-Id of a request through the gateway)',
      );
    const spans = this.store.get(traceId);
    if (!spans)
      throw new NotFoundException(
        `no trace ${traceId} here: not sampled, not arrived yet (about a second), or older than the ${this.store.maxTraces} kept`,
      );
    return { traceId: traceId.toLowerCase(), spans };
  }

  private fullViewOnly(): void {
    if (this.c.DASHBOARD_VIEW !== 'full')
      throw new ForbiddenException(
        'traces are shown in the full view only (DASHBOARD_VIEW=full): they carry internal addresses and statements',
      );
  }
}

import fs from 'node:fs';
import path from 'node:path';
import { Controller, Get, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { TopologyCollector } from '../topology/topology-collector';
import { EventStream } from './event-stream';

/** The page: one self-contained file (inline CSS and JS, no build step), read once. */
const PAGE = fs.readFileSync(path.join(__dirname, '..', 'page', 'dashboard.html'), 'utf8');

/**
 * The live topology page, read-only and public through the gateway's
 * `/dashboard` route: the page, the snapshot as JSON, and the event stream.
 */
@Controller('dashboard')
export class DashboardController {
  constructor(
    private readonly collector: TopologyCollector,
    private readonly stream: EventStream,
  ) {}

  @Get()
  page(@Res() res: Response): void {
    res.status(200).type('html').set('Cache-Control', 'no-cache').send(PAGE);
  }

  /** The snapshot now and the timeline (scripts, tests). */
  @Get('snapshot')
  snapshot() {
    return { snapshot: this.collector.snapshot(), timeline: this.collector.events() };
  }

  @Get('events')
  events(@Req() req: Request, @Res() res: Response): void {
    this.stream.open(req, res);
  }
}

import fs from 'node:fs';
import path from 'node:path';
import { Controller, Get, Inject, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { DashboardConfig } from '../config';
import { viewEvents, viewSnapshot } from '../topology/public-view';
import { DASHBOARD_CONFIG, TopologyCollector } from '../topology/topology-collector';
import { EventStream } from './event-stream';

/** The page: one self-contained file (inline CSS and JS, no build step), read once. */
const PAGE = fs.readFileSync(path.join(__dirname, '..', 'page', 'dashboard.html'), 'utf8');

/**
 * The live topology page, read-only and public through the gateway's
 * `/dashboard` route: the page, the snapshot as JSON, and the event stream.
 * Both data routes go through the configured view (DASHBOARD_VIEW), so a
 * `public` dashboard sends no address, version or raw error anywhere.
 */
@Controller('dashboard')
export class DashboardController {
  constructor(
    private readonly collector: TopologyCollector,
    private readonly stream: EventStream,
    @Inject(DASHBOARD_CONFIG) private readonly c: DashboardConfig,
  ) {}

  @Get()
  page(@Res() res: Response): void {
    res.status(200).type('html').set('Cache-Control', 'no-cache').send(PAGE);
  }

  /** The snapshot now and the timeline (scripts, tests), in the configured view. */
  @Get('snapshot')
  snapshot() {
    return {
      snapshot: viewSnapshot(this.c.DASHBOARD_VIEW, this.collector.snapshot()),
      timeline: viewEvents(this.c.DASHBOARD_VIEW, this.collector.events()),
    };
  }

  @Get('events')
  events(@Req() req: Request, @Res() res: Response): void {
    this.stream.open(req, res);
  }
}

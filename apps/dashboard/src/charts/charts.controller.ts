import fs from 'node:fs';
import path from 'node:path';
import {
  BadRequestException,
  Controller,
  Get,
  Inject,
  NotFoundException,
  Param,
  Query,
  Res,
} from '@nestjs/common';
import type { Response } from 'express';
import { DashboardConfig } from '../config';
import { ChartsSource, type ChartsAnswer } from './chart-data';
import { CHART_RANGES, DEFAULT_CHART_RANGE, isChartRange } from './chart-queries';

export const CHARTS_SOURCE = Symbol('CHARTS_SOURCE');

export function chartsSourceOf(c: DashboardConfig): ChartsSource {
  return new ChartsSource(c.PROMETHEUS_URL, c.PROMETHEUS_TIMEOUT_MS, c.DASHBOARD_VIEW);
}

const PAGE_DIR = path.join(__dirname, '..', 'page');

/**
 * The files the page loads besides itself, by name: uPlot from node_modules (no
 * CDN), the page's chart script and style, and the slowest requests' script. Read once; nothing else is served.
 */
const ASSETS: Readonly<Record<string, { type: string; file: string }>> = {
  'uplot.js': {
    type: 'application/javascript',
    file: require.resolve('uplot/dist/uPlot.iife.min.js'),
  },
  'uplot.css': { type: 'text/css', file: require.resolve('uplot/dist/uPlot.min.css') },
  'charts.js': { type: 'application/javascript', file: path.join(PAGE_DIR, 'charts.js') },
  'charts.css': { type: 'text/css', file: path.join(PAGE_DIR, 'charts.css') },
  // the slowest recent requests, each a link to its trace (apps/dashboard/src/traces)
  'slow-requests.js': {
    type: 'application/javascript',
    file: path.join(PAGE_DIR, 'slow-requests.js'),
  },
};
const LOADED = new Map(
  Object.entries(ASSETS).map(([name, a]) => [
    name,
    { type: a.type, body: fs.readFileSync(a.file) },
  ]),
);

/**
 * The page's charts: `GET /dashboard/charts?range=15m` runs the dashboard's fixed
 * PromQL set against Prometheus (chart-queries.ts) and answers 200 even when
 * Prometheus is down (`prometheus.status`: `unreachable`, `not-configured`), so
 * the page says so instead of failing. A client chooses a range by name, nothing
 * else: any other parameter is a 400.
 */
@Controller('dashboard')
export class ChartsController {
  constructor(@Inject(CHARTS_SOURCE) private readonly source: ChartsSource) {}

  @Get('charts')
  async charts(
    @Query() query: Record<string, unknown>,
    @Res({ passthrough: true }) res: Response,
  ): Promise<ChartsAnswer> {
    const extra = Object.keys(query).filter((k) => k !== 'range');
    if (extra.length)
      throw new BadRequestException(
        `unknown parameter ${extra.join(', ')}: the charts take only range (the queries are fixed)`,
      );
    const range = query.range ?? DEFAULT_CHART_RANGE;
    if (!isChartRange(range))
      throw new BadRequestException(
        `range: one of ${Object.keys(CHART_RANGES).join(', ')} (got ${JSON.stringify(range)})`,
      );
    res.set('Cache-Control', 'no-store');
    return this.source.charts(range);
  }

  @Get('assets/:name')
  asset(@Param('name') name: string, @Res() res: Response): void {
    const asset = Object.prototype.hasOwnProperty.call(ASSETS, name) ? LOADED.get(name) : undefined;
    if (!asset) throw new NotFoundException();
    res.status(200).type(asset.type).set('Cache-Control', 'no-cache').send(asset.body);
  }
}

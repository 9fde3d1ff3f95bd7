import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  OnApplicationBootstrap,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import { DashboardConfig } from '../config';
import { viewEvents, viewSnapshot } from '../topology/public-view';
import { DASHBOARD_CONFIG, TopologyCollector } from '../topology/topology-collector';

/** One server-sent event: `event: <name>` and its JSON on one `data:` line. */
export function sseMessage(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/**
 * The pages' live feed (server-sent events), in the configured view
 * (DASHBOARD_VIEW): on connect the snapshot and the timeline so far, then every new snapshot (`snapshot`) and new events
 * (`timeline`) as they happen. `X-Accel-Buffering: no` stops nginx from
 * buffering the stream; a comment line every SSE_KEEPALIVE_MS keeps it open
 * through nginx's read timeout and tells the page the server is there.
 */
@Injectable()
export class EventStream implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly clients = new Set<Response>();
  private keepAlive?: NodeJS.Timeout;
  private unsubscribe?: () => void;

  constructor(
    private readonly collector: TopologyCollector,
    @Inject(DASHBOARD_CONFIG) private readonly c: DashboardConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.unsubscribe = this.collector.subscribe((snapshot, events) => {
      const message =
        sseMessage('snapshot', viewSnapshot(this.c.DASHBOARD_VIEW, snapshot)) +
        (events.length ? sseMessage('timeline', viewEvents(this.c.DASHBOARD_VIEW, events)) : '');
      for (const res of this.clients) res.write(message);
    });
    this.keepAlive = setInterval(() => {
      for (const res of this.clients) res.write(': keep-alive\n\n');
    }, this.c.SSE_KEEPALIVE_MS);
    this.keepAlive.unref();
  }

  /** Streams to one page until it goes away. */
  open(req: Request, res: Response): void {
    res.status(200).set({
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.flushHeaders();
    // a page that lost the stream (instance stopped, nginx reload) comes back after 1 s
    res.write('retry: 1000\n\n');
    res.write(
      sseMessage('snapshot', viewSnapshot(this.c.DASHBOARD_VIEW, this.collector.snapshot())),
    );
    res.write(sseMessage('timeline', viewEvents(this.c.DASHBOARD_VIEW, this.collector.events())));
    this.clients.add(res);
    req.on('close', () => this.clients.delete(res));
  }

  /** Ends every stream, so the server can close; the pages reconnect through the gateway. */
  beforeApplicationShutdown(): void {
    this.unsubscribe?.();
    clearInterval(this.keepAlive);
    for (const res of this.clients) res.end();
    this.clients.clear();
  }
}

import { Controller, Get, Res } from '@nestjs/common';
import type { AgentHealth } from '@stayline/contracts';
import type { Response } from 'express';
import { FailoverAgent } from '../agent/failover-agent';

/**
 * The agent's health: `/health/live` carries its role (`leader` or `follower`,
 * read by `npm run stack:status`), `/health` everything it knows: epoch,
 * topology, the primary as it sees it, the last failover and switchover with
 * their timings, semi-sync (`degraded` while no replica can acknowledge) and,
 * on the leader, its `concerns`: the nodes kept out of the topology and why
 * (errant GTIDs on a fenced node, a pending rejoin, ...).
 */
@Controller('health')
export class HealthController {
  constructor(private readonly agent: FailoverAgent) {}

  @Get('live')
  live() {
    const s = this.agent.status();
    return { status: 'ok', role: s.role, agentId: s.agentId, epoch: s.epoch };
  }

  @Get('ready')
  ready(@Res({ passthrough: true }) res: Response) {
    const s = this.agent.status();
    if (!s.topology) res.status(503);
    return { status: s.topology ? 'ok' : 'not ready', role: s.role, epoch: s.epoch };
  }

  @Get()
  all(): AgentHealth {
    const s = this.agent.status();
    return { status: s.degraded.length ? 'degraded' : 'up', ...s };
  }
}

import {
  BadRequestException,
  Body,
  ConflictException,
  Controller,
  HttpCode,
  Logger,
  Post,
} from '@nestjs/common';
import { type Caller, CurrentUser, RequireAdmin } from '@stayline/identity';
import { who } from '@stayline/service-runtime';
import { IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { FailoverAgent, NotLeaderError } from '../agent/failover-agent';
import { SwitchoverRefused } from '../failover/switchover.use-case';

const NODE_NAME = /^[\w.-]{1,64}$/;

export class SwitchoverDto {
  /** The replica to promote; default the most advanced healthy one. */
  @IsOptional()
  @IsString()
  @Matches(NODE_NAME)
  target?: string;
}

export class AddNodeDto {
  @IsString()
  @Matches(NODE_NAME)
  name!: string;

  @IsString()
  @MaxLength(255)
  host!: string;

  @IsInt()
  @Min(1)
  @Max(65535)
  port!: number;
}

/**
 * Admin routes of the leader agent, for an operator: an access token with the
 * `admin` scope (401 without a valid one, 403 `insufficient_scope` for a user's);
 * a follower answers 409 naming the leader.
 */
@Controller('admin')
@RequireAdmin()
export class AdminController {
  private readonly logger = new Logger('AgentAdmin');

  constructor(private readonly agent: FailoverAgent) {}

  /** Planned switchover: zero lost writes, writes paused for the switch only. */
  @Post('switchover')
  @HttpCode(200)
  switchover(@Body() body: SwitchoverDto, @CurrentUser() caller?: Caller) {
    this.logger.log(`switchover to ${body.target ?? 'the best replica'} asked by ${who(caller)}`);
    return this.agent.plannedSwitchover(body.target).catch(mapErrors);
  }

  /** Registers a replica built at run time; it joins the topology once it replicates. */
  @Post('nodes')
  @HttpCode(202)
  async addNode(@Body() body: AddNodeDto, @CurrentUser() caller?: Caller) {
    this.logger.log(`node ${body.name} added by ${who(caller)}`);
    await this.agent
      .addNode({ name: body.name, host: body.host, port: body.port })
      .catch(mapErrors);
    return { accepted: body.name };
  }
}

function mapErrors(err: unknown): never {
  if (err instanceof NotLeaderError)
    throw new ConflictException({
      error: 'not_leader',
      message: err.message,
      leaderId: err.leaderId,
    });
  if (err instanceof SwitchoverRefused)
    throw new BadRequestException({ error: 'switchover_refused', message: err.message });
  throw err;
}

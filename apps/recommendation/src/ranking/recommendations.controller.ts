import { Controller, Get, Query, UseGuards } from '@nestjs/common';
import { BearerAuthGuard, type Caller, CurrentUser } from '@stayline/identity';
import { RecommendationQueryDto } from './dto/rank.dto';
import { RankingService } from './ranking.service';

/**
 * What the model knows of the caller, read through the gateway: the route needs
 * a token, and the profile shown is always the token's subject's.
 */
@Controller('api/recommendations')
@UseGuards(BearerAuthGuard)
export class RecommendationsController {
  constructor(private readonly ranking: RankingService) {}

  @Get()
  overview(@Query() q: RecommendationQueryDto, @CurrentUser() caller: Caller) {
    return this.ranking.overview(caller.userId, q.limit);
  }
}

import { Controller, Get, Query } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { RankResponse, RecommendationPatterns } from '@stayline/contracts';
import { RankDto, RecommendationQueryDto } from './dto/rank.dto';
import { RankingService } from './ranking.service';

@Controller()
export class RankingController {
  constructor(private readonly ranking: RankingService) {}

  /** Called by reservation, over TCP, for every listing page. */
  @MessagePattern(RecommendationPatterns.rank)
  rank(@Payload() dto: RankDto): Promise<RankResponse> {
    return this.ranking.rank(dto);
  }

  @Get('api/recommendations')
  overview(@Query() q: RecommendationQueryDto) {
    return this.ranking.overview(q.userId, q.limit);
  }
}

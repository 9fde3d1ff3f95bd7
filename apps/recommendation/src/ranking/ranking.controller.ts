import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { RankResponse, RecommendationPatterns } from '@stayline/contracts';
import { CallableBy } from '@stayline/service-runtime';
import { RankDto } from './dto/rank.dto';
import { RankingService } from './ranking.service';

@Controller()
export class RankingController {
  constructor(private readonly ranking: RankingService) {}

  /** Called by reservation, over TCP, for every listing page, for the user it serves. */
  @MessagePattern(RecommendationPatterns.rank)
  @CallableBy('reservation')
  rank(@Payload() dto: RankDto): Promise<RankResponse> {
    return this.ranking.rank(dto);
  }
}

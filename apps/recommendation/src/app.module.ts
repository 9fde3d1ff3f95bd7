import { DynamicModule, Module } from '@nestjs/common';
import { faultInjectorProvider, platformImports } from '@stayline/service-runtime';
import { RecommendationConfig } from './config';
import { LearningModule } from './learning/learning.module';
import { CreateAffinity1764000000000 } from './migrations/1764000000000-create-affinity';
import { ExactIdentifiers1765000000000 } from './migrations/1765000000000-exact-identifiers';
import { RankingController } from './ranking/ranking.controller';
import { RankingService, RECOMMENDATION_FAULTS } from './ranking/ranking.service';
import { RecommendationsController } from './ranking/recommendations.controller';

export const RECOMMENDATION_MIGRATIONS = [
  CreateAffinity1764000000000,
  ExactIdentifiers1765000000000,
];

@Module({})
export class AppModule {
  static forRoot(config: RecommendationConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ...platformImports(config),
        LearningModule.forRoot({
          redis: config,
          consumerName: config.INSTANCE_ID,
        }),
      ],
      controllers: [RankingController, RecommendationsController],
      providers: [faultInjectorProvider(RECOMMENDATION_FAULTS, config), RankingService],
    };
  }
}

import { DynamicModule, Module } from '@nestjs/common';
import { DatabaseModule } from '@stayline/database';
import { ObservabilityModule } from '@stayline/observability';
import { RecommendationConfig } from './config';
import { LearningModule } from './learning/learning.module';
import { CreateAffinity1764000000000 } from './migrations/1764000000000-create-affinity';
import { RankingController } from './ranking/ranking.controller';
import { RankingService } from './ranking/ranking.service';

export const RECOMMENDATION_MIGRATIONS = [CreateAffinity1764000000000];

@Module({})
export class AppModule {
  static forRoot(config: RecommendationConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ObservabilityModule.forRoot({ service: 'recommendation', level: config.LOG_LEVEL }),
        DatabaseModule.forRootAsync({
          useFactory: () => ({
            database: config.DB_NAME,
            user: config.DB_USER,
            password: config.DB_PASSWORD,
            topology: { epoch: 0, primary: config.DB_PRIMARY, replicas: config.DB_REPLICAS },
          }),
        }),
        LearningModule.forRoot({
          sentinels: config.REDIS_SENTINELS,
          masterName: config.REDIS_MASTER_NAME,
          consumerName: config.INSTANCE_ID,
        }),
      ],
      controllers: [RankingController],
      providers: [RankingService],
    };
  }
}

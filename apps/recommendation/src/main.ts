/**
 * recommendation: ranks listings for a user (TCP `recommendation.rank`, called
 * by reservation as a non-essential dependency) and learns from reservation
 * events. See docs/patterns/circuit-breaker.md for why its absence is survivable.
 */
import { runService } from '@stayline/service-runtime';
import { AppModule, RECOMMENDATION_MIGRATIONS } from './app.module';
import { recommendationConfig } from './config';

void runService(
  'recommendation',
  recommendationConfig,
  (c) => AppModule.forRoot(c),
  RECOMMENDATION_MIGRATIONS,
);

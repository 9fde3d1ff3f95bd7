/**
 * recommendation: ranks listings for a user (TCP `recommendation.rank`, called
 * by reservation as a non-essential dependency), learns from reservation
 * events, and shows callers what it knows of them (`GET /api/recommendations`,
 * the token's user). See docs/patterns/circuit-breaker.md for why its absence is survivable.
 */
import './tracing';
import { runService } from '@stayline/service-runtime';
import { AppModule, RECOMMENDATION_MIGRATIONS } from './app.module';
import { recommendationConfig } from './config';

void runService(
  'recommendation',
  recommendationConfig,
  (c) => AppModule.forRoot(c),
  RECOMMENDATION_MIGRATIONS,
);

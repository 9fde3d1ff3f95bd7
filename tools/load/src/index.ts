/**
 * @stayline/load: the open-model load generator behind `npm run load`
 * (docs/load.md): arrivals at a constant rate at fixed intended times,
 * latency from those times in HdrHistograms, the stayline mix as users with
 * tokens. The bench can drive its own rates with the same scheduler.
 */
export * from './lib/open-load';
export * from './lib/knee';
export * from './lib/http-sender';
export * from './lib/options';
export * from './lib/report';
export * from './lib/traffic';

/**
 * Suites that run the same cases on any stack behind its gateway (the native
 * stack here, the compose stack in infra/compose): `describe` blocks for jest
 * spec files, not for the stack's own processes.
 */
export * from './target';
export * from './native-target';
export * from './authorization';
export * from './hostile';

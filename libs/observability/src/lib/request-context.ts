import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * What a request carries through every hop and log line: its id, and (once the
 * request has written) the consistency token that read-your-writes routing uses.
 * `consistencyToken` may be set on the current context after a write.
 */
export interface RequestContext {
  readonly requestId: string;
  consistencyToken?: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

/**
 * The request context of the code that is running, kept by AsyncLocalStorage so
 * it follows awaits, timers and callbacks without being passed around.
 */
export const RequestContext = {
  /** Runs `fn` (and all async work it starts) inside `context`. */
  run<T>(context: RequestContext, fn: () => T): T {
    return storage.run(context, fn);
  },

  /** The context of the running code, or undefined outside any request. */
  current(): RequestContext | undefined {
    return storage.getStore();
  },

  /** The running request's id, or undefined outside any request. */
  requestId(): string | undefined {
    return storage.getStore()?.requestId;
  },
};

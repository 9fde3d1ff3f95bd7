/**
 * The few logger methods the coordination code calls. A pino logger (such as
 * `createLogger` from @stayline/observability) fits as it is.
 */
export interface CoordinationLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const noop = () => undefined;

/** Logs nothing: the default when no logger is given. */
export const silentLogger: CoordinationLogger = {
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
};

/**
 * Why a fetch did not happen, in terms safe to answer a client with: the
 * message names what went wrong in general, never an address the service
 * resolved or connected to. `detail` holds the specifics for the service's
 * own log.
 */

/** The request names a target scrap refuses outright (answered 400 `forbidden_target`). */
export type ForbiddenReason =
  'invalid_url' | 'scheme_not_allowed' | 'credentials_in_url' | 'blocked_address';

/** The URL was acceptable but the page could not be read (answered 422 `unfetchable_url`). */
export type UnfetchableReason =
  | 'blocked_address'
  | 'dns_failed'
  | 'timeout'
  | 'too_large'
  | 'bad_redirect'
  | 'http_error'
  | 'not_html'
  | 'connection_failed'
  | 'bad_response';

export class ForbiddenTargetError extends Error {
  constructor(
    readonly reason: ForbiddenReason,
    message: string,
    readonly detail: string = message,
  ) {
    super(message);
  }
}

/** The page, not the caller, is at fault, or its host could not be reached in time. */
export class FetchFailedError extends Error {
  constructor(
    readonly reason: UnfetchableReason,
    message: string,
    readonly detail: string = message,
  ) {
    super(message);
  }
}

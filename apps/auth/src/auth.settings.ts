/** Injection token of the settings the controllers read. */
export const AUTH_SETTINGS = Symbol('AUTH_SETTINGS');

export interface AuthSettings {
  trustedProxyHops: number;
}

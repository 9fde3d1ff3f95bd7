import { Controller, Get, HttpCode, Inject, Logger, Post } from '@nestjs/common';
import { type Caller, CurrentUser, RequireAdmin, type SigningKeySet } from '@stayline/identity';
import { who } from '@stayline/service-runtime';
import { KEY_STORE, KeyStore } from '../keys/key-store';

/**
 * The signing keys, for an operator (on the service's own port, never routed
 * by the gateway; an access token with the `admin` scope).
 */
@Controller('admin/keys')
@RequireAdmin()
export class KeysAdminController {
  private readonly logger = new Logger('KeysAdmin');

  constructor(@Inject(KEY_STORE) private readonly keys: KeyStore) {}

  /** Which key signs, which are published and when each retires; no key material. */
  @Get()
  list() {
    return view(this.keys.current(), this.keys.source);
  }

  /** Rotation: a new key signs from now on; the old one stays published until its tokens expire. */
  @Post('rotate')
  @HttpCode(200)
  async rotate(@CurrentUser() caller?: Caller) {
    const set = await this.keys.rotate();
    this.logger.log(`keys rotated by ${who(caller)}: ${set.current().kid} signs`);
    return view(set, this.keys.source);
  }
}

function view(set: SigningKeySet, source: string) {
  const now = Date.now();
  const iso = (ms?: number) => (ms === undefined ? undefined : new Date(ms).toISOString());
  return {
    source,
    signing: set.current().kid,
    keys: set.published(now).map((k) => ({
      kid: k.kid,
      createdAt: iso(k.createdAt),
      retireAt: iso(k.retireAt),
    })),
  };
}

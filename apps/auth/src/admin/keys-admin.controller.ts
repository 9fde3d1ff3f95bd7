import { Controller, Get, HttpCode, Inject, Post, UseGuards } from '@nestjs/common';
import type { SigningKeySet } from '@stayline/identity';
import { AdminTokenGuard } from '@stayline/service-runtime';
import { KEY_STORE, KeyStore } from '../keys/key-store';

/**
 * The signing keys, for an operator (on the service's own port, never routed
 * by the gateway; `Authorization: Bearer <ADMIN_TOKEN>`).
 */
@Controller('admin/keys')
@UseGuards(AdminTokenGuard)
export class KeysAdminController {
  constructor(@Inject(KEY_STORE) private readonly keys: KeyStore) {}

  /** Which key signs, which are published and when each retires; no key material. */
  @Get()
  list() {
    return view(this.keys.current(), this.keys.source);
  }

  /** Rotation: a new key signs from now on; the old one stays published until its tokens expire. */
  @Post('rotate')
  @HttpCode(200)
  async rotate() {
    return view(await this.keys.rotate(), this.keys.source);
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

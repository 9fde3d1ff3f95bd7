import {
  Body,
  Controller,
  Get,
  Header,
  HttpCode,
  Inject,
  Post,
  Req,
  Res,
  UseGuards,
} from '@nestjs/common';
import { BearerAuthGuard, Caller, CurrentUser } from '@stayline/identity';
import type { Request, Response } from 'express';
import { AUTH_SETTINGS, AuthSettings } from '../auth.settings';
import { KEY_STORE, KeyStore } from '../keys/key-store';
import { clientAddress } from './client-address';
import { TokenRequestDto } from './dto/token-request.dto';
import { LoginUseCase, TooManyLoginAttempts } from './login.use-case';

@Controller('api/auth')
export class TokensController {
  constructor(
    private readonly login: LoginUseCase,
    @Inject(KEY_STORE) private readonly keys: KeyStore,
    @Inject(AUTH_SETTINGS) private readonly settings: AuthSettings,
  ) {}

  /** Username and password -> an access token (`{ access_token, token_type, expires_in }`). */
  @Post('token')
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  async token(
    @Body() dto: TokenRequestDto,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ) {
    try {
      return await this.login.execute(
        dto.username,
        dto.password,
        clientAddress(req, this.settings.trustedProxyHops),
      );
    } catch (err) {
      if (err instanceof TooManyLoginAttempts)
        res.setHeader('Retry-After', String(err.retryAfterS));
      throw err;
    }
  }

  /** The public keys that verify the tokens (RFC 7517): every key not retired, never a private part. */
  @Get('.well-known/jwks.json')
  @Header('Cache-Control', 'public, max-age=60')
  jwks() {
    return this.keys.current().jwks();
  }

  /** Who the token says the caller is: verified by this service like any other would. */
  @Get('me')
  @UseGuards(BearerAuthGuard)
  me(@CurrentUser() caller: Caller) {
    return {
      sub: caller.userId,
      scope: caller.scopes.join(' '),
      exp: caller.expiresAt / 1000,
      kid: caller.keyId,
    };
  }
}

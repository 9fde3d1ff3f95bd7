import { Body, Controller, Header, HttpCode, Inject, Logger, Post } from '@nestjs/common';
import { type Caller, CurrentUser, RequireAdmin, TokenIssuer } from '@stayline/identity';
import { IsIdentifier, who } from '@stayline/service-runtime';
import { ArrayUnique, IsArray, IsIn, IsOptional, IsString, Length } from 'class-validator';

/** The scopes an operator may put in a token it issues. */
export const ISSUABLE_SCOPES = ['user', 'admin'] as const;

/** `POST /admin/tokens`: whom the token is for and what it may do (default `["user"]`). */
export class IssueTokenDto {
  @IsString() @Length(1, 64) @IsIdentifier() sub!: string;

  @IsOptional()
  @IsArray()
  @ArrayUnique()
  @IsIn(ISSUABLE_SCOPES, { each: true })
  scopes?: string[];
}

/**
 * Tokens issued by an operator for any user id, without a password: what the
 * test kits, the bench and the load generator use to act as many users (the
 * demo directory has three). On the service's own port, never routed by the
 * gateway, for an operator: an access token with the `admin` scope, which
 * already lets its holder change flags and fail over the database, for 15
 * minutes at most. A token it issues lives no longer than any other.
 */
@Controller('admin/tokens')
@RequireAdmin()
export class TokensAdminController {
  private readonly logger = new Logger('TokensAdmin');

  constructor(@Inject(TokenIssuer) private readonly issuer: TokenIssuer) {}

  @Post()
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  async issue(@Body() dto: IssueTokenDto, @CurrentUser() caller?: Caller) {
    const scopes = dto.scopes ?? ['user'];
    const issued = await this.issuer.issue(dto.sub, scopes);
    // tokens for users are what benches ask for by the thousand; an operator's is logged always
    const line = `token for ${dto.sub} (${scopes.join(' ')}) issued by ${who(caller)}`;
    if (scopes.includes('admin')) this.logger.log(line);
    else this.logger.debug(line);
    return issued;
  }
}

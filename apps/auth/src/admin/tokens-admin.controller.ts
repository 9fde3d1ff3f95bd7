import { Body, Controller, Header, HttpCode, Inject, Post, UseGuards } from '@nestjs/common';
import { TokenIssuer } from '@stayline/identity';
import { AdminTokenGuard, IsIdentifier } from '@stayline/service-runtime';
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
 * gateway, behind `Authorization: Bearer <ADMIN_TOKEN>`: whoever holds that
 * token can already change flags and fail over the database.
 */
@Controller('admin/tokens')
@UseGuards(AdminTokenGuard)
export class TokensAdminController {
  constructor(@Inject(TokenIssuer) private readonly issuer: TokenIssuer) {}

  @Post()
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  issue(@Body() dto: IssueTokenDto) {
    return this.issuer.issue(dto.sub, dto.scopes ?? ['user']);
  }
}

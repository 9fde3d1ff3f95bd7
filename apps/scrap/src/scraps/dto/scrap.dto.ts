import { IsUrl, Length } from 'class-validator';

/** The user is never in a body or a query: it is the token's subject (docs/patterns/identity.md). */
export class CreateScrapDto {
  @IsUrl(
    { protocols: ['http', 'https'], require_protocol: true, require_tld: false },
    { message: 'url must be an http(s) URL' },
  )
  @Length(1, 2048)
  url!: string;
}

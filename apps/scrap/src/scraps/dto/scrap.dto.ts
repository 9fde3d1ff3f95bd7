import { IsIdentifier } from '@stayline/service-runtime';
import { IsString, IsUrl, Length } from 'class-validator';

export class CreateScrapDto {
  @IsString() @Length(1, 64) @IsIdentifier() userId!: string;

  @IsUrl(
    { protocols: ['http', 'https'], require_protocol: true, require_tld: false },
    { message: 'url must be an http(s) URL' },
  )
  @Length(1, 2048)
  url!: string;
}

export class ScrapQueryDto {
  @IsString() @Length(1, 64) @IsIdentifier() userId!: string;
}

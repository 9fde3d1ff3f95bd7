import { IsIdentifier } from '@stayline/service-runtime';
import { IsString, Length } from 'class-validator';

/** `POST /api/auth/token`: the resource owner's credentials (a JSON body). */
export class TokenRequestDto {
  @IsString() @Length(1, 64) @IsIdentifier() username!: string;

  @IsString() @Length(1, 1024) password!: string;
}

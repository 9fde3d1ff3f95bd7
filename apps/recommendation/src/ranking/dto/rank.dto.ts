import type { RankCandidate, RankRequest } from '@stayline/contracts';
import { IsIdentifier } from '@stayline/service-runtime';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsInt,
  IsNumber,
  IsOptional,
  IsString,
  Length,
  Max,
  Min,
  ValidateNested,
} from 'class-validator';

export class RankCandidateDto implements RankCandidate {
  @IsString() @Length(1, 64) id!: string;
  @IsString() @Length(1, 64) city!: string;
  @IsNumber() @Min(0) pricePerNight!: number;
}

export class RankDto implements RankRequest {
  @IsString() @Length(1, 64) @IsIdentifier() userId!: string;

  @IsArray()
  @ArrayMaxSize(500)
  @ValidateNested({ each: true })
  @Type(() => RankCandidateDto)
  candidates!: RankCandidateDto[];
}

/** The user is never in the query: it is the token's subject (docs/patterns/identity.md). */
export class RecommendationQueryDto {
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(50)
  limit?: number;
}

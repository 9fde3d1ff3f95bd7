import { Type } from 'class-transformer';
import { IsIdentifier } from '@stayline/service-runtime';
import { IsInt, IsOptional, IsString, Length, Matches, Max, Min } from 'class-validator';

const DAY = /^\d{4}-\d{2}-\d{2}$/;

export class CreateReservationDto {
  @IsString() @Length(1, 64) @IsIdentifier() listingId!: string;
  @IsString() @Length(1, 64) @IsIdentifier() userId!: string;
  @Matches(DAY, { message: 'checkIn must be a date as YYYY-MM-DD' }) checkIn!: string;
  @Matches(DAY, { message: 'checkOut must be a date as YYYY-MM-DD' }) checkOut!: string;
  @IsInt() @Min(1) @Max(16) guests!: number;
}

export class ReservationQueryDto {
  @IsString() @Length(1, 64) @IsIdentifier() userId!: string;
}

export class ListingQueryDto {
  @IsOptional() @IsString() @Length(1, 64) city?: string;
  @IsOptional() @IsString() @Length(1, 64) @IsIdentifier() userId?: string;
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(100) limit?: number;
}

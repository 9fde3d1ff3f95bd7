import { Type } from 'class-transformer';
import { IsIdentifier } from '@stayline/service-runtime';
import { IsInt, IsOptional, IsString, Length, Matches, Max, Min } from 'class-validator';

const DAY = /^\d{4}-\d{2}-\d{2}$/;

// The user is never in a body or a query: it is the token's subject
// (docs/patterns/identity.md), and a `userId` sent anyway is refused (400) as any unknown field.

/** A booking for the caller. */
export class CreateReservationDto {
  @IsString() @Length(1, 64) @IsIdentifier() listingId!: string;
  @Matches(DAY, { message: 'checkIn must be a date as YYYY-MM-DD' }) checkIn!: string;
  @Matches(DAY, { message: 'checkOut must be a date as YYYY-MM-DD' }) checkOut!: string;
  @IsInt() @Min(1) @Max(16) guests!: number;
}

/** The reservation routes take no query: any parameter (`userId` too) is a 400. */
export class NoQueryDto {}

/** The listing page, ranked for the caller. */
export class ListingQueryDto {
  @IsOptional() @IsString() @Length(1, 64) city?: string;
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(100) limit?: number;
}

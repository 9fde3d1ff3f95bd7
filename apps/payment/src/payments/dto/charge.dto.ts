import type { ChargeRequest, PaymentByReservation } from '@stayline/contracts';
import { IsInt, IsOptional, IsString, Length, Matches, Max, Min } from 'class-validator';

export class ChargeDto implements ChargeRequest {
  @IsString() @Length(1, 64) reservationId!: string;
  @IsString() @Length(1, 64) userId!: string;
  @IsInt() @Min(1) @Max(100_000_000) amountCents!: number;
  @Matches(/^[A-Z]{3}$/, { message: 'currency must be a 3-letter ISO code such as USD' })
  currency!: string;
}

export class ReservationRefDto implements PaymentByReservation {
  @IsString() @Length(1, 64) reservationId!: string;
}

/** The user is never in the query: it is the token's subject (docs/patterns/identity.md). */
export class PaymentQueryDto {
  /** Only the payment of this reservation (one item, or none). */
  @IsOptional() @IsString() @Length(1, 64) reservationId?: string;
}

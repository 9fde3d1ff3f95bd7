import type { ChargeRequest, PaymentByReservation } from '@stayline/contracts';
import { IsInt, IsString, Length, Matches, Max, Min } from 'class-validator';

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

export class PaymentQueryDto {
  @IsString() @Length(1, 64) reservationId!: string;
}

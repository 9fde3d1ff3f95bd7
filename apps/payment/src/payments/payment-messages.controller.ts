import { Controller, NotFoundException } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { PaymentPatterns, PaymentView } from '@stayline/contracts';
import { ChargeDto, ReservationRefDto } from './dto/charge.dto';
import { PaymentsService } from './payments.service';

/**
 * TCP for the reservation service, which charges and refunds on a user's
 * behalf: the user is in the charge it sends, not in a token.
 */
@Controller()
export class PaymentMessagesController {
  constructor(private readonly payments: PaymentsService) {}

  @MessagePattern(PaymentPatterns.charge)
  charge(@Payload() dto: ChargeDto): Promise<PaymentView> {
    return this.payments.charge(dto);
  }

  @MessagePattern(PaymentPatterns.refund)
  refund(@Payload() dto: ReservationRefDto): Promise<PaymentView> {
    return this.payments.refund(dto.reservationId);
  }

  @MessagePattern(PaymentPatterns.get)
  async lookup(@Payload() dto: ReservationRefDto): Promise<PaymentView> {
    const p = await this.payments.byReservation(dto.reservationId);
    if (!p) throw new NotFoundException(`no payment for reservation ${dto.reservationId}`);
    return p;
  }
}

import { Controller, NotFoundException } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { PaymentPatterns, PaymentView } from '@stayline/contracts';
import { CallableBy } from '@stayline/service-runtime';
import { ChargeDto, ReservationRefDto } from './dto/charge.dto';
import { PaymentsService } from './payments.service';

/**
 * TCP for the reservation service, which charges and refunds on a user's
 * behalf: the user is in the charge it sends, not in a token. Only messages
 * signed by reservation are handled (docs/security.md, "Between services").
 */
@Controller()
export class PaymentMessagesController {
  constructor(private readonly payments: PaymentsService) {}

  @MessagePattern(PaymentPatterns.charge)
  @CallableBy('reservation')
  charge(@Payload() dto: ChargeDto): Promise<PaymentView> {
    return this.payments.charge(dto);
  }

  @MessagePattern(PaymentPatterns.refund)
  @CallableBy('reservation')
  refund(@Payload() dto: ReservationRefDto): Promise<PaymentView> {
    return this.payments.refund(dto.reservationId);
  }

  @MessagePattern(PaymentPatterns.get)
  @CallableBy('reservation')
  async lookup(@Payload() dto: ReservationRefDto): Promise<PaymentView> {
    const p = await this.payments.byReservation(dto.reservationId);
    if (!p) throw new NotFoundException(`no payment for reservation ${dto.reservationId}`);
    return p;
  }
}

import { Controller, Get, NotFoundException, Param, ParseUUIDPipe, Query } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { PaymentPatterns, PaymentView } from '@stayline/contracts';
import { ChargeDto, PaymentQueryDto, ReservationRefDto } from './dto/charge.dto';
import { PaymentsService } from './payments.service';

/** HTTP for the gateway (read-only) and TCP for the reservation service. */
@Controller()
export class PaymentsController {
  constructor(private readonly payments: PaymentsService) {}

  @Get('api/payments/:id')
  get(@Param('id', new ParseUUIDPipe()) id: string): Promise<PaymentView> {
    return this.payments.byId(id);
  }

  @Get('api/payments')
  async find(@Query() q: PaymentQueryDto): Promise<{ items: PaymentView[] }> {
    const p = await this.payments.byReservation(q.reservationId);
    return { items: p ? [p] : [] };
  }

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

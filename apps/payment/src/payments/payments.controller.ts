import { Controller, Get, Param, ParseUUIDPipe, Query, UseGuards } from '@nestjs/common';
import { PaymentView } from '@stayline/contracts';
import { BearerAuthGuard, type Caller, CurrentUser } from '@stayline/identity';
import { PaymentQueryDto } from './dto/charge.dto';
import { PaymentsService } from './payments.service';

/**
 * A caller's own payments, read through the gateway: every route needs a
 * token, the user is its subject, and another user's payment answers as one
 * that does not exist (404, or an empty list).
 */
@Controller('api/payments')
@UseGuards(BearerAuthGuard)
export class PaymentsController {
  constructor(private readonly payments: PaymentsService) {}

  @Get(':id')
  get(
    @Param('id', new ParseUUIDPipe()) id: string,
    @CurrentUser() caller: Caller,
  ): Promise<PaymentView> {
    return this.payments.byId(id, caller.userId);
  }

  /** The caller's payments, newest first; with `reservationId`, that reservation's only. */
  @Get()
  async find(
    @Query() q: PaymentQueryDto,
    @CurrentUser() caller: Caller,
  ): Promise<{ items: PaymentView[] }> {
    if (q.reservationId === undefined) return this.payments.byUser(caller.userId);
    const p = await this.payments.byReservation(q.reservationId, caller.userId);
    return { items: p ? [p] : [] };
  }
}

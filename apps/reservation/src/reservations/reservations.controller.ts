import {
  BadRequestException,
  Body,
  Controller,
  Get,
  Headers,
  Param,
  ParseUUIDPipe,
  Post,
  Query,
  Res,
  UseGuards,
} from '@nestjs/common';
import { BearerAuthGuard, type Caller, CurrentUser } from '@stayline/identity';
import type { Response } from 'express';
import { CreateReservationDto, NoQueryDto } from './dto/reservation.dto';
import { IdempotencyKeyInUseError } from './idempotency';
import { ReservationsService } from './reservations.service';

const IDEMPOTENCY_KEY = /^[\w.:-]{8,128}$/;

/**
 * A caller's own reservations: every route needs a token, the user is its
 * subject, and another user's reservation answers 404 as one that does not exist.
 */
@Controller('api/reservations')
@UseGuards(BearerAuthGuard)
export class ReservationsController {
  constructor(private readonly reservations: ReservationsService) {}

  /** Books a stay; requires an `Idempotency-Key` header (8-128 characters). */
  @Post()
  async create(
    @Body() dto: CreateReservationDto,
    @Query() _none: NoQueryDto,
    @CurrentUser() caller: Caller,
    @Headers('idempotency-key') key: string | undefined,
    @Res({ passthrough: true }) res: Response,
  ) {
    if (!key || !IDEMPOTENCY_KEY.test(key)) {
      throw new BadRequestException({
        error: 'idempotency_key_required',
        message:
          'send an Idempotency-Key header (8-128 letters, digits, . _ : -) so a retried booking is never made twice',
      });
    }
    const result = await this.reservations.book(dto, caller.userId, key).catch((err: unknown) => {
      if (err instanceof IdempotencyKeyInUseError)
        res.setHeader('Retry-After', String(err.retryAfterS));
      throw err;
    });
    res.status(result.status);
    if (result.replayed) res.setHeader('Idempotent-Replayed', 'true');
    return result.reservation;
  }

  @Get(':id')
  get(
    @Param('id', new ParseUUIDPipe()) id: string,
    @Query() _none: NoQueryDto,
    @CurrentUser() caller: Caller,
  ) {
    return this.reservations.view(id, caller.userId);
  }

  @Get()
  list(@Query() _none: NoQueryDto, @CurrentUser() caller: Caller) {
    return this.reservations.byUser(caller.userId);
  }

  /** 200 with the reservation CANCELLED; 202 with it CANCELLING when the refund is finished in the background. */
  @Post(':id/cancel')
  async cancel(
    @Param('id', new ParseUUIDPipe()) id: string,
    @Query() _none: NoQueryDto,
    @CurrentUser() caller: Caller,
    @Res({ passthrough: true }) res: Response,
  ) {
    const { status, reservation } = await this.reservations.cancel(id, caller.userId);
    res.status(status);
    return reservation;
  }
}

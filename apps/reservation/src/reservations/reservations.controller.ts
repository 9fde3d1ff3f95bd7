import {
  BadRequestException,
  Body,
  Controller,
  Get,
  Headers,
  HttpCode,
  Param,
  ParseUUIDPipe,
  Post,
  Query,
  Res,
} from '@nestjs/common';
import type { Response } from 'express';
import { CreateReservationDto, ReservationQueryDto } from './dto/reservation.dto';
import { ReservationsService } from './reservations.service';

const IDEMPOTENCY_KEY = /^[\w.:-]{8,128}$/;

@Controller('api/reservations')
export class ReservationsController {
  constructor(private readonly reservations: ReservationsService) {}

  /** Books a stay; requires an `Idempotency-Key` header (8-128 characters). */
  @Post()
  async create(
    @Body() dto: CreateReservationDto,
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
    const result = await this.reservations.book(dto, key);
    res.status(result.status);
    if (result.replayed) res.setHeader('Idempotent-Replayed', 'true');
    return result.reservation;
  }

  @Get(':id')
  get(@Param('id', new ParseUUIDPipe()) id: string) {
    return this.reservations.view(id);
  }

  @Get()
  list(@Query() q: ReservationQueryDto) {
    return this.reservations.byUser(q.userId);
  }

  @Post(':id/cancel')
  @HttpCode(200)
  cancel(@Param('id', new ParseUUIDPipe()) id: string) {
    return this.reservations.cancel(id);
  }
}

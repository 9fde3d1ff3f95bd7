import { Controller, Get, Query, UseGuards } from '@nestjs/common';
import { BearerAuthGuard, type Caller, CurrentUser } from '@stayline/identity';
import { ListingQueryDto } from '../reservations/dto/reservation.dto';
import { ListingPage, ListingsService } from './listings.service';

/** Listings, ranked for the caller (the token's subject) when recommendation answers. */
@Controller('api/listings')
@UseGuards(BearerAuthGuard)
export class ListingsController {
  constructor(private readonly listings: ListingsService) {}

  @Get()
  list(@Query() q: ListingQueryDto, @CurrentUser() caller: Caller): Promise<ListingPage> {
    return this.listings.list({ ...q, userId: caller.userId });
  }
}

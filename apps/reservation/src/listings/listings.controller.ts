import { Controller, Get, Query } from '@nestjs/common';
import { ListingQueryDto } from '../reservations/dto/reservation.dto';
import { ListingPage, ListingsService } from './listings.service';

@Controller('api/listings')
export class ListingsController {
  constructor(private readonly listings: ListingsService) {}

  @Get()
  list(@Query() q: ListingQueryDto): Promise<ListingPage> {
    return this.listings.list(q);
  }
}

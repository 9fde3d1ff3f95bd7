import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  ParseUUIDPipe,
  Post,
  UseFilters,
  UseGuards,
} from '@nestjs/common';
import { BearerAuthGuard, type Caller, CurrentUser } from '@stayline/identity';
import { CreateScrapDto } from './dto/scrap.dto';
import { ScrapRefusalFilter } from './scrap-refusal';
import { ScrapsService } from './scraps.service';

/**
 * A caller's own saved pages: every route needs a token, the user is its
 * subject, and another user's scrap answers 404 as one that does not exist.
 */
@Controller('api/scraps')
@UseGuards(BearerAuthGuard)
@UseFilters(ScrapRefusalFilter)
export class ScrapsController {
  constructor(private readonly scraps: ScrapsService) {}

  @Post()
  create(@Body() dto: CreateScrapDto, @CurrentUser() caller: Caller) {
    return this.scraps.create(caller.userId, dto.url);
  }

  @Get()
  list(@CurrentUser() caller: Caller) {
    return this.scraps.list(caller.userId);
  }

  @Delete(':id')
  @HttpCode(204)
  remove(
    @Param('id', new ParseUUIDPipe()) id: string,
    @CurrentUser() caller: Caller,
  ): Promise<void> {
    return this.scraps.remove(id, caller.userId);
  }
}

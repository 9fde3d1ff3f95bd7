import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  ParseUUIDPipe,
  Post,
  Query,
  UseFilters,
} from '@nestjs/common';
import { CreateScrapDto, ScrapQueryDto } from './dto/scrap.dto';
import { ScrapRefusalFilter } from './scrap-refusal';
import { ScrapsService } from './scraps.service';

@Controller('api/scraps')
@UseFilters(ScrapRefusalFilter)
export class ScrapsController {
  constructor(private readonly scraps: ScrapsService) {}

  @Post()
  create(@Body() dto: CreateScrapDto) {
    return this.scraps.create(dto.userId, dto.url);
  }

  @Get()
  list(@Query() q: ScrapQueryDto) {
    return this.scraps.list(q.userId);
  }

  @Delete(':id')
  @HttpCode(204)
  remove(@Param('id', new ParseUUIDPipe()) id: string): Promise<void> {
    return this.scraps.remove(id);
  }
}

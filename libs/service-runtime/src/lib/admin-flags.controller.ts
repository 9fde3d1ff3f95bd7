import {
  BadRequestException,
  Body,
  Controller,
  Delete,
  DynamicModule,
  Get,
  Inject,
  Module,
  Param,
  Put,
  UseGuards,
} from '@nestjs/common';
import {
  COORDINATION_BACKEND,
  CoordinationBackend,
  FeatureFlags,
  FLAG_NAME,
  flagValueSchema,
} from '@stayline/coordination';
import { ADMIN_TOKEN, AdminTokenGuard } from './admin-token.guard';

function flagName(name: string): string {
  if (!FLAG_NAME.test(name)) {
    throw new BadRequestException({
      error: 'validation_failed',
      message: `not a flag name: ${name} (letters, digits, . _ -)`,
    });
  }
  return name;
}

/**
 * Feature flags, changed centrally at run time: a write is acknowledged once a
 * Redis replica has it, and every instance of every service applies it within
 * milliseconds, with no restart. See docs/patterns/coordinator.md.
 */
@Controller('admin/flags')
@UseGuards(AdminTokenGuard)
export class AdminFlagsController {
  constructor(
    @Inject(COORDINATION_BACKEND) private readonly backend: CoordinationBackend,
    private readonly flags: FeatureFlags,
  ) {}

  @Get()
  list() {
    return this.flags.snapshot();
  }

  /** Body: `{ "kind": "boolean", "enabled": false }`, `{ "kind": "number", "value": 250 }` or `{ "kind": "percentage", "percent": 10 }`. */
  @Put(':name')
  async set(@Param('name') name: string, @Body() body: unknown) {
    const parsed = flagValueSchema.safeParse(body);
    if (!parsed.success) {
      throw new BadRequestException({
        error: 'validation_failed',
        message:
          'a flag is {"kind":"boolean","enabled":true|false}, {"kind":"number","value":N} or {"kind":"percentage","percent":0-100}',
      });
    }
    const version = await this.backend.flagStore().write(flagName(name), parsed.data);
    return { name, value: parsed.data, version };
  }

  @Delete(':name')
  async remove(@Param('name') name: string) {
    const version = await this.backend.flagStore().write(flagName(name), null);
    return { name, value: null, version };
  }
}

@Module({})
export class AdminModule {
  static forRoot(token: string): DynamicModule {
    return {
      module: AdminModule,
      controllers: [AdminFlagsController],
      providers: [{ provide: ADMIN_TOKEN, useValue: token }, AdminTokenGuard],
    };
  }
}

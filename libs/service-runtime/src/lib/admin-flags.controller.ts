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
  ServiceUnavailableException,
  UseGuards,
} from '@nestjs/common';
import {
  COORDINATION_BACKEND,
  CoordinationBackend,
  FeatureFlags,
  FLAG_NAME,
  type FlagValue,
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
    const version = await this.write(flagName(name), parsed.data);
    return { name, value: parsed.data, version };
  }

  @Delete(':name')
  async remove(@Param('name') name: string) {
    const version = await this.write(flagName(name), null);
    return { name, value: null, version };
  }

  /**
   * A write the store did not acknowledge (no replica had it in time, or the
   * store did not answer) may still take effect later: a 503 that says so, so
   * the operator reads the flags back before trying again.
   */
  private async write(name: string, value: FlagValue | null): Promise<number> {
    try {
      return await this.backend.flagStore().write(name, value);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new ServiceUnavailableException({
        error: 'flag_write_unconfirmed',
        message:
          `flag ${name} not acknowledged (${reason}): it may or may not take effect; ` +
          'read the flags back (GET /admin/flags) and write it again',
      });
    }
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

import {
  BadRequestException,
  Body,
  Controller,
  Delete,
  DynamicModule,
  Get,
  Inject,
  Logger,
  Module,
  Param,
  Put,
  ServiceUnavailableException,
} from '@nestjs/common';
import {
  COORDINATION_BACKEND,
  CoordinationBackend,
  FeatureFlags,
  FLAG_NAME,
  type FlagValue,
  flagValueSchema,
} from '@stayline/coordination';
import { type Caller, CurrentUser, RequireAdmin } from '@stayline/identity';

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
 * milliseconds, with no restart. See docs/patterns/coordinator.md. An
 * operator's route: an access token with the `admin` scope (the verifier and
 * guard of `CallerIdentityModule`); the gateway never routes it.
 */
@Controller('admin/flags')
@RequireAdmin()
export class AdminFlagsController {
  private readonly logger = new Logger('AdminFlags');

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
  async set(@Param('name') name: string, @Body() body: unknown, @CurrentUser() caller?: Caller) {
    const parsed = flagValueSchema.safeParse(body);
    if (!parsed.success) {
      throw new BadRequestException({
        error: 'validation_failed',
        message:
          'a flag is {"kind":"boolean","enabled":true|false}, {"kind":"number","value":N} or {"kind":"percentage","percent":0-100}',
      });
    }
    const version = await this.write(flagName(name), parsed.data);
    this.logger.log(`flag ${name} set to ${JSON.stringify(parsed.data)} by ${who(caller)}`);
    return { name, value: parsed.data, version };
  }

  @Delete(':name')
  async remove(@Param('name') name: string, @CurrentUser() caller?: Caller) {
    const version = await this.write(flagName(name), null);
    this.logger.log(`flag ${name} removed by ${who(caller)}`);
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

/** Who did it, for the log: the operator's user id and the token's id. */
export function who(caller: Caller | undefined): string {
  return caller ? `${caller.userId} (token ${caller.tokenId})` : 'an unknown caller';
}

/** The flags' admin routes; the guard comes from `CallerIdentityModule` (global). */
@Module({})
export class AdminModule {
  static forRoot(): DynamicModule {
    return { module: AdminModule, controllers: [AdminFlagsController] };
  }
}

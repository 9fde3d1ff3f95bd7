import { ServiceUnavailableException } from '@nestjs/common';
import type { CoordinationBackend, FeatureFlags, FlagStore } from '@stayline/coordination';
import { FlagWriteNotDurableError } from '@stayline/coordination';
import { AdminFlagsController } from './admin-flags.controller';

function controller(write: FlagStore['write']): AdminFlagsController {
  const store = { write } as unknown as FlagStore;
  const backend = { flagStore: () => store } as unknown as CoordinationBackend;
  return new AdminFlagsController(backend, {} as FeatureFlags);
}

describe('AdminFlagsController', () => {
  it('answers an acknowledged write with its version', async () => {
    const c = controller(async () => 7);
    await expect(c.set('checkout.v2', { kind: 'boolean', enabled: true })).resolves.toEqual({
      name: 'checkout.v2',
      value: { kind: 'boolean', enabled: true },
      version: 7,
    });
  });

  it.each([
    ['no replica acknowledged it', new FlagWriteNotDurableError('checkout.v2', 500)],
    ['the store did not answer', new Error('Command timed out')],
  ])('answers 503 with an unknown outcome when %s', async (_why, err) => {
    const c = controller(async () => {
      throw err;
    });
    const thrown = await c.set('checkout.v2', { kind: 'boolean', enabled: true }).catch((e) => e);
    expect(thrown).toBeInstanceOf(ServiceUnavailableException);
    const body = (thrown as ServiceUnavailableException).getResponse() as Record<string, string>;
    expect(body.error).toBe('flag_write_unconfirmed');
    expect(body.message).toMatch(/may or may not take effect/);
    expect(body.message).toContain(err.message);
    await expect(c.remove('checkout.v2')).rejects.toBeInstanceOf(ServiceUnavailableException);
  });
});

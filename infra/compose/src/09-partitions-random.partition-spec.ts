/**
 * A short randomised run (`npm run partitions` with a fixed seed, a few
 * minutes): a schedule of partitions, one-way cuts, pauses and kills under
 * bookings, each healed and settled, then the checker. A failure names the
 * seed, so the same schedule can be played again.
 */
import { summary } from './lib/checker';
import { ComposeStack } from './lib/compose-stack';
import { runSchedule } from './lib/schedule';

const MINUTES = Number(process.env.STAYLINE_PARTITION_MINUTES ?? 3);
const SEED = Number(process.env.STAYLINE_PARTITION_SEED ?? 20261204);

jest.setTimeout((MINUTES + 8) * 60_000);

describe(`a randomised run of faults (${MINUTES} min, seed ${SEED})`, () => {
  it('loses no acknowledged booking, duplicates none, never has two primaries', async () => {
    const r = await runSchedule(ComposeStack.fromEnv(), {
      minutes: MINUTES,
      seed: SEED,
      say: (line) => console.log(line),
    });
    console.log(`${r.faults.length} faults, seed ${r.seed}\n${summary(r)}`);
    expect(r.violations).toEqual([]);
    expect(r.faults.length).toBeGreaterThan(0);
    expect(r.acknowledged).toBeGreaterThan(10);
    expect(r.lost).toBe(0);
    expect(r.duplicated).toBe(0);
    expect(r.twoPrimaryWindows).toBe(0);
  });
});

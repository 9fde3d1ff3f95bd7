import { BadRequestException, ForbiddenException } from '@nestjs/common';
import type { DashboardConfig } from '../config';
import { TracesController } from './traces.controller';
import { TraceStore } from './trace-store';

const controller = (view: 'public' | 'full') =>
  new TracesController(new TraceStore(), { DASHBOARD_VIEW: view } as DashboardConfig);

describe('TracesController', () => {
  it('shows traces in the full view only: spans carry internal addresses and statements', () => {
    const pub = controller('public');
    expect(() => pub.list({})).toThrow(ForbiddenException);
    expect(() => pub.trace('a'.repeat(32))).toThrow(ForbiddenException);
    expect(controller('full').list({})).toEqual({ traces: [], stored: 0 });
  });

  it('still receives spans in the public view (the receiver is never routed by the gateway)', () => {
    expect(controller('public').receive({ resourceSpans: [] })).toEqual({});
  });

  it('answers 400 for a query it does not understand, naming the field', () => {
    const full = controller('full');
    for (const q of [{ limit: '0' }, { limit: 'many' }, { service: 'a b' }, { other: '1' }])
      expect(() => full.list(q)).toThrow(BadRequestException);
    expect(() => full.list({ minDurationMs: '-1' })).toThrow(/minDurationMs/);
    expect(() => full.trace('xyz')).toThrow(BadRequestException);
    expect(() => full.receive([])).toThrow(BadRequestException);
  });
});

import { CircuitState, type IBreaker } from 'cockatiel';

/**
 * Extends a cockatiel breaker to need `trials` successful trial calls, not one,
 * before the circuit is trusted again. cockatiel closes after the first
 * successful half-open call; the next `trials - 1` calls are then on probation:
 * one failure among them re-opens the circuit at once, and `onTrialsPassed`
 * fires when all have succeeded.
 */
export class TrialBreaker implements IBreaker {
  private probation = 0;

  constructor(
    private readonly inner: IBreaker,
    private readonly trials: number,
    private readonly onTrialsPassed: () => void,
  ) {}

  /** @inheritdoc */
  get state(): unknown {
    return this.inner.state;
  }

  set state(value: unknown) {
    this.inner.state = value;
  }

  /** Trial calls still to succeed after the first one (0 when not on probation). */
  get trialsLeft(): number {
    return this.probation;
  }

  /** @inheritdoc */
  success(state: CircuitState): void {
    this.inner.success(state);
    if (state === CircuitState.HalfOpen) this.probation = this.trials - 1;
    else if (this.probation > 0) this.probation--;
    else return;
    if (this.probation === 0) this.onTrialsPassed();
  }

  /** @inheritdoc */
  failure(state: CircuitState): boolean {
    const open = this.inner.failure(state);
    if (state === CircuitState.HalfOpen) this.probation = 0;
    if (this.probation === 0) return open;
    this.probation = 0;
    return true;
  }
}

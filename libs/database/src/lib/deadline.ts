/**
 * Races `work` against a timer. On timeout, `onTimeout` must stop the work (in
 * practice: destroy its connection, so a frozen node costs one timeout, not a
 * hung request) and returns the error to reject with. `ms <= 0` means no deadline.
 */
export function withDeadline<T>(work: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  if (!(ms > 0) || !Number.isFinite(ms)) return work;
  return new Promise<T>((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      work.catch(() => undefined); // it fails later, once its connection is gone; nobody waits for it
      reject(onTimeout());
    }, ms);
    timer.unref();
    work.then(
      (value) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

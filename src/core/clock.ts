/** Time as a port: the service reads it only through a Clock so that tests can move it. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock that only moves when told to. */
export class ManualClock implements Clock {
  constructor(private t: number) {}
  now(): number {
    return this.t;
  }
  set(t: number): void {
    if (t < this.t) throw new Error(`a manual clock does not go back (${new Date(t).toISOString()} < ${new Date(this.t).toISOString()})`);
    this.t = t;
  }
}

/** Resolves after the event loop's next turn (I/O that waits gets its go first): long work in slices. */
export const nextTurn = (): Promise<void> => new Promise((done) => setImmediate(done));

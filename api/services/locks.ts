/**
 * Changes to one run are serialised inside this process (two stops racing, a retried start, a
 * job measuring a run a client is stopping). Across replicas nothing is locked: docs/SCALING.md
 * says how each write stays safe without it.
 */
export class RunLocks {
  private readonly locks = new Map<string, Promise<unknown>>();

  /** Runs `fn` once every earlier change to `runId` in this process has settled. */
  exclusive<T>(runId: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(runId) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const settled = next.catch(() => undefined);
    this.locks.set(runId, settled);
    void settled.then(() => {
      if (this.locks.get(runId) === settled) this.locks.delete(runId);
    });
    return next;
  }

  /** `exclusive` over several run ids at once, taken in sorted order so that two batches cannot wait on each other. */
  exclusiveAll<T>(runIds: readonly string[], fn: () => Promise<T>): Promise<T> {
    const ids = [...new Set(runIds)].sort();
    const take = (k: number): Promise<T> => (k === ids.length ? fn() : this.exclusive(ids[k] as string, () => take(k + 1)));
    return take(0);
  }
}

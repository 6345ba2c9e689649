/**
 * The live stream: one query per second for all viewers together, whatever their number. Each
 * tick reads the last 10 s of `power` points and sends each viewer the ones not sent before
 * (points may land a little late; the overlap catches them, the memory of sent keys drops
 * duplicates). The timer runs only while someone watches.
 */
import { logger } from '../../common/log.js';
import type { LivePoint, LiveRepository } from '../repo/live.js';

const log = logger('live');

export type Viewer = (points: LivePoint[]) => void;

export class LiveHub {
  private readonly viewers = new Set<Viewer>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private readonly sent = new Map<string, number>();
  queries = 0;

  constructor(
    private readonly repo: LiveRepository,
    private readonly periodMs = 1000,
    private readonly windowMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  subscribe(viewer: Viewer): () => void {
    this.viewers.add(viewer);
    if (!this.timer) {
      this.timer = setInterval(() => void this.tick(), this.periodMs);
      this.timer.unref();
    }
    return () => {
      this.viewers.delete(viewer);
      if (this.viewers.size === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    };
  }

  get viewerCount(): number {
    return this.viewers.size;
  }

  async tick(): Promise<void> {
    if (this.running || this.viewers.size === 0) return; // a slow query skips a tick, never stacks
    this.running = true;
    try {
      this.queries++;
      const now = this.now();
      const points = await this.repo.recentPoints(this.windowMs, now);
      const fresh = points.filter((p) => {
        const key = `${p.host}\u0000${p.source}\u0000${p.t}`;
        if (this.sent.has(key)) return false;
        this.sent.set(key, p.t);
        return true;
      });
      for (const [key, t] of this.sent) if (t < now - 3 * this.windowMs) this.sent.delete(key);
      if (fresh.length > 0) for (const viewer of this.viewers) viewer(fresh);
    } catch (e) {
      log.once('tick', 'warn', 'live query failed; viewers keep what they have', { error: e });
    } finally {
      this.running = false;
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.viewers.clear();
  }
}

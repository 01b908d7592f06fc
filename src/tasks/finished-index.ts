/**
 * The finished tasks of the registry, indexed so that forgetting them costs O(1) amortised per
 * task however many the registry keeps: by expiry — one queue per TTL, since tasks with the same
 * TTL expire in the order they ended — and by owner (a queue and a count each), for eviction at
 * the registry's bound. A task forgotten one way stays in the other queue until it is met there
 * at the head and dropped (`live` says whether it is still registered).
 */
import { Fifo } from './fifo.js';

export interface FinishedTask {
  readonly id: string;
  readonly owner?: string;
  readonly limits: { readonly task_result_ttl: number };
  endedAt?: number;
}

interface Held<T> {
  queue: Fifo<{ task: T; seq: number }>;
  /** Its tasks still registered. */
  count: number;
}

export class FinishedIndex<T extends FinishedTask> {
  private readonly byTtl = new Map<number, Fifo<T>>();
  private readonly byOwner = new Map<string | undefined, Held<T>>();
  /** The order tasks were added in: of two callers holding as many, the one whose oldest came first. */
  private seq = 0;

  constructor(private readonly live: (task: T) => boolean) {}

  /** A task that has just ended (or was restored as ended), in the order they ended. */
  add(task: T): void {
    const ttl = task.limits.task_result_ttl;
    let expiring = this.byTtl.get(ttl);
    if (!expiring) this.byTtl.set(ttl, (expiring = new Fifo()));
    expiring.push(task);
    let held = this.byOwner.get(task.owner);
    if (!held) this.byOwner.set(task.owner, (held = { queue: new Fifo(), count: 0 }));
    held.queue.push({ task, seq: this.seq++ });
    held.count++;
  }

  /** The task is no longer registered (it expired, or was evicted). */
  removed(task: T): void {
    const held = this.byOwner.get(task.owner);
    if (held && --held.count === 0) this.byOwner.delete(task.owner);
  }

  /** Takes out and gives the registered tasks whose TTL has run out by `now`. */
  expired(now: number): T[] {
    const out: T[] = [];
    for (const [ttl, queue] of this.byTtl) {
      for (let t = queue.peek(); t !== undefined; t = queue.peek()) {
        if (this.live(t) && now - (t.endedAt ?? now) <= ttl * 1000) break;
        queue.shift();
        if (this.live(t)) out.push(t);
      }
      if (queue.length === 0) this.byTtl.delete(ttl);
    }
    return out;
  }

  /**
   * The task to evict: the oldest of the caller holding the most finished tasks (of callers
   * holding as many, the one whose oldest came first), so that one busy caller cannot push
   * everyone else's results out before their TTL. O(callers).
   */
  nextToEvict(): T | undefined {
    let pick: { task: T; seq: number } | undefined;
    let most = 0;
    for (const held of this.byOwner.values()) {
      let head = held.queue.peek();
      while (head && !this.live(head.task)) {
        held.queue.shift();
        head = held.queue.peek();
      }
      if (!head) continue;
      if (held.count > most || (held.count === most && pick && head.seq < pick.seq)) {
        pick = head;
        most = held.count;
      }
    }
    return pick?.task;
  }
}

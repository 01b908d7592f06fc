/**
 * What keeps the server's memory close to what it holds. Measured with bench/throughput.ts
 * (200 MB streamed through one task with a 32 MiB cap): peak RSS 205 MB before, about 130 MB
 * after; every number below comes from heaptrack and /proc/PID/smaps on that run.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * WebAssembly is compiled by Liftoff only, never tiered up to TurboFan. The bash grammar's lexer
 * is one very large function: optimising it took about 30 MB of compiler memory in V8's worker
 * threads (which glibc keeps) and a burst of CPU during the first commands. Liftoff code parses
 * a command as fast for everything a person types, and about a third slower for 8 KiB of words.
 * Process-wide; the other WebAssembly here is ssh2's poly1305, used only for chacha20 hosts.
 * Must run before the first module is compiled.
 */
export function compileWasmWithoutTierUp(): void {
  setFlagsFromString('--liftoff-only');
}

/** One young-generation collection per this many bytes received. */
export const RECLAIM_EVERY_BYTES = 1 << 20;

type Collect = (options: { type: 'minor' }) => void;

/**
 * Collects the garbage of SSH reception as it comes. ssh2 makes a new decipher and a new buffer
 * for every 32 KiB packet; V8 frees them only when its young generation fills with the small
 * objects that hold them, by which time tens of MB of packet buffers are waiting in glibc's heap.
 * A minor collection (a scavenge: it visits only what is alive, so it costs little when most of
 * it is this garbage) after every MiB received keeps that to about a MiB.
 */
export class ReceiveReclaimer {
  private pending = 0;
  private collect: Collect | undefined;

  constructor(
    private readonly everyBytes = RECLAIM_EVERY_BYTES,
    private readonly resolveCollect: () => Collect = exposeGc,
  ) {}

  noteReceived(bytes: number): void {
    this.pending += bytes;
    if (this.pending < this.everyBytes) return;
    this.pending = 0;
    this.collect ??= this.resolveCollect();
    this.collect({ type: 'minor' });
  }
}

/** V8 installs gc() in contexts created after the flag is set: the server's own globals stay as they are. */
function exposeGc(): Collect {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as Collect;
}

/** The one reclaimer of the process: every SSH channel reports what it received here. */
export const receiveReclaimer = new ReceiveReclaimer();

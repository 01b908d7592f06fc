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
 * threads on Node 20 (which glibc keeps), and a parser kept hot peaked at 596 MB RSS on Node 24
 * (the Docker image's) against 110 MB with these flags; the compiler also competed with the first
 * commands for the CPU. Liftoff code parses a command as fast for everything a person types, and
 * about a third slower for 8 KiB of words. --liftoff-only implies the other two in V8's flag
 * table; they are given as well so that the result does not hang on how a V8 version applies
 * implications to flags set at run time. Process-wide: the other WebAssembly here is ssh2's
 * poly1305, used only for chacha20 hosts.
 *
 * The Docker image gives them on node's command line, and nothing sets them at run time. Any other
 * start (`node dist/cli.js`, the npm bin) gets them from cli.ts, before it loads anything that
 * compiles WebAssembly: V8 reads them when it compiles a module, and Node 20 keeps tiering up a
 * module compiled before they were set (ssh2 compiles poly1305 as it is imported).
 * createShellParser sets them too, for a process without cli.ts (tests, benchmarks).
 * Why they are not given at start everywhere: docs/architecture.md, "Where the V8 flags are set".
 */
export const WASM_FLAGS = ['--liftoff-only', '--no-wasm-tier-up', '--no-wasm-dynamic-tiering'] as const;

/** Those of WASM_FLAGS that node's command line (`execArgv`) did not give. */
export function wasmFlagsNotGiven(execArgv: readonly string[]): string[] {
  const given = new Set(execArgv.map((arg) => arg.replaceAll('_', '-')));
  return WASM_FLAGS.filter((flag) => !given.has(flag));
}

let wasmFlagsSet = false;

/** Sets those of WASM_FLAGS that node was not started with; once a process, later calls do nothing. */
export function compileWasmWithoutTierUp(): void {
  if (wasmFlagsSet) return;
  wasmFlagsSet = true;
  for (const flag of wasmFlagsNotGiven(process.execArgv)) setFlagsFromString(flag);
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
    // Called from ssh2's data handler: a V8 that refused the flag or the call must not cost output.
    try {
      this.collect ??= this.resolveCollect();
      this.collect({ type: 'minor' });
    } catch {
      this.collect = () => undefined;
    }
  }
}

/**
 * V8 reads --expose-gc only when it creates a context, to install gc() there: one context is made
 * to take it, and the flag is cleared again, so neither the server's globals nor any later context
 * or worker has it, as they would if node were started with the flag.
 */
function exposeGc(): Collect {
  setFlagsFromString('--expose-gc');
  try {
    return runInNewContext('gc') as Collect;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}

/** The one reclaimer of the process: every command's channel reports the bytes it received here. */
export const receiveReclaimer = new ReceiveReclaimer();

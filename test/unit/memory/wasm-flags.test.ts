import { describe, expect, it } from 'vitest';
import { WASM_FLAGS, wasmFlagsNotGiven } from '../../../src/memory.js';

describe('wasmFlagsNotGiven', () => {
  it('leaves all three to set at run time when node was started without them (node dist/cli.js)', () => {
    expect(wasmFlagsNotGiven([])).toEqual([...WASM_FLAGS]);
    expect(wasmFlagsNotGiven(['--enable-source-maps', '--max-old-space-size=512'])).toEqual([...WASM_FLAGS]);
  });

  it('leaves none when node was started with them, as the Docker image starts it', () => {
    expect(wasmFlagsNotGiven(['--liftoff-only', '--no-wasm-tier-up', '--no-wasm-dynamic-tiering'])).toEqual([]);
  });

  it('leaves only those missing, and knows a flag spelt with underscores', () => {
    expect(wasmFlagsNotGiven(['--liftoff-only'])).toEqual(['--no-wasm-tier-up', '--no-wasm-dynamic-tiering']);
    expect(wasmFlagsNotGiven(['--liftoff_only', '--no_wasm_tier_up'])).toEqual(['--no-wasm-dynamic-tiering']);
  });
});

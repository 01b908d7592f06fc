import { describe, expect, it } from 'vitest';
import { MESSAGE_LIMIT } from '../../../src/gateway/budget.js';
import { withinMessage } from '../../../src/gateway/fan-out.js';
import type { HostOutcome } from '../../../src/gateway/tool-contract.js';

function outcome(i: number, status: HostOutcome['status']): HostOutcome {
  return {
    alias: `host-${String(i).padStart(5, '0')}.example.internal`,
    status,
    task_id: `host-${i}:0123456789ab:1700000000000000`,
    exit_code: status === 'succeeded' ? 0 : 1,
    signal: null,
    stdout: 'x'.repeat(20),
    stderr: '',
    truncated: false,
    stdout_bytes: 20,
    stderr_bytes: 0,
    omitted_bytes: { stdout: 0, stderr: 0 },
    read_cursor: { stdout: 20, stderr: 0 },
    duration_ms: 12,
  };
}

/** The size of a tool result carrying these outcomes: the structured value and its JSON text. */
function resultSize(results: HostOutcome[]): number {
  const value = { tag: 't', results, summary: { total: 0, succeeded: 0, failed: 0, denied: 0, running: 0 }, omitted_hosts: 0 };
  const json = JSON.stringify(value);
  return Buffer.byteLength(
    JSON.stringify({ jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: json }], structuredContent: value } }),
  );
}

describe('withinMessage', () => {
  it('keeps every host when they fit', () => {
    const all = Array.from({ length: 50 }, (_, i) => outcome(i, 'succeeded'));
    expect(withinMessage(all)).toEqual({ results: all, omitted: 0 });
  });

  it('leaves succeeded hosts out first, from the last, until 5000 hosts fit one message', () => {
    const all = Array.from({ length: 5000 }, (_, i) => outcome(i, i % 100 === 7 ? 'failed' : 'succeeded'));
    const { results, omitted } = withinMessage(all);
    expect(resultSize(results)).toBeLessThanOrEqual(MESSAGE_LIMIT);
    expect(results.length + omitted).toBe(5000);
    expect(results.filter((r) => r.status === 'failed')).toHaveLength(50);
    // Kept in inventory order; the succeeded ones that stay are the first.
    const kept = results.filter((r) => r.status === 'succeeded').map((r) => r.alias);
    expect(kept).toEqual(
      all
        .filter((r) => r.status === 'succeeded')
        .slice(0, kept.length)
        .map((r) => r.alias),
    );
    expect(results.map((r) => r.alias)).toEqual([...results.map((r) => r.alias)].sort());
  });
});

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPolicy } from '../../../src/config/load-policy.js';
import { effectiveLimits, taskLimits } from '../../../src/policy/limits.js';
import { writeTree } from '../../support/policy.js';

describe('the task limits of a host', () => {
  const policy = loadPolicy(
    join(
      writeTree({
        'p.yml': [
          'limits: { max_seconds: 100 }',
          'overrides:',
          '  tags: { web: { max_seconds: 50, host_commands_per_day: 9 }, prod: { max_seconds: 30 } }',
          '  aliases: { db1: { max_output_bytes: 2048, host_commands_per_minute: 3 } }',
          '',
        ].join('\n'),
      }),
      'p.yml',
    ),
  );

  it('take the smallest value of the tags, then the alias, whatever the order of the tags', () => {
    for (const tags of [
      ['web', 'prod'],
      ['prod', 'web'],
    ]) {
      const l = effectiveLimits(policy, { alias: 'db1', tags });
      expect(l.values).toEqual({
        max_seconds: 30,
        max_output_bytes: 2048,
        max_concurrent_per_host: 4,
        task_result_ttl: 600,
        max_file_bytes: 16_777_216,
      });
      expect(l.sources).toEqual({
        max_seconds: 'tag:prod',
        max_output_bytes: 'alias:db1',
        max_concurrent_per_host: 'default',
        task_result_ttl: 'default',
        max_file_bytes: 'default',
      });
    }
  });

  it('leave out the rate limits the same overrides hold', () => {
    expect(Object.keys(effectiveLimits(policy, { alias: 'db1', tags: ['web'] }).values)).toEqual([
      'max_seconds',
      'max_output_bytes',
      'max_concurrent_per_host',
      'task_result_ttl',
      'max_file_bytes',
    ]);
  });

  it("set max_file_bytes per tag and alias like the others, and keep it out of a task's limits", () => {
    const capped = loadPolicy(
      join(
        writeTree({
          'p.yml':
            'limits: { max_file_bytes: 4096 }\noverrides:\n  tags: { web: { max_file_bytes: 1024 } }\n  aliases: { db1: { max_file_bytes: 2048 } }\n',
        }),
        'p.yml',
      ),
    );
    expect(effectiveLimits(capped, { alias: 'web1', tags: ['web'] }).values.max_file_bytes).toBe(1024);
    expect(effectiveLimits(capped, { alias: 'db1', tags: ['web'] }).sources.max_file_bytes).toBe('alias:db1');
    expect(effectiveLimits(capped, { alias: 'x', tags: [] }).values.max_file_bytes).toBe(4096);
    expect(Object.keys(taskLimits(effectiveLimits(capped, { alias: 'x', tags: [] }).values))).not.toContain('max_file_bytes');
  });
});

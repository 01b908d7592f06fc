import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { recordWriter } from '../../src/logger.js';

function capture(level = 'info') {
  const lines: string[] = [];
  const logger = pino({ name: 'sshgate', level, base: { pid: 42 } }, { write: (line: string) => void lines.push(line) });
  return { logger, lines };
}

describe('recordWriter', () => {
  it('writes the line pino writes for the same record', () => {
    const { logger, lines } = capture();
    const record = { event: 'decision', alias: 'web1', allowed: true, rules: ['a (p.yml:1:1)'], nested: { n: 1 }, gone: undefined };
    logger.child({ audit: true }).info(record, 'allowed "x"');
    recordWriter(logger, { audit: true })(record, 'allowed "x"');
    const [byPino, byWriter] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(byWriter).toEqual({ ...byPino, time: byWriter?.time });
    // Same keys in the same order; the time is the writer's own clock reading.
    expect(Object.keys(byWriter ?? {})).toEqual(Object.keys(byPino ?? {}));
    expect(lines[1]?.endsWith('}\n')).toBe(true);
    recordWriter(logger, {})({}, 'empty');
    expect(JSON.parse(lines[2] as string)).toMatchObject({ level: 30, pid: 42, name: 'sshgate', msg: 'empty' });
  });

  it('censors secrets at the top and one object down, and shows how a caller authenticated', () => {
    const { logger, lines } = capture();
    const record = { auth: 'token', token: 's3cret', target: { password: 'hunter2', host: 'h' }, list: ['passphrase'] };
    recordWriter(logger, { audit: true })(record, 'm');
    const line = lines[0] as string;
    expect(line).not.toContain('s3cret');
    expect(line).not.toContain('hunter2');
    expect(JSON.parse(line)).toMatchObject({
      auth: 'token',
      token: '[redacted]',
      target: { password: '[redacted]', host: 'h' },
      list: ['passphrase'],
    });
    // The caller's record is left as it was.
    expect(record.target.password).toBe('hunter2');
  });

  it('writes nothing when the logger is above info', () => {
    const { logger, lines } = capture('warn');
    recordWriter(logger, { audit: true })({ event: 'decision' }, 'allowed');
    expect(lines).toEqual([]);
  });
});

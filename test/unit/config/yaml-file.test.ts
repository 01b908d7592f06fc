import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { formatIssue } from '../../../src/errors.js';
import { IssueSink, readYamlFile } from '../../../src/config/yaml-file.js';
import { tempDir } from '../../support/policy.js';

function read(text: string): { sink: IssueSink; lines: string[]; file: ReturnType<typeof readYamlFile> } {
  const path = join(tempDir(), 'f.yml');
  writeFileSync(path, text);
  const sink = new IssueSink();
  const file = readYamlFile(path, 'f.yml', sink);
  return { sink, lines: sink.issues.map(formatIssue), file };
}

describe('reading a YAML file', () => {
  it('reports one tab in the indentation as one problem, at the tab', () => {
    // The example servers.yml with its 12th line indented by a tab: the parser's own report is 8
    // errors, every one after the first caused by it.
    const text = readFileSync('config/servers.yml', 'utf8').split('\n');
    text[11] = (text[11] as string).replace(/^ {4}/, '\t');
    expect(read(text.join('\n')).lines).toEqual(['f.yml:12:1: YAML syntax: Tabs are not allowed as indentation']);
  });

  it('reports the first syntax error of a file only', () => {
    const { lines } = read('a: [1, 2\nb: {c\nd: "e\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^f\.yml:\d+:\d+: YAML syntax: /);
  });

  it('still reports every unknown tag, each its own node', () => {
    expect(read('a: !x 1\nb: !y 2\n').lines).toEqual([
      expect.stringMatching(/^f\.yml:1:4: YAML: Unresolved tag: !x/),
      expect.stringMatching(/^f\.yml:2:4: YAML: Unresolved tag: !y/),
    ]);
  });
});

describe('reporting schema problems', () => {
  const Name = z
    .string()
    .max(5, 'longer than 5 characters')
    .refine((s) => !s.includes('\u0001'), 'contains a control character');
  const Schema = z.strictObject({ name: Name, port: z.int(), other: Name });

  it('gives one problem per node, the first, however many checks its value fails', () => {
    const { sink, file } = read('name: "abcdefgh\\u0001"\nport: "22"\nother: "\\u0001"\n');
    const result = Schema.safeParse(file?.data);
    expect(result.success).toBe(false);
    // zod finds four problems here: two are the same field's.
    expect(result.error?.issues).toHaveLength(4);
    sink.zod(file as NonNullable<typeof file>, [], result.error as z.ZodError);
    expect(sink.issues.map(formatIssue)).toEqual([
      'f.yml:1:7: name: longer than 5 characters',
      expect.stringMatching(/^f\.yml:2:7: port: .*expected number/),
      'f.yml:3:8: other: contains a control character',
    ]);
  });
});

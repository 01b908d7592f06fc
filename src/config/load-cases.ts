/** Loads policy test cases from a file or from every *.yml directly inside a directory. */
import { ConfigError } from '../errors.js';
import { PolicyCase } from './file-formats.js';
import { IssueSink, readYamlFile, yamlFilesAt } from './yaml-file.js';

export interface LocatedCase extends PolicyCase {
  /** `policies/tests/default.yml:14:3` */
  source: string;
}

export function loadPolicyCases(path: string): LocatedCase[] {
  const sink = new IssueSink();
  const cases: LocatedCase[] = [];
  for (const f of yamlFilesAt(path)) {
    const file = readYamlFile(f, f, sink);
    if (!file) continue;
    if (!Array.isArray(file.data)) {
      sink.at(
        file,
        [],
        'expected a list of cases: - { alias: web1, command: "uptime", expect: allow } (or read: PATH, write: PATH instead of command:)',
      );
      continue;
    }
    file.data.forEach((raw, index) => {
      const parsed = PolicyCase.safeParse(raw);
      if (!parsed.success) {
        sink.zod(file, [index], parsed.error);
        return;
      }
      const node = file.doc.getIn([index], true) as { range?: [number, number, number] } | undefined;
      const pos = file.lines.linePos(node?.range?.[0] ?? 0);
      cases.push({ ...parsed.data, source: `${file.display}:${pos.line}:${pos.col}` });
    });
  }
  if (sink.issues.length > 0) throw new ConfigError(sink.issues);
  return cases;
}

/** `sshgate audit verify PATH`: walks the audit file's hash chain and says where it breaks. */
import { readFileSync } from 'node:fs';
import { verifyAuditText } from '../audit/audit-file.js';
import type { Io } from './context.js';

export function auditVerifyCommand(path: string, io: Io): number {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    io.err(`sshgate: cannot read the audit file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}\n`);
    return 2;
  }
  const v = verifyAuditText(text);
  if (!v.ok) {
    io.out(`${path}:${v.line}: TAMPERED — ${v.reason} (${v.records} records before it verify)\n`);
    return 1;
  }
  io.out(`${path}: ${v.records} records, chain intact; last hash ${v.lastHash}\n`);
  return 0;
}

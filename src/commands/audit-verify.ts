/** `sshgate audit verify PATH`: walks the audit file's hash chain and says where it breaks. */
import { verifyAuditFile, type Verification } from '../audit/audit-file.js';
import type { Io } from './context.js';

export function auditVerifyCommand(path: string, io: Io): number {
  let v: Verification;
  try {
    v = verifyAuditFile(path);
  } catch (err) {
    io.err(`sshgate: cannot read the audit file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}\n`);
    return 2;
  }
  if (!v.ok) {
    io.out(`${path}:${v.line}: TAMPERED — ${v.reason} (${v.records} records before it verify)\n`);
    return 1;
  }
  io.out(`${path}: ${v.records} records, chain intact; last hash ${v.lastHash}\n`);
  return 0;
}

/**
 * Who a call comes from. Every call has a principal: over stdio the OS user sshgate runs as (or a
 * name given on the command line), over HTTP the one its credential names. Tasks belong to
 * principals; policy rules, rate limits and quotas may name them or their roles; the audit
 * records them. A principal never carries the secret it proved itself with.
 */
export interface Principal {
  /** The name rules, quotas, tasks and the audit know the caller by. */
  name: string;
  /** What a rule's `callers: [role:ops]` matches. */
  roles: readonly string[];
  /** How the caller proved who it is. */
  via: 'os-user' | 'command-line' | 'token' | 'oauth';
  /**
   * Which credential: a token's id in the tokens file, or an OAuth access token's `jti` (else its
   * `sub`). Never the token.
   */
  credentialId?: string;
}

/** Whether a rule's `callers:` list names this principal: by name, or by `role:NAME`. */
export function callerMatches(principal: Principal, callers: readonly string[]): boolean {
  return callers.some((c) => (c.startsWith('role:') ? principal.roles.includes(c.slice(5)) : c === principal.name));
}

/** The role whose principals see and cancel every caller's tasks, not only their own. */
export const ADMIN_ROLE = 'admin';

/**
 * An admin: the role given by sshgate's own configuration (a tokens-file entry, `--role`), never
 * by an OAuth issuer's claim — a scope or a role a user can ask the issuer for must not open
 * every caller's tasks.
 */
export function isAdmin(principal: Principal): boolean {
  return principal.via !== 'oauth' && principal.roles.includes(ADMIN_ROLE);
}

/** The role whose principals answer approval requests over HTTP (POST /approvals/ID). */
export const APPROVER_ROLE = 'approver';

/** An approver: as for an admin, the role comes from sshgate's own configuration, never from an OAuth claim. */
export function isApprover(principal: Principal): boolean {
  return principal.via !== 'oauth' && principal.roles.includes(APPROVER_ROLE);
}

/** The principal as the audit records it: who, how they proved it, and by which credential. */
export function auditedPrincipal(principal: Principal): Record<string, string> {
  return {
    principal: principal.name,
    auth: principal.via,
    ...(principal.credentialId !== undefined ? { credential_id: principal.credentialId } : {}),
  };
}

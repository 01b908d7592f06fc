/** What the policy lint finds: a value with a code, where it is, what is wrong and what to do. */

/** The lint's codes; docs/policy.md ("Policy lint") describes each. */
export type LintCode =
  | 'wrapper-wildcard'
  | 'code-wildcard'
  | 'dead-allow'
  | 'untested-rule'
  | 'no-tests'
  | 'duplicate-rules'
  | 'duplicate-pattern'
  | 'unknown-tag'
  | 'unknown-alias'
  | 'no-host'
  | 'client-approval'
  | 'network-refused';

export interface LintFinding {
  code: LintCode;
  /** `policies/default.yml:12:5`, the rule's place, when the loader knows it; null otherwise. */
  source: string | null;
  message: string;
  hint: string;
}

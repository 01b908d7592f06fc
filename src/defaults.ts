/** Every option's default, in one place; the README documents each of them. */
export const DEFAULTS = {
  configDir: './config',
  policyPath: './policies',
  /** Relative to the config dir unless SSHGATE_KEYS_DIR says otherwise. */
  keysDirName: 'keys',
  secretsDir: '/run/secrets',
  limits: {
    max_seconds: 60,
    max_output_bytes: 1_048_576,
    max_concurrent_per_host: 4,
    task_result_ttl: 600,
  },
  /** Commands longer than this are refused before parsing: no reviewed rule needs more. */
  maxCommandBytes: 16_384,
  /** A configuration or policy file larger than this is refused unread. */
  maxFileBytes: 1_048_576,
  /** YAML aliases allowed per file; more is how a "billion laughs" file explodes. */
  maxYamlAliases: 100,
} as const;

export const ENV = {
  configDir: 'SSHGATE_CONFIG_DIR',
  policyPath: 'SSHGATE_POLICY',
  keysDir: 'SSHGATE_KEYS_DIR',
  secretsDir: 'SSHGATE_SECRETS_DIR',
  secretPrefix: 'SSHGATE_SECRET_',
} as const;

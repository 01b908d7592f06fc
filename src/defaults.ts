/** Every option's default, in one place; docs/operations.md (options) and docs/policy.md (limits) document them. */
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
    /**
     * The size cap of a file operation (files: rules): a config or a log read whole, a unit file
     * written, with room to spare; a bigger file is a transfer (ssh_put_file, ssh_get_file).
     */
    max_file_bytes: 16_777_216,
  },
  /**
   * Per principal, and per principal on one host (docs/policy.md, rate limits and quotas): far
   * above what an agent at the pace of a model uses — its calls come seconds apart — and what a
   * loop in code reaches within seconds (calls, commands on one host) or hours (a day's commands).
   */
  rateLimits: {
    /** Tool calls: a bucket of 600, refilled at 10 a second. */
    calls_per_minute: 600,
    /** Commands started, per UTC day: one every 9 s around the clock, or 20 fan-outs to 500 hosts. */
    commands_per_day: 10_000,
    /** Commands started on one host: a bucket of 120 (a burst fits the queue of 200), then 2 a second. */
    host_commands_per_minute: 120,
    /** Commands started on one host, per UTC day: one every 43 s around the clock. */
    host_commands_per_day: 2_000,
  },
  /**
   * An ask rule's terms when it names none (docs/approvals.md): only an operator approves (the
   * agent's own client might answer an elicitation for itself), within 10 minutes, once.
   */
  approval: {
    approveBy: 'operator' as 'client' | 'operator' | 'either',
    timeoutSeconds: 600,
  },
  /** Approval requests waiting at once: per principal, and in all (each holds a task). */
  maxPendingApprovals: { perPrincipal: 50, total: 1000 },
  /** serve --http: open connections in all (SSHGATE_MAX_CONNECTIONS; src/mcp/http-connections.ts says why), and the most it may be set to. */
  httpConnections: { total: 1024, most: 65_536 },
  /** Commands longer than this are refused before parsing: no reviewed rule needs more. */
  maxCommandBytes: 16_384,
  /** A configuration or policy file larger than this is refused unread. */
  maxFileBytes: 1_048_576,
  /** YAML aliases allowed per file; more is how a "billion laughs" file explodes. */
  maxYamlAliases: 100,
  /**
   * Command patterns in a whole policy, after alias expansion: every command is matched against
   * them, so a policy past this is slow to decide with, and far past what a person reviews.
   */
  maxPolicyPatterns: 20_000,
  /**
   * `policy diff`: commands generated around the changed patterns (in all, shared among them), and
   * their seed. The count bounds the run time (each command is decided per group of alike hosts,
   * caller and version); a fixed seed makes a review reproducible: the same two policies give the
   * same commands on every machine.
   */
  diffGenerated: 128,
  diffSeed: 1,
  /** known_hosts beside servers.yml unless the policy names another file. */
  knownHostsName: 'known_hosts',
  /** How long ssh_run waits before it returns a still-running task: under the usual 60 s client timeout. */
  waitSeconds: 50,
  /** The longest an SSH handshake may take (Ansible's default), within the task's own limit. */
  connectTimeoutSeconds: 10,
  /** A pooled connection with nothing running on it closes after this long. */
  idleSeconds: 300,
  /** Keepalive probes go out this often; three unanswered ones drop the connection. */
  keepaliveSeconds: 15,
  /** Between TERM and KILL when a task is cancelled or times out. */
  graceMs: 2000,
  logLevel: 'info',
  /** Under $XDG_STATE_HOME (default ~/.local/state), as the XDG base directory spec puts state. */
  stateDirName: 'sshgate',
  /** OAuth access tokens (serve --http with an issuer). */
  oauth: {
    rolesClaim: 'roles',
    nameClaim: 'sub',
    /** Asymmetric algorithms only: never `none`, never an HMAC, whose key a verifier would have to share. */
    algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'],
    /** How far `exp` and `nbf` may be off between the issuer's clock and ours. */
    clockSkewSeconds: 30,
    /** A token signed by a key id not in the JWKS refetches it, at most this often: rotation without a flood. */
    jwksCooldownSeconds: 30,
    /** The JWKS is fetched again after this long even when every key id is known. */
    jwksMaxAgeSeconds: 600,
    /** The issuer's metadata or JWKS must arrive within this. */
    fetchTimeoutSeconds: 5,
  },
} as const;

export const ENV = {
  configDir: 'SSHGATE_CONFIG_DIR',
  policyPath: 'SSHGATE_POLICY',
  keysDir: 'SSHGATE_KEYS_DIR',
  secretsDir: 'SSHGATE_SECRETS_DIR',
  secretPrefix: 'SSHGATE_SECRET_',
  logLevel: 'SSHGATE_LOG_LEVEL',
  stateDir: 'SSHGATE_STATE_DIR',
  auditLog: 'SSHGATE_AUDIT_LOG',
  transferRoot: 'SSHGATE_TRANSFER_ROOT',
  token: 'SSHGATE_TOKEN',
  allowedHosts: 'SSHGATE_ALLOWED_HOSTS',
  allowedOrigins: 'SSHGATE_ALLOWED_ORIGINS',
  sessionIdle: 'SSHGATE_SESSION_IDLE_SECONDS',
  maxConnectionsPerClient: 'SSHGATE_MAX_CONNECTIONS_PER_CLIENT',
  maxConnections: 'SSHGATE_MAX_CONNECTIONS',
  maxTasks: 'SSHGATE_MAX_TASKS',
  tokensFile: 'SSHGATE_TOKENS_FILE',
  oauthIssuer: 'SSHGATE_OAUTH_ISSUER',
  oauthResource: 'SSHGATE_OAUTH_RESOURCE',
  oauthJwksUrl: 'SSHGATE_OAUTH_JWKS_URL',
  oauthRolesClaim: 'SSHGATE_OAUTH_ROLES_CLAIM',
  oauthNameClaim: 'SSHGATE_OAUTH_NAME_CLAIM',
  oauthAlgorithms: 'SSHGATE_OAUTH_ALGORITHMS',
} as const;

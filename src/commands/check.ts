/** `sshgate check`: validates every file and prints what is configured, or every problem. */
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { BUILTIN_DENY_SUBSTRINGS } from '../policy/builtin.js';
import { lintPolicy } from '../policy/lint.js';
import { loadPolicyCases } from '../config/load-cases.js';
import type { PolicyFileRule } from '../config/load-policy.js';
import { targetContextFor, targetFor, targetProblems } from '../gateway/targets.js';
import type { HostTarget } from '../ssh/pool.js';
import { nowSeconds, timeText } from '../ssh/certificates.js';
import { certificateRefusal, describeCertificate } from '../ssh/user-certificate.js';
import { AGENT_HINT, agentSilence, agentSocketProblem } from '../ssh/auth.js';
import { loadSsh2 } from '../ssh/ssh2.js';
import { jumpChain, type Inventory } from '../config/load-inventory.js';
import type { HostEntry } from '../config/file-formats.js';
import { shellQuote } from '../errors.js';
import { hostToken } from '../ssh/host-keys.js';
import { openKnownHosts, type HostKeyPolicy, type KnownHostsFile } from '../ssh/known-hosts-file.js';
import { loadAll, reportConfigError, testsDirOf, type Io, type Paths } from './context.js';

export interface CheckOptions {
  /** Policy lint findings fail the check (exit status 1). */
  strict?: boolean;
}

export async function checkCommand(
  paths: Paths,
  io: Io,
  env: Readonly<Record<string, string | undefined>>,
  options: CheckOptions = {},
): Promise<number> {
  let loaded;
  let tests;
  try {
    loaded = await loadAll(paths);
    const dir = testsDirOf(paths.policyPath);
    tests = { dir, cases: dir ? loadPolicyCases(dir) : [] };
  } catch (err) {
    if (reportConfigError(io, err)) return 1;
    throw err;
  }
  const { inventory, policy, engine } = loaded;
  // Every host's key is parsed below, with ssh2.
  await loadSsh2();
  let hostKeys;
  try {
    hostKeys = openKnownHosts(policy.knownHostsPath, paths.configDir, policy.hostKeyPolicy);
  } catch (err) {
    if (reportConfigError(io, err)) return 1;
    throw err;
  }
  const tags = new Map<string, number>();
  for (const h of inventory.hosts) for (const t of h.tags) tags.set(t, (tags.get(t) ?? 0) + 1);
  const method = (c: (typeof inventory.credentials)[number]) =>
    [c.key_path && 'key', c.agent && 'agent', c.password_secret && 'password'].filter(Boolean).join('+');
  const count = (action: string) => policy.rules.filter((r) => r.action === action).length;
  const ask = count('ask');
  const lines = [
    `config: ${paths.configDir}`,
    `  ${inventory.hosts.length} hosts: ${inventory.hosts.map((h) => h.alias).join(', ') || 'none'}`,
    `  tags: ${
      [...tags]
        .sort()
        .map(([t, n]) => `${t} (${n})`)
        .join(', ') || 'none'
    }`,
    `  ${inventory.credentials.length} credentials: ${inventory.credentials.map((c) => `${c.name} (${method(c)})`).join(', ') || 'none'}`,
    `policy: ${policy.files.join(', ')}`,
    `  ${policy.rules.length} rules: ${count('allow')} allow, ${ask > 0 ? `${ask} ask, ` : ''}${count('deny')} deny`,
    `  ${fileRuleCount(policy.fileRules)}`,
    `  limits: ${Object.entries(policy.limits)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
    `  overrides: tags ${Object.keys(policy.overrides.tags).join(', ') || 'none'}; aliases ${Object.keys(policy.overrides.aliases).join(', ') || 'none'}`,
    `  network: allow ${[...policy.network.allow_cidrs, ...policy.network.allow_ips].join(', ') || 'any'}; block ${[...policy.network.block_cidrs, ...policy.network.block_ips].join(', ') || 'none'}`,
    `  deny substrings: ${BUILTIN_DENY_SUBSTRINGS.length} built-in + ${engine.denySubstrings.length - BUILTIN_DENY_SUBSTRINGS.length} from the policy`,
    `  host keys: ${policy.hostKeyPolicy}, ${hostKeys.path}`,
    '  rule order: any matching deny rule wins over every allow rule, whatever the order (mcp-ssh-orchestrator let the last matching rule win)',
  ];
  // The policy lint follows from the files alone: --strict fails on it, never on the machine's state below.
  const findings = lintPolicy({ engine, inventory, tests });
  const warnings = findings.map((f) => warn(`${f.source ? `${f.source}: ` : ''}${f.message} [${f.code}]`, f.hint));
  // Each host's key and secrets, read as serve reads them at start: what would fail its tasks.
  const ctx = targetContextFor(loaded, hostKeys, paths, env, new Map());
  const targets = new Map<string, HostTarget>();
  const build = (h: HostEntry) => {
    const target = targetFor(h, ctx);
    targets.set(h.alias, target);
    return target;
  };
  for (const { aliases, error } of targetProblems(inventory.hosts, build))
    warnings.push(warn(`${hostList(aliases)}: ${error.message}`, error.hint));
  warnings.push(...certificateWarnings(targets, nowSeconds()));
  // A socket an ended agent left behind looks like any other until something connects to it.
  const sock = env.SSH_AUTH_SOCK;
  const agentHosts = inventory.hosts.filter((h) => inventory.credentialByName.get(h.credentials)?.agent).map((h) => h.alias);
  if (sock && agentHosts.length > 0 && agentSocketProblem(sock) === undefined) {
    const silent = await agentSilence(sock);
    if (silent)
      warnings.push(warn(`${hostList(agentHosts)}: the ssh-agent at SSH_AUTH_SOCK (${sock}) does not answer (${silent})`, AGENT_HINT));
  }
  for (const k of hostKeys.skipped) warnings.push(warn(`${hostKeys.path}:${k.line}: ignored — ${k.reason}`));
  if (!existsSync(hostKeys.path) && policy.hostKeyPolicy === 'strict' && inventory.hosts.length > 0) {
    warnings.push(
      warn(`${hostKeys.path} does not exist: under host_key_policy strict every host is refused (host_key_unknown) until its key is there`),
    );
  }
  warnings.push(...hostKeyWarnings(inventory, hostKeys, policy.hostKeyPolicy));
  io.out(`${lines.join('\n')}\n`);
  if (warnings.length > 0) io.out(`warnings:\n${warnings.map((w) => `  ${w.text}\n${w.hint ? `    hint: ${w.hint}\n` : ''}`).join('')}`);
  if (options.strict && findings.length > 0) {
    io.out(`FAILED (--strict): ${findings.length} policy lint finding${findings.length === 1 ? '' : 's'} (the warnings marked [code])\n`);
    return 1;
  }
  io.out('OK\n');
  return 0;
}

/** `2 file rules: 1 allow, 1 deny`, or what having none means. */
function fileRuleCount(rules: readonly PolicyFileRule[]): string {
  if (rules.length === 0) return 'file rules: none (every file read and write is denied)';
  const allow = rules.filter((r) => r.action === 'allow').length;
  return `${rules.length} file rule${rules.length === 1 ? '' : 's'}: ${allow} allow, ${rules.length - allow} deny`;
}

/** A finding that does not fail the check, and what to do about it. */
interface Warning {
  text: string;
  hint?: string;
}

function warn(text: string, hint?: string): Warning {
  return hint === undefined ? { text } : { text, hint };
}

/** `host "db1"`, or `hosts "bastion", "web1"`. */
function hostList(aliases: readonly string[]): string {
  return `${aliases.length === 1 ? 'host' : 'hosts'} ${aliases.map((a) => `"${a}"`).join(', ')}`;
}

/** A certificate issued for longer than this is warned of this long before it expires. */
const CERTIFICATE_NOTICE_SECONDS = 7n * 24n * 3600n;

/**
 * The user certificates the hosts would log in with that cannot log in now (not yet valid,
 * expired, or not naming the login user among their principals), and those that expire within a
 * week although they were issued for longer: a long-lived certificate about to lapse, where a
 * short-lived one is renewed in place by design and is not warned of.
 */
function certificateWarnings(targets: ReadonlyMap<string, HostTarget>, now: bigint): Warning[] {
  const found = new Map<string, { aliases: string[]; text: string; hint: string }>();
  for (const [alias, target] of targets) {
    const file = target.auth.certificate;
    if (!file) continue;
    let cert;
    try {
      cert = file.current().cert;
    } catch {
      continue; // a certificate that cannot be read fails the target, which is warned of already
    }
    const user = target.auth.username;
    const sign = `have the CA sign a new one (ssh-keygen -s CA -I ID -n ${user} -V +52w KEY.pub) and put it at ${file.path}`;
    const refusal = certificateRefusal(cert, user);
    const left = cert.validBefore - now;
    const notice =
      refusal === undefined && left < CERTIFICATE_NOTICE_SECONDS && cert.validBefore - cert.validAfter > CERTIFICATE_NOTICE_SECONDS
        ? `expires at ${timeText(cert.validBefore)}, in less than 7 days`
        : undefined;
    const why = refusal ? `cannot log in as "${user}": ${refusal}` : notice;
    if (why === undefined) continue;
    const text = `the certificate ${file.path} (${describeCertificate(cert)}) ${why}`;
    const entry = found.get(text) ?? { aliases: [], text, hint: sign };
    entry.aliases.push(alias);
    found.set(text, entry);
  }
  return [...found.values()].map((f) => warn(`${hostList(f.aliases)}: ${f.text}`, f.hint));
}

/**
 * Hosts whose key known_hosts lacks, each with the command that adds it. Under strict such a host
 * is refused; under accept-new its key is recorded on first use, but an entry recorded for port
 * 22 of a host on another port is passed over either way (OpenSSH looks up `[host]:port`).
 */
function hostKeyWarnings(inventory: Inventory, hostKeys: KnownHostsFile, policy: HostKeyPolicy): Warning[] {
  const warnings: Warning[] = [];
  const file = hostKeys.path;
  for (const h of inventory.hosts) {
    if (hostKeys.keysFor(h.host, h.port).length > 0 || hostKeys.authoritiesFor(h.host, h.port).length > 0) continue;
    const add = keyscanLine(inventory, h, file);
    const on22 = h.port === 22 ? undefined : hostKeys.keysFor(h.host, 22)[0];
    const token = hostToken(h.host, h.port);
    if (on22) {
      warnings.push(
        warn(
          `host "${h.alias}": ${file}:${on22.line} records ${h.host} on port 22, but the host listens on port ${h.port}, where OpenSSH and sshgate look up ${token} — which has no entry`,
          `if that key is the one on port ${h.port}, write the line's host as ${token}; else add it: sshgate keyscan ${h.alias}, or ${add}`,
        ),
      );
    } else if (policy === 'strict') {
      warnings.push(
        warn(
          `host "${h.alias}" (${token}) has no entry in ${file}: under host_key_policy strict it is refused (host_key_unknown)`,
          `add its key, and check its fingerprint out of band: sshgate keyscan ${h.alias} (it asks before it writes), or ${add}`,
        ),
      );
    }
  }
  return warnings;
}

/** The way docs/operations.md fetches a host's key: ssh-keyscan, run on the last jump host when there is one. */
function keyscanLine(inventory: Inventory, host: HostEntry, file: string): string {
  const scan = `ssh-keyscan -t ed25519 ${host.port === 22 ? '' : `-p ${host.port} `}${host.host} >> ${shellQuote(file)}`;
  const hops = jumpChain(inventory, host.alias)
    .slice(0, -1)
    .map((alias) => inventory.byAlias.get(alias) as HostEntry);
  const last = hops.pop();
  if (!last) return scan;
  const login = (h: HostEntry) => {
    const user = h.user ?? inventory.credentialByName.get(h.credentials)?.username;
    return user ? `${user}@` : '';
  };
  const through = hops.map((h) => `${login(h)}${isIP(h.host) === 6 ? `[${h.host}]` : h.host}${h.port === 22 ? '' : `:${h.port}`}`);
  return `ssh ${through.length > 0 ? `-J ${shellQuote(through.join(','))} ` : ''}${last.port === 22 ? '' : `-p ${last.port} `}${login(last)}${last.host} ${scan}`;
}

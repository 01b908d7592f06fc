import { quoted, type Findings } from './findings.js';

/** A host as a source (ssh_config, an Ansible inventory) describes it, before it has an alias and a credential. */
export interface DraftHost {
  /** The name the source gives it: what `ssh NAME` or an Ansible pattern names. */
  name: string;
  /** Where the source defines it: `~/.ssh/config:12`. */
  where: string;
  /** HostName / ansible_host: a name or an IP address. */
  address: string;
  port: number;
  /** undefined: the source names none (ssh then logs in as the local user). */
  user: string | undefined;
  /** The private key's absolute path; undefined: log in with the ssh-agent. */
  keyPath: string | undefined;
  /** The host to connect through, itself a draft (with its own jump, for a chain). */
  jump: DraftHost | undefined;
  /** Tags the source gives (Ansible groups). */
  tags: string[];
  /**
   * For a host the import made for a jump hop that is no host of the source as it is (another
   * user or port, another chain): what the hop said, for the note that names it.
   */
  hopOf?: string;
}

/** One hop of a jump chain (ProxyJump, ansible_ssh_common_args' -J): `[user@]host[:port]`. */
export interface Hop {
  name: string;
  user?: string;
  port?: number;
}

/** How a host is drafted as a hop: another user or port than its own, the chain given for it. */
export interface Override {
  user?: string;
  port?: number;
  /** The chain given on the hop's behalf (`-J` of ssh's inner command), instead of its own. */
  jump?: Hop[];
}

/**
 * The host a chain of hops ends in, drafted by the importer's `draft` as the last hop, with the
 * hops before it as its own chain (which `draft` follows in turn). undefined for no chain; false
 * when the last hop could not be imported: for the host being imported itself (`reports`), a
 * finding says so, unless `draft` returned false, having reported why already.
 */
export function draftJump(
  chain: readonly Hop[] | undefined,
  label: string,
  reports: boolean,
  findings: Findings,
  draft: (last: Hop, over: Override) => DraftHost | undefined | false,
): DraftHost | undefined | false {
  if (!chain || chain.length === 0) return undefined;
  const last = chain.at(-1) as Hop;
  const rest = chain.slice(0, -1);
  const jump = draft(last, {
    ...(last.user ? { user: last.user } : {}),
    ...(last.port ? { port: last.port } : {}),
    ...(rest.length > 0 ? { jump: rest } : {}),
  });
  if (jump === false) return false;
  if (!jump) {
    if (reports) findings.unmapped(label, `${label}: its jump host ${quoted(last.name)} could not be imported; not imported`);
    return false;
  }
  return jump;
}

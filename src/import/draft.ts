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

/**
 * What the import does with each ssh_config keyword it does not map. `ignored`: sshgate decides it
 * its own way, and the host connects as ssh would have; `unmapped`: it changes where, as whom or
 * how ssh connects, so the inventory differs from what ssh does and a reviewer must look.
 */

/** Keywords the import reads (Host, Match and Include are structure, read before this). */
export const MAPPED = new Set(['hostname', 'port', 'user', 'identityfile', 'proxyjump', 'proxycommand']);

const SSHGATE_OWN = 'sshgate keeps its own connections (a pool, TCP keepalives, its connect timeout)';
const NO_FORWARDING = 'sshgate forwards nothing: no agent, ports, X11 or tunnels';
const HOST_KEYS = 'sshgate always verifies host keys, against its own known_hosts (host_key_policy in the policy)';
const ALGORITHMS = "sshgate offers its own algorithms (ssh2's, modern ones first)";
const AUTH = "sshgate logs in with the credential's key (or the agent, or a password secret) only";
const POLICY = "what runs, its terminal and its environment are the policy's to allow (tty:, env:)";
const LOCAL = 'only affects the local ssh client';

/** keyword (lower case) → why it does not matter to an sshgate host. */
export const IGNORED: ReadonlyMap<string, string> = new Map([
  ...[
    'serveraliveinterval',
    'serveralivecountmax',
    'tcpkeepalive',
    'connecttimeout',
    'connectionattempts',
    'controlmaster',
    'controlpath',
    'controlpersist',
    'compression',
    'ipqos',
    'rekeylimit',
  ].map((k) => [k, SSHGATE_OWN] as const),
  ...[
    'forwardagent',
    'forwardx11',
    'forwardx11trusted',
    'forwardx11timeout',
    'localforward',
    'remoteforward',
    'dynamicforward',
    'exitonforwardfailure',
    'clearallforwardings',
    'gatewayports',
    'tunnel',
    'tunneldevice',
    'streamlocalbindmask',
    'streamlocalbindunlink',
    'permitremoteopen',
  ].map((k) => [k, NO_FORWARDING] as const),
  ...[
    'stricthostkeychecking',
    'userknownhostsfile',
    'globalknownhostsfile',
    'checkhostip',
    'updatehostkeys',
    'hashknownhosts',
    'visualhostkey',
    'verifyhostkeydns',
    'nohostauthenticationforlocalhost',
  ].map((k) => [k, HOST_KEYS] as const),
  ...[
    'ciphers',
    'macs',
    'kexalgorithms',
    'hostkeyalgorithms',
    'pubkeyacceptedalgorithms',
    'pubkeyacceptedkeytypes',
    'hostbasedacceptedalgorithms',
    'casignaturealgorithms',
    'requiredrsasize',
    'fingerprinthash',
  ].map((k) => [k, ALGORITHMS] as const),
  ...[
    'identitiesonly',
    'preferredauthentications',
    'pubkeyauthentication',
    'passwordauthentication',
    'kbdinteractiveauthentication',
    'kbdinteractivedevices',
    'challengeresponseauthentication',
    'numberofpasswordprompts',
    'gssapiauthentication',
    'gssapidelegatecredentials',
    'hostbasedauthentication',
    'enablesshkeysign',
    'batchmode',
    'addkeystoagent',
    'usekeychain',
  ].map((k) => [k, AUTH] as const),
  ...[
    'requesttty',
    'remotecommand',
    'sendenv',
    'setenv',
    'sessiontype',
    'stdinnull',
    'forkafterauthentication',
    'permitlocalcommand',
    'localcommand',
    'escapechar',
    'obscurekeystroketiming',
  ].map((k) => [k, POLICY] as const),
  ...['loglevel', 'logverbose', 'syslogfacility', 'ignoreunknown', 'xauthlocation', 'warnweakcrypto', 'enableescapecommandline'].map(
    (k) => [k, LOCAL] as const,
  ),
]);

/** keyword (lower case) → what the inventory lacks because of it. */
export const UNMAPPED: ReadonlyMap<string, string> = new Map([
  [
    'hostkeyalias',
    'ssh looks the host key up under this name; sshgate looks it up under the address and port (write the known_hosts line for those)',
  ],
  ['certificatefile', 'OpenSSH certificates are not read from the inventory; the credential logs in with the key alone'],
  ['identityagent', 'sshgate uses the agent at $SSH_AUTH_SOCK, not a socket named per host'],
  ['bindaddress', 'sshgate connects from the address the system chooses'],
  ['bindinterface', 'sshgate connects from the interface the system chooses'],
  ['addressfamily', 'sshgate uses the address family the name resolves to'],
  ['canonicalizehostname', 'sshgate connects to HostName as written; ssh would canonicalise the name first'],
  ['canonicaldomains', 'sshgate connects to HostName as written; ssh would canonicalise the name first'],
  ['canonicalizefallbacklocal', 'sshgate connects to HostName as written'],
  ['canonicalizemaxdots', 'sshgate connects to HostName as written'],
  ['canonicalizepermittedcnames', 'sshgate connects to HostName as written'],
  ['knownhostscommand', 'sshgate reads host keys from its known_hosts file only'],
  ['pkcs11provider', 'keys on a PKCS#11 token are not used; the agent may hold them (agent: true)'],
  ['securitykeyprovider', 'security-key (FIDO) keys are not used'],
  ['proxyusefdpass', 'no ProxyCommand is run'],
  ['tag', 'the tag serves Match blocks, which are not imported'],
]);

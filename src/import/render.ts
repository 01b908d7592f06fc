/** The YAML text of an imported servers.yml and credentials.yml, each entry under a comment saying where it came from. */
import { Document, isMap, isSeq } from 'yaml';
import type { Built } from './build-inventory.js';

export interface RenderContext {
  /** The command that made the files, as a person would type it: `sshgate import ssh-config ~/.ssh/config`. */
  command: string;
  keysDir: string;
}

export function renderServers(built: Built, ctx: RenderContext): string {
  return render(
    'hosts',
    built.hosts.map((h) => ({ value: h.entry, comment: h.comment })),
    [
      ` Written by ${ctx.command}: review it before use.`,
      ' Host keys are not imported: add them to known_hosts beside this file (sshgate check names the missing ones).',
    ],
  );
}

export function renderCredentials(built: Built, ctx: RenderContext): string {
  return render(
    'entries',
    built.credentials.map((c) => ({ value: c.entry, comment: c.comment })),
    [
      ` Written by ${ctx.command}: review it before use.`,
      ` Keys are referenced, never copied: each key_path is relative to the keys dir ${ctx.keysDir}`,
      ` (give sshgate SSHGATE_KEYS_DIR=${ctx.keysDir}, or copy the keys to the same paths under <config>/keys).`,
    ],
  );
}

function render(key: string, items: { value: object; comment: string }[], header: string[]): string {
  const doc = new Document({ [key]: items.map((i) => i.value) });
  doc.commentBefore = header.join('\n');
  const seq = doc.get(key, true);
  if (isSeq(seq)) {
    seq.items.forEach((node, i) => {
      if (!isMap(node)) return;
      node.commentBefore = ` ${(items[i] as { comment: string }).comment}`;
      const tags = node.get('tags', true);
      if (isSeq(tags)) tags.flow = true;
    });
  }
  return doc.toString({ lineWidth: 0 });
}

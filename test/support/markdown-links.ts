/**
 * The links and heading anchors of a markdown file, read as GitHub renders it: enough of
 * CommonMark to find every link a reader can click (inline, reference definitions, images) and
 * every anchor a heading gets, and to ignore what sits in code.
 */

export interface MarkdownLink {
  line: number;
  target: string;
}

export interface MarkdownFile {
  links: MarkdownLink[];
  anchors: Set<string>;
}

const FENCE = /^ {0,3}(`{3,}|~{3,})/;
const HEADING = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
const REFERENCE_DEFINITION = /^ {0,3}\[[^\]]+\]:[ \t]*(<[^>]*>|\S+)/;
const INLINE_LINK = /\[(?:[^[\]]|\[[^[\]]*\])*\]\(\s*(<[^>]*>|(?:[^\s()]|\([^\s()]*\))*)(?:\s+(?:"[^"]*"|'[^']*'|\([^)]*\)))?\s*\)/g;
const HTML_ANCHOR = /<a\s[^>]*\b(?:id|name)="([^"]+)"/gi;

/**
 * Inline code spans are text, not markup: blank them out, keeping every newline so that offsets
 * still give line numbers. A span may wrap onto the next line but never crosses a blank line.
 */
function withoutCodeSpans(text: string): string {
  return text.replace(/(?<!`)(`+)((?:(?!\n[ \t]*\n)[\s\S])*?[^`])\1(?!`)/g, (span) => span.replace(/[^\n]/g, ' '));
}

/** A heading's anchor as GitHub makes it: its text, lower case, punctuation gone, spaces as hyphens. */
export function headingSlug(text: string): string {
  const plain = text
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // a link or an image counts by its text
    .replace(/<[^>]+>/g, '') // inline HTML
    .replace(/[`*]/g, ''); // code and emphasis markers
  return plain
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '')
    .replace(/ /g, '-');
}

export function parseMarkdown(text: string): MarkdownFile {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  const lines = text.split('\n');
  let fence: string | undefined;

  // Fenced code is neither headings nor links: blank it, then read what is left line by line.
  const prose = lines.map((raw) => {
    const opening = FENCE.exec(raw);
    if (fence !== undefined) {
      if (opening && opening[1]![0] === fence[0] && opening[1]!.length >= fence.length && raw.trim() === opening[1]) fence = undefined;
      return '';
    }
    if (opening) {
      fence = opening[1];
      return '';
    }
    return raw;
  });

  const links: MarkdownLink[] = [];
  prose.forEach((raw, index) => {
    const heading = HEADING.exec(raw);
    if (heading) {
      const base = headingSlug(heading[2] ?? '');
      const count = seen.get(base) ?? 0;
      seen.set(base, count + 1);
      anchors.add(count === 0 ? base : `${base}-${count}`);
    }
    for (const match of raw.matchAll(HTML_ANCHOR)) anchors.add(match[1]!);
    const definition = REFERENCE_DEFINITION.exec(raw);
    if (definition) links.push({ line: index + 1, target: unbracket(definition[1]!) });
  });

  // A link's text may wrap onto the next line, so inline links are found in the whole text.
  const body = withoutCodeSpans(prose.join('\n'));
  for (const match of body.matchAll(INLINE_LINK)) {
    if (!match[1]) continue;
    const line = body.slice(0, match.index).split('\n').length;
    links.push({ line, target: unbracket(match[1]) });
  }
  links.sort((a, b) => a.line - b.line);
  return { links, anchors };
}

function unbracket(target: string): string {
  return target.startsWith('<') && target.endsWith('>') ? target.slice(1, -1) : target;
}

/** A link that leaves the repository: a scheme (https:, mailto:) or a protocol-relative //host. */
export function isExternal(target: string): boolean {
  return /^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//');
}

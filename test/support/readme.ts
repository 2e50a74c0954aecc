/**
 * Reads README.md the way a newcomer does: its sections and the fenced code
 * blocks in them, so tests can run each example as shown.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface CodeBlock {
  /** The info string after the opening fence: `ts`, `sh`, `jsonl`. */
  readonly lang: string;
  /** The text between the fences, ending with a newline. */
  readonly code: string;
}

/** The text of README.md. */
export function readme(): string {
  return readFileSync(`${ROOT}README.md`, 'utf8');
}

/** The body of the `## title` section, up to the next `## ` heading. */
export function section(text: string, title: string): string {
  const lines = text.split('\n');
  const start = lines.indexOf(`## ${title}`);
  if (start < 0) throw new Error(`README has no "## ${title}" section`);
  const end = lines.findIndex((line, i) => i > start && line.startsWith('## '));
  return lines.slice(start + 1, end < 0 ? undefined : end).join('\n');
}

/** The fenced code blocks of a text, in order. */
export function codeBlocks(text: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  const fence = /^```(\S*)\n([\s\S]*?)^```$/gm;
  for (let match = fence.exec(text); match !== null; match = fence.exec(text)) {
    blocks.push({ lang: match[1] ?? '', code: match[2] ?? '' });
  }
  return blocks;
}

/** The one block of `lang` in the section, or an error naming what is missing. */
export function onlyBlock(text: string, title: string, lang: string): string {
  const blocks = codeBlocks(section(text, title)).filter((block) => block.lang === lang);
  if (blocks.length !== 1) throw new Error(`README section "${title}" has ${blocks.length} \`\`\`${lang} blocks, expected 1`);
  return blocks[0]?.code ?? '';
}

/**
 * Whether `actual` is `expected` with each `…` standing for any text without
 * a quote or a newline (the times in a sample).
 */
export function matchesSample(expected: string, actual: string): boolean {
  const pattern = expected.split('…').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[^"\\n]*');
  return new RegExp(`^${pattern}$`).test(actual);
}

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The README is the front page and docs/ holds the reference; a moved section must not leave a
 * link behind that points at nothing. Every relative link of every page must name a file that
 * exists and, with `#anchor`, a heading of that file.
 */

const ROOT = join(import.meta.dirname, '..', '..');
const PAGES = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join('docs', f))];
/** The READMEs of the repository's parts (the benchmarks, each package): checked alike, listed by the pages that need them. */
const PART_READMES = ['bench', ...readdirSync(join(ROOT, 'packages')).map((name) => join('packages', name))].map((dir) => join(dir, 'README.md'));

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as dashes. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[`*_]/g, '')
    .replace(/[^a-z0-9 -]/g, '')
    .replace(/ /g, '-');
}

function anchorsOf(path: string): Set<string> {
  const anchors = new Set<string>();
  let inCode = false;
  for (const line of readFileSync(join(ROOT, path), 'utf8').split('\n')) {
    if (line.startsWith('```')) inCode = !inCode;
    else if (!inCode) {
      const heading = /^#{1,6} (.*)$/.exec(line);
      if (heading) anchors.add(slug(heading[1]!));
    }
  }
  return anchors;
}

describe('documentation links', () => {
  it('has a docs/ page for every reference topic, each linked from the README', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(PAGES.length).toBeGreaterThan(5);
    for (const page of PAGES.filter((p) => p !== 'README.md')) expect(readme, page).toContain(`](${page.replace(/\\/g, '/')})`);
  });

  it('has a README for every package', () => {
    for (const readme of PART_READMES) expect(existsSync(join(ROOT, readme)), readme).toBe(true);
  });

  for (const page of [...PAGES, ...PART_READMES]) {
    it(`${page}: every relative link names an existing file and heading`, () => {
      const text = readFileSync(join(ROOT, page), 'utf8');
      const broken: string[] = [];
      for (const match of text.matchAll(/\]\(([^)\s]*)\)/g)) {
        const target = match[1]!;
        if (/^[a-z]+:/.test(target)) continue;
        const [file, anchor] = target.split('#') as [string, string | undefined];
        const path = file === '' ? page : normalize(join(dirname(page), file));
        if (!existsSync(join(ROOT, path))) {
          broken.push(`${target}: no such file`);
          continue;
        }
        if (anchor !== undefined && path.endsWith('.md') && !anchorsOf(path).has(anchor)) broken.push(`${target}: no such heading`);
      }
      expect(broken).toEqual([]);
    });
  }
});

// docs/reference/cli.md is generated from the commands (npm run docs:cli); this keeps it from
// going stale: every command of the oclif manifest (written by npm run build) has its section
// there, with each of its flags.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const REFERENCE = path.join(ROOT, 'docs/reference/cli.md');
const MANIFEST = path.join(ROOT, 'oclif.manifest.json');

interface Manifest {
  commands: Record<string, { hidden?: boolean; flags: Record<string, { hidden?: boolean }> }>;
}

/** Each command's section of the reference, by its heading `## \`ferry ID …\``. */
function sections(doc: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const part of doc.split('\n## `ferry ').slice(1)) {
    const id = (part.split(/[ `]/, 1)[0] as string).trim();
    found.set(id, part);
  }
  return found;
}

describe('the generated command reference', () => {
  it('has every command and every flag (run npm run docs:cli after changing them)', () => {
    expect(fs.existsSync(MANIFEST), 'oclif.manifest.json is written by npm run build').toBe(true);
    const manifest = JSON.parse(fs.readFileSync(MANIFEST, 'utf8')) as Manifest;
    const doc = sections(fs.readFileSync(REFERENCE, 'utf8'));
    const ids = Object.entries(manifest.commands).filter(([, c]) => !c.hidden).map(([id]) => id.replaceAll(':', ' '));
    expect(ids.length).toBeGreaterThan(10);
    expect([...doc.keys()].sort()).toEqual([...ids].sort());
    for (const [id, command] of Object.entries(manifest.commands)) {
      if (command.hidden) continue;
      const section = doc.get(id.replaceAll(':', ' ')) as string;
      for (const [flag, spec] of Object.entries(command.flags)) {
        if (!spec.hidden) expect(section, `ferry ${id} --${flag}`).toContain(`--${flag}`);
      }
    }
  });
});

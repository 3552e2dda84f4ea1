import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, hasErrorCode, isErrorPayload } from '../../../src/lib/error-codes.js';

const DOC = fs.readFileSync(fileURLToPath(new URL('../../../docs/errors.md', import.meta.url)), 'utf8');

describe('error codes', () => {
  it('documents every code in docs/errors.md with a section of its own', () => {
    const undocumented = ERROR_CODES.filter((code) => !DOC.includes(`\n## ${code}\n`));
    expect(undocumented).toEqual([]);
  });

  it('documents no code that does not exist', () => {
    const documented = [...DOC.matchAll(/^## (FERRY_ERR_\w+)$/gm)].map((m) => m[1]);
    expect(documented.filter((code) => !(ERROR_CODES as readonly string[]).includes(code as string))).toEqual([]);
  });

  it('matches errors on their code, whatever their class', () => {
    expect(hasErrorCode({ code: 'FERRY_ERR_USAGE' }, 'FERRY_ERR_USAGE')).toBe(true);
    expect(hasErrorCode(new Error('x'), 'FERRY_ERR_USAGE')).toBe(false);
    expect(isErrorPayload({ code: 'FERRY_ERR_USAGE', message: 'm' })).toBe(true);
    expect(isErrorPayload({ code: 'FERRY_ERR_USAGE' })).toBe(false);
  });
});

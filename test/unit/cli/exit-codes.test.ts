import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ALL_EXIT_STATUSES, EXIT_FOR_CODE, exitCodeHelp } from '../../../src/cli/exit-codes.js';
import { ERROR_CODES } from '../../../src/lib/error-codes.js';
import { commandExits, ERRORS_DOC, generateErrorsDoc } from '../../../scripts/docs-errors.js';

// Issue 19, item 8: the docs, the help and the exits disagreed; now one table makes all three.
describe('the exit status table', () => {
  it('is what docs/errors.md says (run npm run docs:errors after changing it)', async () => {
    expect(fs.readFileSync(ERRORS_DOC, 'utf8')).toBe(await generateErrorsDoc());
  });

  it('gives every error code a status and docs/errors.md a section', () => {
    const doc = fs.readFileSync(ERRORS_DOC, 'utf8');
    for (const code of ERROR_CODES) {
      expect(EXIT_FOR_CODE[code], code).toBeDefined();
      expect(doc, code).toContain(`\n## ${code}\n`);
    }
  });

  it('has no status that no command returns', async () => {
    const declared = new Set((await commandExits()).flatMap((c) => c.exitStatuses));
    for (const status of ALL_EXIT_STATUSES.filter((s) => !['ok', 'failed', 'usage'].includes(s))) expect(declared.has(status), status).toBe(true);
  });

  it("ends each command's --help with the statuses it declares, and only those", async () => {
    for (const { id, description, exitStatuses } of await commandExits()) expect(description.endsWith(exitCodeHelp(exitStatuses)), id).toBe(true);
  });
});

describe('exitCodeHelp', () => {
  it('lists 0, 1 and 2 and the declared statuses, aligned, in the table order', () => {
    expect(exitCodeHelp(['inProgress', 'notRunning'])).toBe(
      [
        'EXIT CODES',
        '  0   ok',
        '  1   the operation failed, or a bug (FERRY_ERR_INTERNAL)',
        '  2   usage error: bad flag or argument, unknown command, no app in the directory, several instances and no --instance',
        '  3   no Ferry instance is running',
        '  69  a --wait (or restart --timeout) ran out of time; the operation goes on',
      ].join('\n'),
    );
  });
});

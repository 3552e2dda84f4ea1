// npm run docs:errors: writes the generated part of docs/errors.md (the exit statuses, which
// command returns each, and every code's status) from src/cli/exit-codes.ts and the commands'
// exitStatuses. test/unit/cli/exit-codes.test.ts fails when the file is not what this writes.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { renderExitTables, withExitTables, type CommandExits } from '../src/cli/exit-codes.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const ERRORS_DOC = path.join(ROOT, 'docs/errors.md');

/** Every command's id (its file name, as oclif names them), declared exit statuses and help text. */
export async function commandExits(): Promise<(CommandExits & { description: string })[]> {
  const dir = path.join(ROOT, 'src/commands');
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.ts')).sort();
  return Promise.all(
    files.map(async (file) => {
      const command = ((await import(pathToFileURL(path.join(dir, file)).href)) as { default: { exitStatuses: CommandExits['exitStatuses']; description: string } }).default;
      return { id: file.replace(/\.ts$/, ''), exitStatuses: command.exitStatuses, description: command.description };
    }),
  );
}

/** docs/errors.md as it should be. */
export async function generateErrorsDoc(): Promise<string> {
  return withExitTables(fs.readFileSync(ERRORS_DOC, 'utf8'), renderExitTables(await commandExits()));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  fs.writeFileSync(ERRORS_DOC, await generateErrorsDoc());
  console.log(`wrote ${path.relative(ROOT, ERRORS_DOC)}`);
}

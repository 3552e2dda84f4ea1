// Parses an env file (dotenv syntax) into variables. Strict where the dotenv package, systemd's
// EnvironmentFile= and a shell's `source` read the same line differently: such a line is an error,
// never a guess, so a file means the same wherever else it is used. No variable expansion: `$` is
// refused where another tool would expand it (unquoted, double quotes) and literal in single quotes.
// Errors name the file and line, never the value (it may be a secret).
//
//   KEY=value          unquoted: blanks inside kept, trailing blanks and a ` # comment` dropped
//   export KEY=value   the shell's form, same meaning
//   KEY='literal'      nothing is special inside, on one line
//   KEY="a\nb"         escapes \n \t \" \\ \$; may span lines (the newlines are kept)
//   # comment          and blank lines

/** An env file line that cannot be read; `line` counts from 1. */
export class DotenvError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly problem: string,
  ) {
    super(`${file}:${line}: ${problem}`);
    this.name = 'DotenvError';
  }
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const DOUBLE_ESCAPES: Record<string, string> = { n: '\n', t: '\t', '"': '"', '\\': '\\', $: '$' };

/** What may follow a closing quote or an unquoted value: blanks, then nothing or a comment. */
function checkRest(rest: string, fail: (problem: string) => never, key: string): void {
  if (rest === '' || /^\s+(#.*)?$/.test(rest)) return;
  fail(`${key}: unexpected text after the value (put a blank before a # comment, or quote the whole value)`);
}

function unquoted(raw: string, fail: (problem: string) => never, key: string): string {
  const comment = raw.search(/\s#/);
  const value = (comment === -1 ? raw : raw.slice(0, comment)).replace(/\s+$/, '');
  if (/^\s/.test(raw) && value !== '') fail(`${key}: a blank after '=' (write ${key}=value, or quote the value)`);
  if (value.includes('#')) fail(`${key}: '#' inside an unquoted value (other tools start a comment there): quote the value`);
  if (value.includes('$')) fail(`${key}: '$' in an unquoted value; Ferry does not expand variables, other tools do: put the value in single quotes for a literal $`);
  if (/["'`\\]/.test(value)) fail(`${key}: a quote or backslash inside an unquoted value is read differently by other tools: quote the whole value`);
  return value;
}

/**
 * The variables of an env file's text; `file` names it in errors. A name set twice is an error
 * (the dotenv package keeps the first, systemd the last).
 */
export function parseDotenv(text: string, file: string): Record<string, string> {
  const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  const env: Record<string, string> = Object.create(null) as Record<string, string>;
  const seenAt = new Map<string, number>();
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const fail = (problem: string): never => {
      throw new DotenvError(file, lineNo, problem);
    };
    const line = lines[i] as string;
    if (line.includes('\0')) fail('a NUL byte, which no environment variable can hold');
    const trimmed = line.replace(/^\s+/, '');
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const body = trimmed.replace(/^export\s+/, '');
    const eq = body.indexOf('=');
    if (eq === -1) fail(NAME.test(body.trim()) ? `${body.trim()} has no '=' (write NAME=value; an empty value is NAME=)` : "not NAME=value (a comment line starts with '#')");
    const key = body.slice(0, eq);
    if (!NAME.test(key)) fail(/\s$/.test(key) && NAME.test(key.trim()) ? `${key.trim()}: a blank before '=' (write ${key.trim()}=value)` : 'the name before \'=\' is not a variable name (letters, digits and _, not starting with a digit)');
    const raw = body.slice(eq + 1);
    let value: string;
    if (raw.startsWith("'")) {
      const close = raw.indexOf("'", 1);
      if (close === -1) fail(`${key}: the single quote is not closed on this line (only double quotes may span lines)`);
      value = raw.slice(1, close);
      checkRest(raw.slice(close + 1), fail, key);
    } else if (raw.startsWith('"')) {
      // May span lines: read on until the closing quote, keeping the newlines.
      let out = '';
      let text = raw.slice(1);
      let j = i;
      for (;;) {
        let k = 0;
        let closed = false;
        while (k < text.length) {
          const c = text[k] as string;
          if (c === '"') {
            closed = true;
            break;
          }
          if (c === '\\') {
            const next = text[k + 1];
            const escaped = next === undefined ? undefined : DOUBLE_ESCAPES[next];
            if (escaped === undefined) fail(`${key}: an unknown escape in double quotes (line ${j + 1}); known: \\n \\t \\" \\\\ \\$`);
            out += escaped;
            k += 2;
            continue;
          }
          if (c === '$') fail(`${key}: '$' in double quotes (line ${j + 1}); Ferry does not expand variables, other tools do: write \\$ or use single quotes`);
          out += c;
          k++;
        }
        if (closed) {
          checkRest(text.slice(k + 1), (problem) => {
            throw new DotenvError(file, j + 1, problem);
          }, key);
          break;
        }
        j++;
        if (j >= lines.length) fail(`${key}: the double quote opened here is never closed`);
        if ((lines[j] as string).includes('\0')) fail('a NUL byte, which no environment variable can hold');
        out += '\n';
        text = lines[j] as string;
      }
      value = out;
      i = j;
    } else {
      value = unquoted(raw, fail, key);
    }
    const earlier = seenAt.get(key);
    if (earlier !== undefined) fail(`${key} is set twice (line ${earlier} too); other tools disagree on which wins: keep one`);
    seenAt.set(key, lineNo);
    env[key] = value;
  }
  return { ...env };
}

import { describe, expect, it } from 'vitest';
import { DotenvError, parseDotenv } from '../../../src/lib/dotenv.js';

const parse = (text: string): Record<string, string> => parseDotenv(text, '/srv/app/.env');

/** The error a text gives: its line and problem. */
function errorOf(text: string): DotenvError {
  try {
    parse(text);
  } catch (err) {
    if (err instanceof DotenvError) return err;
    throw err;
  }
  throw new Error('expected a DotenvError');
}

describe('parseDotenv', () => {
  it('reads NAME=value lines, export lines, blank lines and comments', () => {
    const text = ['# database', '', 'DB_HOST=db.local', 'export DB_PORT=5432', '   # indented comment', 'EMPTY=', 'WITH_SPACES=a b  c   ', ''].join('\n');
    expect(parse(text)).toEqual({ DB_HOST: 'db.local', DB_PORT: '5432', EMPTY: '', WITH_SPACES: 'a b  c' });
  });

  it('drops a comment after an unquoted value only when a blank comes before the #', () => {
    expect(parse('A=1 # one\nB=two\t# two\nC= # none')).toEqual({ A: '1', B: 'two', C: '' });
    expect(errorOf('A=x#y').problem).toMatch(/'#' inside an unquoted value/);
  });

  it('keeps everything inside single quotes literally', () => {
    expect(parse(`A='p$ss "w\\n" #1'  # comment`)).toEqual({ A: 'p$ss "w\\n" #1' });
    expect(parse("A=''")).toEqual({ A: '' });
  });

  it('reads escapes inside double quotes, and a double-quoted value across lines', () => {
    expect(parse('A="a\\nb\\tc \\"q\\" \\\\ \\$HOME"')).toEqual({ A: 'a\nb\tc "q" \\ $HOME' });
    expect(parse('KEY="-----BEGIN KEY-----\nabc\n-----END KEY-----"\nNEXT=1')).toEqual({ KEY: '-----BEGIN KEY-----\nabc\n-----END KEY-----', NEXT: '1' });
  });

  it('reads CRLF line endings like LF', () => {
    expect(parse('A=1\r\nB="x"\r\n')).toEqual({ A: '1', B: 'x' });
  });

  it('expands no variables: $ is refused where other tools would expand it', () => {
    expect(errorOf('A=$HOME').problem).toMatch(/does not expand variables.*single quotes/);
    expect(errorOf('A="${HOME}/x"').problem).toMatch(/does not expand variables/);
  });

  it('refuses what dotenv and systemd read differently', () => {
    expect(errorOf('A=x\\y').problem).toMatch(/quote or backslash/);
    expect(errorOf('A=it\'s').problem).toMatch(/quote or backslash/);
    expect(errorOf('A= value').problem).toMatch(/a blank after '='/);
    expect(errorOf('A =value').problem).toMatch(/a blank before '='/);
    expect(errorOf('A="x"y').problem).toMatch(/unexpected text after the value/);
    expect(errorOf('A="x"#c').problem).toMatch(/unexpected text after the value/);
    expect(errorOf('A="\\q"').problem).toMatch(/unknown escape/);
  });

  it('refuses a name set twice, naming both lines', () => {
    const err = errorOf('A=1\nB=2\nA=3');
    expect(err.line).toBe(3);
    expect(err.problem).toMatch(/A is set twice \(line 1 too\)/);
  });

  it('refuses lines that are not NAME=value, with the file and line number', () => {
    const err = errorOf('A=1\n\nthis is not a variable');
    expect(err.message).toBe("/srv/app/.env:3: not NAME=value (a comment line starts with '#')");
    expect(errorOf('JUSTANAME').problem).toMatch(/JUSTANAME has no '='/);
    expect(errorOf('1ABC=x').problem).toMatch(/not a variable name/);
    expect(errorOf('A-B=x').problem).toMatch(/not a variable name/);
  });

  it('refuses an unclosed quote, at the line that opened it', () => {
    expect(errorOf("A=1\nB='open").line).toBe(2);
    expect(errorOf("B='open\nclose'").problem).toMatch(/single quote is not closed on this line/);
    const err = errorOf('A=1\nB="open\nstill open');
    expect(err.line).toBe(2);
    expect(err.problem).toMatch(/never closed/);
  });

  it('counts lines across a multi-line value', () => {
    expect(errorOf('A="x\ny"\nbad line').line).toBe(3);
  });

  it('refuses a NUL byte', () => {
    expect(errorOf('A=x\0y').problem).toMatch(/NUL/);
  });

  it('never puts the value in an error message', () => {
    const secret = 'hunter2-s3cr3t';
    for (const text of [`A=${secret}$`, `A="${secret}\\q"`, `A='${secret}`, `A=${secret}#x`, `A="${secret}"x`, `A=${secret} \\ x`, `A="${secret}`, `A=1\nA=${secret}`]) {
      const err = errorOf(text);
      expect(err.message).not.toContain(secret);
      expect(err.message).not.toContain('hunter2');
    }
  });

  it('gives a plain object (no prototype tricks from a key like __proto__)', () => {
    const env = parse('__proto__=x\nconstructor=y');
    expect(Object.keys(env).sort()).toEqual(['__proto__', 'constructor']);
    expect(env.constructor).toBe('y');
  });
});

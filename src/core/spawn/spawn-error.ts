// SpawnError: why an app process could not be started, with the facts an operator needs.

import path from 'node:path';
import type { AppConfig } from '../../lib/config.js';
import { CoreError } from '../errors.js';

export type SpawnErrorCategory = 'timeout' | 'exited-before-ready' | 'listen-failed' | 'interpreter-missing' | 'not-ready' | 'internal';

/** The step of a spawn that was under way when it failed; ready: waiting for --readiness-path to answer 2xx. */
export type SpawnStep = 'fork' | 'load' | 'listen' | 'ready';

export interface SpawnFailure {
  category: SpawnErrorCategory;
  step: SpawnStep;
  app: string;
  pid?: number;
  exitCode?: number | null;
  signal?: NodeJS.Signals | null;
  /** The last lines the process wrote to stderr (and stdout), bounded. */
  outputTail: string;
  durationMs: number;
  /** The command that runs the app by hand (byHandCommand), for the suggestion. */
  byHand?: string;
  /** Step 'ready': the readiness check, its timeout, and what it got last ("503", "ECONNREFUSED"). */
  readiness?: { path: string; timeoutMs: number; last: string };
}

/** Lines of a crash report that say nothing about the cause: stack frames, carets, Node's footer, lone braces. */
const NOISE = [/^\s+at /, /^\s*\^+\s*$/, /^Node\.js v\d/, /^\s*[{}[\]()]*\s*$/];

/** Node's (and most languages') "Error: ...", "TypeError [ERR_X]: ...", at the start of a line. */
const ERROR_LINE = /^\w*Error\b.*:/;
/** The `code: 'ENOENT',` property Node prints under an error with a code. */
const NODE_CODE_LINE = /^\s*code: '([^']+)'/;
const PYTHON_TRACEBACK = 'Traceback (most recent call last):';
/** A frame of a Python traceback: `  File "app.py", line 3, in <module>`. */
const PYTHON_FRAME = /^\s+File "(.*)", line (\d+), in (.*)$/;
/** Frames in Python itself or an installed package: not the line an app's developer can fix. */
const PYTHON_LIBRARY_FILE = /^<|\/lib\/python\d|\/(site|dist)-packages\//;
/** Ruby's uncaught exception: "file:line:in `method': message (SomeError)" (Errno::ENOENT too). */
const RUBY_ERROR_LINE = /^\S.*:in [`'].*\(([A-Z]\w*(::\w+)*)\)$/;

/**
 * The one line of a process's output that best says why it failed. Python prints the exception
 * raised last as the last unindented line of its last traceback (its last frame in the app's
 * own code, where it was raised, is added); Ruby prints the uncaught one first, its frame leading (its causes follow); Node prints the error line after the source it quotes, and its
 * properties (`code: ...`, then a lone `}`) after the stack, so the last error line is the
 * crash's own, not one the app logged earlier. Else the last line that is not noise.
 */
export function crashReason(output: string): string {
  const all = output.split('\n');
  const traceback = all.lastIndexOf(PYTHON_TRACEBACK);
  if (traceback >= 0) {
    const rest = all.slice(traceback + 1);
    const raised = rest.filter((l) => /^\S/.test(l)).pop();
    // Where it was raised in the app's own code (else the last frame): the line to open in an editor.
    const frames = rest.map((l) => PYTHON_FRAME.exec(l)).filter((m) => m !== null);
    const frame = frames.filter((m) => !PYTHON_LIBRARY_FILE.test(m[1] as string)).pop() ?? frames.pop();
    if (raised) return frame ? `${raised.trim()} (at ${frame[1]}:${frame[2]} in ${frame[3]})` : raised.trim();
  }
  const ruby = all.find((l) => RUBY_ERROR_LINE.test(l));
  if (ruby) return ruby.trim();
  const errorAt = all.findLastIndex((l) => ERROR_LINE.test(l));
  const code = all.slice(Math.max(errorAt, 0)).map((l) => NODE_CODE_LINE.exec(l)?.[1]).find(Boolean);
  if (errorAt >= 0) {
    const line = (all[errorAt] as string).trim();
    return code && !line.includes(code) ? `${line} (${code})` : line;
  }
  if (code) return `code: '${code}'`;
  const lines = all.filter((l) => !NOISE.some((re) => re.test(l)));
  return (lines[lines.length - 1] ?? '').trim();
}

/** Quotes a word for sh when it needs it. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * The command an operator can paste to run the app as Ferry does, minus Ferry's loader: the
 * interpreter and startup file Ferry used, in the app's directory, as the app's user. Running it
 * shows the whole error where the summary has one line.
 */
export function byHandCommand(app: Pick<AppConfig, 'root' | 'appType' | 'startupFile' | 'nodeCommand' | 'pythonCommand' | 'rubyCommand' | 'startCommand' | 'user'>): string {
  const file = shellWord(path.relative(app.root, app.startupFile) || '.');
  const run =
    app.appType === 'generic'
      ? `PORT=3000 sh -c ${shellWord(app.startCommand ?? '')}`
      : app.appType === 'python' || app.appType === 'asgi'
        ? `${shellWord(app.pythonCommand ?? 'python3')} ${file}`
        : app.appType === 'ruby'
          ? // config.ru is Rack's DSL, not a script: let Rack load it, as our loader does.
            `${shellWord(app.rubyCommand ?? 'ruby')} -rrack -e ${shellWord(`Rack::Builder.parse_file(${JSON.stringify(path.relative(app.root, app.startupFile))})`)}`
          : `${shellWord(app.nodeCommand)} ${file}`;
  return `cd ${shellWord(app.root)} && ${app.user ? `sudo -u ${shellWord(app.user.name)} ` : ''}${run}`;
}

function describe(f: SpawnFailure, startTimeoutMs: number): { message: string; suggestion: string } {
  const lastLine = crashReason(f.outputTail);
  switch (f.category) {
    case 'exited-before-ready': {
      const how = f.signal ? `was killed by ${f.signal}` : `exited with code ${String(f.exitCode)}`;
      const before = f.readiness ? `it was ready (GET ${f.readiness.path} last got ${f.readiness.last})` : 'it listened';
      return {
        message: `app '${f.app}' ${how} before ${before}${lastLine ? `: ${lastLine}` : ''}`,
        suggestion: f.byHand ? `Run the app by hand to see the whole error: ${f.byHand}` : 'Run the app by hand in its directory to see the whole error, fix it, then start again.',
      };
    }
    case 'timeout':
      return {
        message: `app '${f.app}' did not listen within ${Math.round(startTimeoutMs / 1000)}s (start timeout)`,
        suggestion: 'Make sure the app calls listen() at start-up, or raise --start-timeout if it is just slow.',
      };
    case 'not-ready': {
      const r = f.readiness ?? { path: '?', timeoutMs: 0, last: 'nothing' };
      return {
        message: `app '${f.app}' listened but GET ${r.path} did not answer 2xx within ${Math.round(r.timeoutMs / 1000)}s (readiness timeout); last: ${r.last}`,
        suggestion: `Make ${r.path} answer 2xx once the app can serve (404: is it the right path?), or raise --readiness-timeout if the app is just slow to warm up.`,
      };
    }
    case 'listen-failed':
      return {
        message: `app '${f.app}' could not listen: ${lastLine || 'unknown error'}`,
        suggestion: 'Check the app log above; the socket directory must be writable.',
      };
    case 'interpreter-missing':
      return {
        message: `app '${f.app}' could not be started: interpreter not found${lastLine ? ` (${lastLine})` : ''}`,
        suggestion: 'Install the interpreter, or point --nodejs, --python or --ruby at it.',
      };
    default:
      return { message: `app '${f.app}' could not be started${lastLine ? `: ${lastLine}` : ''}`, suggestion: 'See the log for details.' };
  }
}

export class SpawnError extends CoreError {
  readonly failure: SpawnFailure;

  constructor(failure: SpawnFailure, startTimeoutMs: number, cause?: unknown) {
    const { message, suggestion } = describe(failure, startTimeoutMs);
    const code =
      failure.category === 'timeout'
        ? 'FERRY_ERR_SPAWN_TIMEOUT'
        : failure.category === 'exited-before-ready'
          ? 'FERRY_ERR_SPAWN_EXITED'
          : failure.category === 'not-ready'
            ? 'FERRY_ERR_SPAWN_NOT_READY'
            : 'FERRY_ERR_SPAWN_FAILED';
    super(code, message, { cause, suggestions: [suggestion], details: { ...failure } });
    this.name = 'SpawnError';
    this.failure = failure;
  }
}

/** Keeps the last `maxBytes` of a process's output for error reports. */
export class OutputTail {
  private text = '';
  constructor(private readonly maxBytes = 4096) {}
  push(chunk: string): void {
    this.text += chunk;
    if (this.text.length > this.maxBytes) this.text = this.text.slice(this.text.length - this.maxBytes);
  }
  toString(): string {
    return this.text;
  }
}

// SpawnError: why an app process could not be started, with the facts an operator needs.

import { CoreError } from '../errors.js';

export type SpawnErrorCategory = 'timeout' | 'exited-before-ready' | 'listen-failed' | 'interpreter-missing' | 'internal';

/** The step of a spawn that was under way when it failed. */
export type SpawnStep = 'fork' | 'load' | 'listen';

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
}

/** Lines of a crash report that say nothing about the cause: stack frames, carets, Node's footer. */
const NOISE = [/^\s+at /, /^\s*\^+\s*$/, /^Node\.js v\d/, /^\s*$/];

/**
 * The one line of a process's output that best says why it failed: the last "SomethingError: ..."
 * line if there is one (Node prints the stack and its version after it), else the last line
 * that is not noise.
 */
export function summarizeOutput(output: string): string {
  const lines = output.split('\n').filter((l) => !NOISE.some((re) => re.test(l)));
  const errorLine = [...lines].reverse().find((l) => /^\s*(Uncaught )?[A-Z]\w*(Error|Exception)\b.*:/.test(l));
  return (errorLine ?? lines[lines.length - 1] ?? '').trim();
}

function describe(f: SpawnFailure, startTimeoutMs: number): { message: string; suggestion: string } {
  const lastLine = summarizeOutput(f.outputTail);
  switch (f.category) {
    case 'exited-before-ready': {
      const how = f.signal ? `was killed by ${f.signal}` : `exited with code ${String(f.exitCode)}`;
      return {
        message: `app '${f.app}' ${how} before it listened${lastLine ? `: ${lastLine}` : ''}`,
        suggestion: 'Run the app by hand (node <startup file>) to see the full error, fix it, then start again.',
      };
    }
    case 'timeout':
      return {
        message: `app '${f.app}' did not listen within ${Math.round(startTimeoutMs / 1000)}s (start timeout)`,
        suggestion: 'Make sure the app calls listen() at start-up, or raise --start-timeout if it is just slow.',
      };
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

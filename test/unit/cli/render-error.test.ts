import { describe, expect, it } from 'vitest';
import { renderError, usageMessage } from '../../../src/cli/render-error.js';

describe("oclif's parse errors in Ferry's voice", () => {
  it('puts every message on one line', () => {
    expect(usageMessage('Parsing --port \n\tExpected an integer but received: abc')).toEqual({ message: '--port: expected an integer but received: abc', suggestions: [] });
    expect(usageMessage('The following error occurred:\n  --json=true cannot also be provided when using --watch\nSee more help with --help').message).toBe('--json=true cannot also be provided when using --watch');
    expect(usageMessage('The following errors occurred:\n  a is wrong\n  b is wrong').message).toBe('a is wrong; b is wrong');
    expect(usageMessage('Missing 1 required arg:\npid  PID of the app process (see ferry status).').message).toBe('missing argument: PID (PID of the app process (see ferry status))');
  });

  it('names an unknown flag and the one probably meant', () => {
    expect(usageMessage('Nonexistent flag: --instanc', ['instance', 'timeout', 'json'])).toEqual({ message: 'unknown flag --instanc', suggestions: ['Did you mean --instance (for --instanc)?'] });
    expect(usageMessage('Nonexistent flags: --bogus, --jsno', ['json'])).toEqual({ message: 'unknown flags --bogus, --jsno', suggestions: ['Did you mean --json (for --jsno)?'] });
  });

  it('renders them as Ferry renders its own: Error line, suggestions, help, exit 2, or JSON', () => {
    const err = Object.assign(new Error('Flag --port expects a value'), { oclif: { exit: 2 } });
    expect(renderError(err, { json: false, color: false, commandId: 'start' })).toEqual({ stderr: 'Error: --port needs a value\n  See: ferry start --help\n', exitCode: 2 });
    const json = renderError(err, { json: true, color: false, commandId: 'start' });
    expect(JSON.parse(json.stdout ?? '')).toEqual({ error: { code: 'FERRY_ERR_USAGE', message: '--port needs a value', suggestions: [] } });
    expect(json.exitCode).toBe(2);
  });
});

import { expect } from 'vitest';

/** Runs `fn`, which must throw an instance of `type`, and returns what it threw. */
export function thrownBy<E extends Error>(fn: () => unknown, type: abstract new (...args: never[]) => E): E {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(type);
    return err as E;
  }
  throw new Error(`expected a ${type.name}, but nothing was thrown`);
}

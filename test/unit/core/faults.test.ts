import { describe, expect, it } from 'vitest';
import { FAULT_POINTS, FaultInjector, faultPlanFromEnv, faultStream, mulberry32, parseFaultSeed, parseFaultSpec, type FaultPlan } from '../../../src/core/faults.js';
import { CoreError } from '../../../src/core/errors.js';
import { Logger } from '../../../src/core/log.js';
import { thrownBy } from '../../helpers/thrown.js';

const errorOf = (fn: () => unknown): CoreError => thrownBy(fn, CoreError);

function plan(probabilities: FaultPlan['probabilities'], seed = 42): FaultPlan {
  return { probabilities, seed, seedChosen: false };
}

/** The indexes, among `count` consultations of `point`, that failed. */
function failures(injector: FaultInjector, point: (typeof FAULT_POINTS)[number], count: number): number[] {
  const failed: number[] = [];
  for (let i = 0; i < count; i++) if (injector.fails(point)) failed.push(i);
  return failed;
}

function armed(p: FaultPlan, log?: Logger): FaultInjector {
  const injector = new FaultInjector(p, log);
  injector.arm();
  return injector;
}

describe('parseFaultSpec', () => {
  it('reads every point with its probability, ignoring spaces and a trailing comma', () => {
    expect(parseFaultSpec('spawn=0.2, upstream-connect=0.05,accept=.01 ,fs-write=1,')).toEqual({ spawn: 0.2, 'upstream-connect': 0.05, accept: 0.01, 'fs-write': 1 });
    expect(parseFaultSpec('spawn=0')).toEqual({ spawn: 0 });
    expect(parseFaultSpec('')).toEqual({});
  });

  it('names an unknown point and lists the known ones', () => {
    const err = errorOf(() => parseFaultSpec('spawn=0.1,spwan=0.2'));
    expect(err.code).toBe('FERRY_ERR_FAULTS_INVALID');
    expect(err.message).toBe('FERRY_FAULTS: unknown fault point "spwan" in "spwan=0.2" (known points: spawn, upstream-connect, accept, fs-write)');
    expect(err.suggestions[0]).toContain('point=probability');
  });

  it.each(['2', '1.5', '-0.1', 'abc', '', '5%', '1e-2', 'NaN', '0x1'])('refuses the probability %j, quoting the item', (value) => {
    expect(errorOf(() => parseFaultSpec(`accept=${value}`)).message).toBe(`FERRY_FAULTS: "accept=${value}" has a bad probability "${value}" (give a number from 0 to 1, like accept=0.05)`);
  });

  it('refuses an item without "=" and a point given twice', () => {
    expect(errorOf(() => parseFaultSpec('spawn')).message).toBe('FERRY_FAULTS: "spawn" is not point=probability');
    expect(errorOf(() => parseFaultSpec('spawn=0.1,spawn=0.2')).message).toBe('FERRY_FAULTS: fault point "spawn" is given twice');
  });
});

describe('parseFaultSeed', () => {
  it('takes any whole number JavaScript holds exactly, negative too', () => {
    expect([parseFaultSeed('0'), parseFaultSeed(' 42 '), parseFaultSeed('-7'), parseFaultSeed('1795787956961')]).toEqual([0, 42, -7, 1795787956961]);
  });

  it.each(['abc', '1.5', '', '1e3', '99999999999999999999'])('refuses %j', (text) => {
    expect(errorOf(() => parseFaultSeed(text)).message).toBe(`FERRY_FAULTS_SEED: "${text}" is not a whole number`);
  });
});

describe('faultPlanFromEnv', () => {
  it('is off without FERRY_FAULTS (or with an empty one), whatever the seed says', () => {
    expect(faultPlanFromEnv({})).toBeUndefined();
    expect(faultPlanFromEnv({ FERRY_FAULTS: ' ', FERRY_FAULTS_SEED: 'not a number' })).toBeUndefined();
  });

  it('takes the given seed, or chooses one and says so', () => {
    expect(faultPlanFromEnv({ FERRY_FAULTS: 'spawn=0.2', FERRY_FAULTS_SEED: '7' })).toEqual({ probabilities: { spawn: 0.2 }, seed: 7, seedChosen: false });
    expect(faultPlanFromEnv({ FERRY_FAULTS: 'spawn=0.2' }, () => 1234)).toEqual({ probabilities: { spawn: 0.2 }, seed: 1234, seedChosen: true });
    const chosen = faultPlanFromEnv({ FERRY_FAULTS: 'spawn=0.2' });
    expect(Number.isSafeInteger(chosen?.seed)).toBe(true);
  });

  it('refuses a bad seed once faults are asked for', () => {
    expect(errorOf(() => faultPlanFromEnv({ FERRY_FAULTS: 'spawn=0.2', FERRY_FAULTS_SEED: 'x' })).code).toBe('FERRY_ERR_FAULTS_INVALID');
  });
});

describe('the seeded streams', () => {
  it('draws numbers in [0, 1), the same for the same state', () => {
    const a = mulberry32(1);
    const b = mulberry32(1);
    const drawsA = Array.from({ length: 1000 }, a);
    expect(Array.from({ length: 1000 }, b)).toEqual(drawsA);
    expect(drawsA.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(new Set(drawsA).size).toBeGreaterThan(990);
    expect(Array.from({ length: 10 }, mulberry32(2))).not.toEqual(drawsA.slice(0, 10));
  });

  it('gives each point its own stream, and each seed its own streams', () => {
    const firsts = (seed: number) => FAULT_POINTS.map((point) => faultStream(seed, point)());
    expect(new Set(firsts(42)).size).toBe(FAULT_POINTS.length);
    expect(firsts(42)).toEqual(firsts(42));
    expect(firsts(43)).not.toEqual(firsts(42));
  });

  it('fails about as often as asked', () => {
    const injector = armed(plan({ spawn: 0.2 }, 9));
    const failed = failures(injector, 'spawn', 10_000).length;
    expect(failed).toBeGreaterThan(1800);
    expect(failed).toBeLessThan(2200);
  });
});

describe('FaultInjector', () => {
  it('fails the same operations for the same seed', () => {
    const probabilities = { spawn: 0.2, 'upstream-connect': 0.05, accept: 0.01, 'fs-write': 0.05 };
    const run = (seed: number) => FAULT_POINTS.map((point) => failures(armed(plan(probabilities, seed)), point, 2000));
    const first = run(1234);
    expect(run(1234)).toEqual(first);
    expect(run(1235)).not.toEqual(first);
    expect(first.every((failed) => failed.length > 0)).toBe(true);
  });

  it("keeps one point's decisions independent of how often the others were consulted", () => {
    const probabilities = { spawn: 0.3, accept: 0.3 };
    const alone = failures(armed(plan(probabilities)), 'spawn', 500);

    // The same 500 spawn decisions, with accept consulted a varying number of times in between.
    const mixed = armed(plan(probabilities));
    const interleaved: number[] = [];
    for (let i = 0; i < 500; i++) {
      for (let j = 0; j < i % 7; j++) mixed.fails('accept');
      if (mixed.fails('spawn')) interleaved.push(i);
    }
    expect(interleaved).toEqual(alone);
  });

  it('never fails a point it was not given, nor anything before it is armed', () => {
    const injector = new FaultInjector(plan({ spawn: 1, accept: 0 }));
    expect(failures(injector, 'spawn', 10)).toEqual([]);
    injector.arm();
    expect(failures(injector, 'spawn', 10)).toHaveLength(10);
    expect(failures(injector, 'accept', 100)).toEqual([]);
    expect(failures(injector, 'fs-write', 100)).toEqual([]);
    expect(injector.fired).toEqual({ spawn: 10, 'upstream-connect': 0, accept: 0, 'fs-write': 0 });
  });

  it('does not draw while disarmed, so arming later starts the stream at its beginning', () => {
    const early = new FaultInjector(plan({ spawn: 0.5 }));
    failures(early, 'spawn', 50); // disarmed: no draws
    early.arm();
    expect(failures(early, 'spawn', 200)).toEqual(failures(armed(plan({ spawn: 0.5 })), 'spawn', 200));
  });

  it('logs every injected fault at warn with fault: <point>', () => {
    const lines: string[] = [];
    const log = new Logger({ level: 'warn', format: 'json', sink: { write: (line) => lines.push(line) } });
    const injector = armed(plan({ 'fs-write': 1 }), log);
    expect(injector.fails('fs-write', { file: 'workers/1.json' })).toBe(true);
    expect(lines.map((l) => JSON.parse(l) as Record<string, unknown>)).toEqual([
      expect.objectContaining({ level: 40, msg: 'injected fault', fault: 'fs-write', file: 'workers/1.json' }),
    ]);
  });
});

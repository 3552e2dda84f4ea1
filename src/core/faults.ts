// Fault injection, for people who test their deployment: FERRY_FAULTS names failure points and
// how often each fails, FERRY_FAULTS_SEED makes a run repeatable. Each point draws from its own
// seeded stream, so the same seed and the same sequence of operations fail the same operations,
// however often the other points were consulted. Call sites hold a FaultInjector only when
// FERRY_FAULTS is set, so without it the hot path pays one undefined check.

import crypto from 'node:crypto';
import { CoreError } from './errors.js';
import type { LogFields, Logger } from './log.js';

/** Where a fault can be injected; each wraps one real operation (see README, "Fault injection"). */
export const FAULT_POINTS = [
  /** DirectSpawner starting an app process: fails as if the process exited before it listened. */
  'spawn',
  /** A request forwarded to an app process: fails as if the process refused the connection. */
  'upstream-connect',
  /** A newly accepted client connection: its first request gets 503 and the connection closes. */
  'accept',
  /** A write the core makes in the instance directory (worker records): fails with EIO. */
  'fs-write',
] as const;

export type FaultPoint = (typeof FAULT_POINTS)[number];

export const FAULTS_ENV = 'FERRY_FAULTS';
export const FAULTS_SEED_ENV = 'FERRY_FAULTS_SEED';

export interface FaultPlan {
  /** Probability (0..1) that one operation at the point fails; points not listed never fail. */
  probabilities: Partial<Record<FaultPoint, number>>;
  seed: number;
  /** True when FERRY_FAULTS_SEED was not given and the seed was drawn at random. */
  seedChosen: boolean;
}

function invalid(message: string): CoreError {
  return new CoreError('FERRY_ERR_FAULTS_INVALID', message, {
    suggestions: [`Write ${FAULTS_ENV} as point=probability,... with points ${FAULT_POINTS.join(', ')} and probabilities from 0 to 1, e.g. ${FAULTS_ENV}=spawn=0.2,accept=0.01`],
  });
}

/** A probability as people write it: 0, 1, 0.05, .5, 1.0 (no exponents, no percent signs). */
const PROBABILITY = /^(?:0|1|0?\.\d+|[01]\.\d*)$/;

function isFaultPoint(name: string): name is FaultPoint {
  return (FAULT_POINTS as readonly string[]).includes(name);
}

/** Parses FERRY_FAULTS ("spawn=0.2,accept=0.01"); a bad item throws FERRY_ERR_FAULTS_INVALID naming it. */
export function parseFaultSpec(spec: string): Partial<Record<FaultPoint, number>> {
  const probabilities: Partial<Record<FaultPoint, number>> = {};
  // Empty items (a trailing comma) say nothing and are skipped.
  for (const item of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = item.indexOf('=');
    if (eq < 0) throw invalid(`${FAULTS_ENV}: "${item}" is not point=probability`);
    const name = item.slice(0, eq).trim();
    const value = item.slice(eq + 1).trim();
    if (!isFaultPoint(name)) throw invalid(`${FAULTS_ENV}: unknown fault point "${name}" in "${item}" (known points: ${FAULT_POINTS.join(', ')})`);
    const probability = Number(value);
    if (!PROBABILITY.test(value) || !(probability >= 0 && probability <= 1)) {
      throw invalid(`${FAULTS_ENV}: "${item}" has a bad probability "${value}" (give a number from 0 to 1, like ${name}=0.05)`);
    }
    if (name in probabilities) throw invalid(`${FAULTS_ENV}: fault point "${name}" is given twice`);
    probabilities[name] = probability;
  }
  return probabilities;
}

/** Parses FERRY_FAULTS_SEED: a whole number (negative allowed), as JavaScript can hold it exactly. */
export function parseFaultSeed(text: string): number {
  const trimmed = text.trim();
  const seed = Number(trimmed);
  if (!/^-?\d+$/.test(trimmed) || !Number.isSafeInteger(seed)) throw invalid(`${FAULTS_SEED_ENV}: "${text}" is not a whole number`);
  return seed;
}

/**
 * The fault plan from the environment, or undefined when FERRY_FAULTS is unset or empty (then the
 * seed is not looked at). Throws FERRY_ERR_FAULTS_INVALID for a bad item or seed.
 */
export function faultPlanFromEnv(env: NodeJS.ProcessEnv, chooseSeed: () => number = () => crypto.randomInt(0, 2 ** 31)): FaultPlan | undefined {
  const spec = env[FAULTS_ENV];
  if (spec === undefined || spec.trim() === '') return undefined;
  const probabilities = parseFaultSpec(spec);
  const given = env[FAULTS_SEED_ENV];
  if (given !== undefined && given.trim() !== '') return { probabilities, seed: parseFaultSeed(given), seedChosen: false };
  return { probabilities, seed: chooseSeed(), seedChosen: true };
}

/** FNV-1a over a string, then a final avalanche (murmur3's fmix32): a 32-bit state from any text. */
function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** mulberry32: a small, fast 32-bit PRNG; plenty for deciding failures, not for anything secret. */
export function mulberry32(state: number): () => number {
  let a = state >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The stream of one point: derived from the seed and the point's name, so points never share draws. */
export function faultStream(seed: number, point: FaultPoint): () => number {
  return mulberry32(hash32(`${seed}:${point}`));
}

/**
 * Decides, per operation, whether a fault point fails. Disarmed until the core serves, so the
 * start-up of an instance (and `ferry start`) only ever fails for real reasons.
 */
export class FaultInjector {
  private armed = false;
  private readonly streams = new Map<FaultPoint, { probability: number; next: () => number }>();
  /** Faults fired so far, per point. */
  readonly fired: Record<FaultPoint, number> = { spawn: 0, 'upstream-connect': 0, accept: 0, 'fs-write': 0 };

  constructor(
    readonly plan: FaultPlan,
    private readonly log?: Logger,
  ) {
    for (const point of FAULT_POINTS) {
      const probability = plan.probabilities[point];
      if (probability !== undefined && probability > 0) this.streams.set(point, { probability, next: faultStream(plan.seed, point) });
    }
  }

  arm(): void {
    this.armed = true;
  }

  /** True when this operation at `point` must fail; logged at warn with `fault: <point>` so testers can count. */
  fails(point: FaultPoint, fields?: LogFields): boolean {
    if (!this.armed) return false;
    const stream = this.streams.get(point);
    if (stream === undefined || stream.next() >= stream.probability) return false;
    this.fired[point]++;
    this.log?.warn('injected fault', { ...fields, fault: point });
    return true;
  }
}

/** An error shaped like the one the kernel gives for a failed write (EIO), marked as injected. */
export function injectedIoError(syscall: string, file: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`EIO: i/o error, ${syscall} '${file}' (injected fault: fs-write)`), { code: 'EIO', errno: -5, syscall, path: file });
}

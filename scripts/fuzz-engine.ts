// Differential fuzz of src/core/engine against Node's llhttp, as long as you like:
//   npx tsx scripts/fuzz-engine.ts [--seed N] [--count N]
// Prints the seed, the counts, the categories Ferry refuses where llhttp accepts, and every
// disagreement with its input as a JSON string (replay it in test/unit/core/engine/corpus.test.ts).
// Exits 1 on any disagreement.

import { parseArgs } from 'node:util';
import { runFuzz } from '../test/helpers/engine-fuzz.js';

const { values } = parseArgs({ options: { seed: { type: 'string' }, count: { type: 'string', default: '100000' } } });
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
const count = Number(values.count);
console.log(`seed ${seed}, ${count} cases`);
const started = performance.now();
const report = await runFuzz(seed, count);
console.log(`${report.cases} cases in ${((performance.now() - started) / 1000).toFixed(1)} s: ${report.agreements} agree, ${report.disagreements.length} disagree`);
console.log('Ferry refuses, llhttp accepts:');
for (const [reason, n] of [...report.ferryRefuses].sort((a, b) => b[1] - a[1])) console.log(`  ${String(n).padStart(6)}  ${reason}`);
for (const { input, detail } of report.disagreements) console.log(`DISAGREE (seed ${seed}) ${JSON.stringify(input)}\n  ${detail}`);
process.exitCode = report.disagreements.length > 0 ? 1 : 0;

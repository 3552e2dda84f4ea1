import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FaultInjector } from '../../../src/core/faults.js';
import { InstanceDirectory } from '../../../src/core/instance-registry/instance-dir.js';
import { INSTANCE_FILES, scanRegistry, type InstanceProperties } from '../../../src/lib/instance-registry.js';

let registry: string;
const instances: InstanceDirectory[] = [];

beforeEach(() => {
  registry = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-registry-'));
});

afterEach(() => {
  for (const instance of instances.splice(0)) instance.remove();
  fs.rmSync(registry, { recursive: true, force: true });
});

function properties(name: string): InstanceProperties {
  return {
    name,
    version: '0.1.0',
    watchdog_pid: process.pid,
    core_pid: null,
    addresses: ['http://127.0.0.1:3000/'],
    apps: [{ name: 'hello', root: '/srv/hello' }],
    created_at: '2026-01-02T03:04:05.000Z',
  };
}

/** A live instance: created (and so locked) the way the watchdog creates it. */
function liveInstance(): InstanceDirectory {
  const instance = InstanceDirectory.create(registry);
  instances.push(instance);
  instance.writeProperties(properties(instance.name));
  return instance;
}

/** The directory a watchdog leaves when it dies: its files stay, but nobody holds the lock. */
function deadInstance(name: string, withProperties: boolean): string {
  const dir = path.join(registry, `ferry.${name}`);
  fs.mkdirSync(dir, { mode: 0o700 });
  fs.writeFileSync(path.join(dir, INSTANCE_FILES.lock), '');
  if (withProperties) fs.writeFileSync(path.join(dir, INSTANCE_FILES.properties), JSON.stringify(properties(name)));
  return dir;
}

describe('scanRegistry', () => {
  it('lists a locked directory with properties as live', () => {
    const instance = liveInstance();
    expect(scanRegistry(registry)).toEqual({
      live: [{ name: instance.name, dir: instance.dir, properties: properties(instance.name) }],
      cleaned: [],
    });
  });

  it("removes a dead instance's app user directories with it, and leaves a live one's alone", () => {
    deadInstance('dead0001', true);
    fs.mkdirSync(path.join(registry, 'ferry-apps.dead0001.1000'));
    const live = liveInstance();
    const liveUserDir = live.appUserDir(process.getuid?.() ?? 0, process.getgid?.() ?? 0);
    expect(scanRegistry(registry).cleaned).toEqual([path.join(registry, 'ferry.dead0001')]);
    expect(fs.readdirSync(registry).sort()).toEqual([path.basename(live.dir), path.basename(liveUserDir)].sort());
    live.remove();
    expect(fs.readdirSync(registry)).toEqual([]);
  });

  it('no longer lists an instance once its directory is removed', () => {
    const instance = liveInstance();
    instance.remove();
    expect(scanRegistry(registry)).toEqual({ live: [], cleaned: [] });
  });

  it('sorts live instances by name', () => {
    const names = [liveInstance(), liveInstance(), liveInstance()].map((i) => i.name);
    expect(scanRegistry(registry).live.map((i) => i.name)).toEqual([...names].sort((a, b) => a.localeCompare(b)));
  });

  it('removes an unlocked directory with properties (a dead watchdog) and reports it as cleaned', () => {
    const dir = deadInstance('dead0001', true);
    expect(scanRegistry(registry)).toEqual({ live: [], cleaned: [dir] });
    expect(fs.existsSync(dir)).toBe(false);
  });

  it('leaves alone an unlocked directory without properties that is younger than a minute', () => {
    const dir = deadInstance('young001', false);
    expect(scanRegistry(registry)).toEqual({ live: [], cleaned: [] });
    expect(fs.existsSync(dir)).toBe(true);
  });

  it('removes an unlocked directory without properties once it is older than a minute', () => {
    const dir = deadInstance('stale001', false);
    expect(scanRegistry(registry, Date.now() + 61_000)).toEqual({ live: [], cleaned: [dir] });
    expect(fs.existsSync(dir)).toBe(false);
  });

  it('neither lists nor removes a locked directory whose properties are not written yet', () => {
    const instance = InstanceDirectory.create(registry);
    instances.push(instance);
    expect(scanRegistry(registry, Date.now() + 61_000)).toEqual({ live: [], cleaned: [] });
    expect(fs.existsSync(instance.dir)).toBe(true);
  });

  it('ignores entries that are not instance directories', () => {
    const other = path.join(registry, 'other');
    fs.mkdirSync(other);
    fs.writeFileSync(path.join(other, INSTANCE_FILES.properties), JSON.stringify(properties('other')));
    fs.writeFileSync(path.join(registry, 'ferry.file'), '');
    expect(scanRegistry(registry, Date.now() + 61_000)).toEqual({ live: [], cleaned: [] });
    expect(fs.existsSync(other)).toBe(true);
  });

  it('returns an empty scan for a registry that does not exist', () => {
    expect(scanRegistry(path.join(registry, 'missing'))).toEqual({ live: [], cleaned: [] });
  });
});

describe('InstanceDirectory with the fs-write fault', () => {
  it('fails record writes and removals with EIO and leaves the files as they were', () => {
    const created = liveInstance();
    const faults = new FaultInjector({ probabilities: { 'fs-write': 1 }, seed: 1, seedChosen: false });
    const core = InstanceDirectory.open(created.dir, faults);
    const record = { pid: 4242, pgid: 4242, app: 'hello', address: 'unix:/x', corePid: process.pid, startedAt: '2026-01-02T03:04:05.000Z' };

    core.recordWorker(record); // not armed yet: a real write
    faults.arm();
    expect(() => core.recordWorker({ ...record, pid: 4243 })).toThrow(expect.objectContaining({ code: 'EIO', syscall: 'write', message: expect.stringContaining('injected fault: fs-write') }));
    expect(() => core.forgetWorker(4242)).toThrow(expect.objectContaining({ code: 'EIO', syscall: 'unlink' }));

    expect(fs.readdirSync(path.join(created.dir, INSTANCE_FILES.workersDir))).toEqual(['4242.json']);
    expect(faults.fired['fs-write']).toBe(2);
  });
});

// What a foreground `ferry start` tells systemd (Type=notify): READY=1 once the instance serves,
// RELOADING=1 ... READY=1 around a core handover (`ferry restart`), STOPPING=1 at a graceful stop,
// and WATCHDOG=1 every WATCHDOG_USEC/2 while the core answers its admin ping. ferry start is the
// service's main process, so NotifyAccess=main suffices; with --daemonize it names the watchdog
// as MAINPID before it exits.

import type { InstanceSummary } from '../lib/ipc-messages.js';
import { readProperties } from '../lib/instance-registry.js';
import { openSdNotifier, watchdogIntervalMs, type SdNotifier } from '../lib/sd-notify.js';
import { AdminClient } from './admin-client.js';

/** A core that takes longer than this to answer a ping misses this round's WATCHDOG=1. */
const MAX_PING_TIMEOUT_MS = 5_000;

export class ServiceNotifier {
  private timer: NodeJS.Timeout | undefined;
  private stoppingSent = false;

  private constructor(
    private readonly sd: SdNotifier,
    private readonly watchdogMs: number | undefined,
  ) {}

  /** A notifier when systemd set NOTIFY_SOCKET, else undefined (and koffi is never loaded). */
  static fromEnv(env: NodeJS.ProcessEnv = process.env, pid = process.pid): ServiceNotifier | undefined {
    let sd: SdNotifier | undefined;
    try {
      sd = openSdNotifier(env);
    } catch (err) {
      // koffi has no binary for this platform: serve all the same; systemd will time out the start.
      process.stderr.write(`ferry: cannot notify systemd (NOTIFY_SOCKET=${env.NOTIFY_SOCKET}): ${(err as Error).message}\n`);
      return undefined;
    }
    return sd ? new ServiceNotifier(sd, watchdogIntervalMs(env, pid)) : undefined;
  }

  /** The instance serves. In the foreground, starts the watchdog pings too. */
  ready(instance: InstanceSummary, opts: { mainPid?: number } = {}): void {
    this.sd.notify(`READY=1\nSTATUS=Serving at ${instance.addresses.join(' ')} (instance ${instance.name})${opts.mainPid ? `\nMAINPID=${opts.mainPid}` : ''}`);
    if (this.watchdogMs !== undefined && opts.mainPid === undefined) this.startWatchdog(instance);
  }

  reloading(): void {
    // MONOTONIC_USEC: required by Type=notify-reload, harmless for Type=notify.
    this.sd.notify(`RELOADING=1\nSTATUS=Restarting the core\nMONOTONIC_USEC=${process.hrtime.bigint() / 1000n}`);
  }

  reloaded(ok: boolean, instance: InstanceSummary): void {
    this.sd.notify(`READY=1\nSTATUS=${ok ? 'Serving' : 'Core restart failed; the old core goes on serving'} at ${instance.addresses.join(' ')} (instance ${instance.name})`);
  }

  stopping(): void {
    if (this.stoppingSent) return;
    this.stoppingSent = true;
    this.stopWatchdog();
    this.sd.notify('STOPPING=1\nSTATUS=Stopping gracefully');
  }

  close(): void {
    this.stopWatchdog();
    this.sd.close();
  }

  private startWatchdog(instance: InstanceSummary): void {
    const intervalMs = this.watchdogMs as number;
    const timeoutMs = Math.max(50, Math.min(MAX_PING_TIMEOUT_MS, intervalMs));
    let pinging = false;
    const ping = async (): Promise<void> => {
      if (pinging) return; // the last ping still waits: the core is slow, say nothing
      pinging = true;
      try {
        const properties = readProperties(instance.dir);
        if (!properties) return;
        await new AdminClient({ name: instance.name, dir: instance.dir, properties }, timeoutMs).call('ping');
        if (this.timer) this.sd.notify('WATCHDOG=1');
      } catch {
        // Not answering (or restarting): no ping; systemd acts once WatchdogSec passes without one.
      } finally {
        pinging = false;
      }
    };
    this.timer = setInterval(() => void ping(), intervalMs);
    this.timer.unref();
    void ping();
  }

  private stopWatchdog(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

// The only caller of ink's render(): the live `--watch` view. Ink and React load only here, and
// only when --watch is asked for, so one-shot commands stay fast.

import type { PoolResponse, ServerResponse } from '../../lib/admin-api-contract.js';
import type { AdminClient } from '../admin-client.js';

export async function watchStatus(client: AdminClient, intervalMs = 1000): Promise<void> {
  const [{ render }, React, { StatusView }] = await Promise.all([import('ink'), import('react'), import('./StatusView.js')]);
  const fetchProps = async (): Promise<{ pool: PoolResponse; server: ServerResponse }> => {
    const [pool, server] = await Promise.all([client.call<PoolResponse>('pool'), client.call<ServerResponse>('server')]);
    return { pool, server };
  };
  let props = await fetchProps();
  const element = (error?: string) => React.createElement(StatusView, { instance: client.instance.name, ...props, error });
  const app = render(element());
  const timer = setInterval(() => {
    fetchProps().then(
      (next) => {
        props = next;
        app.rerender(element());
      },
      (err: Error) => app.rerender(element(err.message)),
    );
  }, intervalMs);
  const onKey = (data: Buffer): void => {
    if (data.toString() === 'q') app.unmount();
  };
  if (process.stdin.isTTY) {
    process.stdin.setRawMode(true);
    process.stdin.on('data', onKey);
  }
  await app.waitUntilExit();
  clearInterval(timer);
  if (process.stdin.isTTY) {
    process.stdin.off('data', onKey);
    process.stdin.setRawMode(false);
    process.stdin.pause();
  }
}

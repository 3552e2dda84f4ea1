// The turbocache end to end, with the real CLI, core and a Discourse-shaped app (forum-app: 10 ms
// of CPU per page, `public, max-age=60`, `Vary: Cookie`), and the security cases: what must
// never reach another client.

import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import type { ServerResponse } from '../../src/lib/admin-api-contract.js';
import { fixture, runFerry, startDaemon, stopCleanly, type TestInstance } from '../helpers/ferry.js';

let instance: TestInstance | undefined;

afterEach(() => {
  instance?.forceCleanup();
  instance = undefined;
});

interface Answer {
  status: number;
  body: string;
  cache: string | undefined;
  age: string | string[] | undefined;
  setCookie: string | string[] | undefined;
  headers: Record<string, string | string[] | undefined>;
}

async function get(inst: TestInstance, path: string, headers: Record<string, string> = {}, method: 'GET' | 'HEAD' | 'POST' = 'GET'): Promise<Answer> {
  const res = await request(`${inst.url}${path}`, { method, headers, ...(method === 'POST' ? { body: 'text=hi' } : {}) });
  const body = await res.body.text();
  const cache = res.headers['x-ferry-cache'];
  return { status: res.statusCode, body, cache: typeof cache === 'string' ? cache : undefined, age: res.headers.age, setCookie: res.headers['set-cookie'], headers: res.headers };
}

/** The render id the app put in a page: the same id twice means the second came from the cache. */
function renderOf(body: string): string {
  const match = /render=(\S+)/.exec(body);
  if (!match?.[1]) throw new Error(`no render id in ${JSON.stringify(body)}`);
  return match[1];
}

async function cacheStats(inst: TestInstance): Promise<ServerResponse['turbocache']> {
  const run = await runFerry(inst.registryDir, ['status', '--show=server', '--json', '--instance', inst.info.name]);
  expect(run.exitCode, run.stderr).toBe(0);
  return (JSON.parse(run.stdout) as ServerResponse).turbocache;
}

describe('the turbocache in front of a Discourse-shaped app', () => {
  it('shares one page among anonymous visitors, keeps each user their own, and a POST invalidates', async () => {
    instance = await startDaemon(fixture('forum-app'), ['--vary-turbocache-by-cookie', 'user_id', '--min-instances', '2', '--max-pool-size', '2']);

    // Anonymous visitors, each with a tracking cookie of its own: one render serves them all.
    const first = await get(instance, '/', { cookie: '_ga=visitor-0' });
    expect(first.status).toBe(200);
    expect(first.cache).toBe('miss');
    expect(first.body).toContain('for anonymous');
    const anonymous = await Promise.all(Array.from({ length: 40 }, (_, i) => get(instance!, '/', { cookie: `_ga=visitor-${i + 1}; theme=dark` })));
    for (const answer of anonymous) {
      expect(answer.status).toBe(200);
      expect(answer.cache).toBe('hit');
      expect(renderOf(answer.body)).toBe(renderOf(first.body));
      // One Age header, a whole number of seconds.
      expect(answer.age).toMatch(/^\d+$/);
    }
    // A visitor with no cookie at all is anonymous too.
    expect(renderOf((await get(instance, '/')).body)).toBe(renderOf(first.body));

    // Logged-in users: each gets a page of their own, cached for them, never someone else's.
    const user1 = await get(instance, '/', { cookie: '_ga=a; user_id=1' });
    const user2 = await get(instance, '/', { cookie: 'user_id=2; _ga=b' });
    expect(user1.cache).toBe('miss');
    expect(user2.cache).toBe('miss');
    expect(user1.body).toContain('for 1 ');
    expect(user2.body).toContain('for 2 ');
    for (let round = 0; round < 5; round++) {
      const [again1, again2, anon] = await Promise.all([
        get(instance, '/', { cookie: `user_id=1; _ga=r${round}` }),
        get(instance, '/', { cookie: `_ga=s${round}; user_id=2` }),
        get(instance, '/', { cookie: `_ga=t${round}` }),
      ]);
      expect(again1.body).toBe(user1.body);
      expect(again2.body).toBe(user2.body);
      expect(anon.body).toBe(first.body);
      expect([again1.cache, again2.cache, anon.cache]).toEqual(['hit', 'hit', 'hit']);
    }

    let stats = await cacheStats(instance);
    expect(stats.state).toBe('enabled');
    expect(stats.varyByCookie).toBe('user_id');
    expect(stats.entries).toBe(3);
    expect(stats.stores).toBe(3);
    expect(stats.hits).toBe(41 + 15);

    // User 1 comments (303 to /): every variant of / is dropped, the next pages show the comment.
    const post = await get(instance, '/comments', { cookie: 'user_id=1', 'content-type': 'application/x-www-form-urlencoded' }, 'POST');
    expect(post.status).toBe(303);
    expect(post.cache).toBe('bypass (method)');
    stats = await cacheStats(instance);
    expect(stats.entries).toBe(0);
    expect(stats.invalidations).toBe(3);
    const after1 = await get(instance, '/', { cookie: 'user_id=1' });
    const afterAnon = await get(instance, '/', { cookie: '_ga=late' });
    expect(after1.cache).toBe('miss');
    expect(after1.body).toContain('for 1 comments=1');
    expect(afterAnon.cache).toBe('miss');
    expect(afterAnon.body).toContain('for anonymous comments=1');
    expect((await get(instance, '/', { cookie: '_ga=later' })).body).toBe(afterAnon.body);

    await stopCleanly(instance);
  });

  it('renders an expired page once for 30 visitors who ask for it at the same moment (no stampede)', async () => {
    instance = await startDaemon(fixture('forum-app'), ['--vary-turbocache-by-cookie', 'user_id', '--min-instances', '2', '--max-pool-size', '2', '--envvar', 'FORUM_CPU_MS=200']);
    // The first render expires in 1 s; the next keeps 60 s, so that the 30 visitors, however
    // slowly a loaded machine sends them, all find it fresh once it is stored.
    const first = await get(instance, '/latest', { 'x-test-max-age': '1' });
    await new Promise((r) => setTimeout(r, 1_200)); // expired now
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => get(instance!, '/latest', { cookie: `_ga=${i}` })));
    expect(new Set(answers.map((a) => renderOf(a.body))).size).toBe(1);
    expect(renderOf(answers[0]?.body ?? '')).not.toBe(renderOf(first.body));
    expect(answers.filter((a) => a.cache === 'miss')).toHaveLength(1);
    const stats = await cacheStats(instance);
    expect(stats.collapsed).toBe(29);
    expect(stats.stores).toBe(2);
    await stopCleanly(instance);
  });

  it('answers HEAD from the cache without a body and honours a reload', async () => {
    instance = await startDaemon(fixture('forum-app'), ['--vary-turbocache-by-cookie', 'user_id', '--max-pool-size', '1']);
    const page = await get(instance, '/latest');
    const head = await get(instance, '/latest', {}, 'HEAD');
    expect(head.cache).toBe('hit');
    expect(head.body).toBe('');
    expect(head.headers['content-length']).toBe(String(Buffer.byteLength(page.body)));

    // A reload goes to the app (bypass) and its answer refreshes the entry for everyone.
    const reload = await get(instance, '/latest', { 'cache-control': 'no-cache' });
    expect(reload.cache).toBe('bypass (request-no-cache)');
    expect(renderOf(reload.body)).not.toBe(renderOf(page.body));
    expect(renderOf((await get(instance, '/latest')).body)).toBe(renderOf(reload.body));
    await stopCleanly(instance);
  });

  it('caches nothing and adds no header with --disable-turbocaching', async () => {
    instance = await startDaemon(fixture('forum-app'), ['--disable-turbocaching', '--max-pool-size', '1']);
    const a = await get(instance, '/public-for-all');
    const b = await get(instance, '/public-for-all');
    expect(renderOf(a.body)).not.toBe(renderOf(b.body));
    expect(a.cache).toBeUndefined();
    expect((await cacheStats(instance)).state).toBe('disabled');
    await stopCleanly(instance);
  });
});

describe('the turbocache never serves one client what was meant for another', () => {
  it('keeps answers with Set-Cookie, private, Vary: Accept-Language, or to Authorization requests, to the client that got them', async () => {
    instance = await startDaemon(fixture('forum-app'), ['--vary-turbocache-by-cookie', 'user_id', '--max-pool-size', '1']);

    // Set-Cookie: each client gets its own session cookie, never the one handed to another.
    const cookieA = await get(instance, '/set-cookie');
    const cookieB = await get(instance, '/set-cookie');
    expect(cookieA.cache).toBe('miss (set-cookie)');
    expect(cookieB.cache).toBe('miss (set-cookie)');
    expect(cookieA.setCookie).toMatch(/^session=/);
    expect(cookieB.setCookie).toMatch(/^session=/);
    expect(cookieB.setCookie).not.toBe(cookieA.setCookie);

    // private: the same user (same cookie) asking twice still goes to the app.
    const privateA = await get(instance, '/private', { cookie: 'user_id=1' });
    const privateB = await get(instance, '/private', { cookie: 'user_id=1' });
    expect(privateA.cache).toBe('miss (private)');
    expect(renderOf(privateB.body)).not.toBe(renderOf(privateA.body));

    // Vary: Accept-Language: one variant per language; a French reader never gets the English page.
    const english = await get(instance, '/by-language', { 'accept-language': 'en' });
    const french = await get(instance, '/by-language', { 'accept-language': 'fr' });
    const englishAgain = await get(instance, '/by-language', { 'accept-language': 'en' });
    const frenchAgain = await get(instance, '/by-language', { 'accept-language': 'fr' });
    expect([english.cache, french.cache, englishAgain.cache, frenchAgain.cache]).toEqual(['miss', 'miss', 'hit', 'hit']);
    expect(english.body).toContain('language en');
    expect(french.body).toContain('language fr');
    expect(englishAgain.body).toBe(english.body);
    expect(frenchAgain.body).toBe(french.body);
    // No Accept-Language at all is a variant of its own, not any language's.
    expect((await get(instance, '/by-language')).body).toContain('language none');

    // Authorization: Alice's page (max-age only, not public) goes to neither Bob nor a stranger.
    const alice = await get(instance, '/whoami', { authorization: 'Bearer alice' });
    const bob = await get(instance, '/whoami', { authorization: 'Bearer bob' });
    const stranger = await get(instance, '/whoami');
    expect(alice.cache).toBe('bypass (authorization)');
    expect(alice.body).toContain('whoami Bearer alice');
    expect(bob.body).toContain('whoami Bearer bob');
    expect(stranger.body).toContain('whoami nobody');
    expect(stranger.cache).toBe('miss');
    // The stranger's anonymous answer was stored; Alice still does not get it (she bypasses).
    const aliceAgain = await get(instance, '/whoami', { authorization: 'Bearer alice' });
    expect(aliceAgain.body).toContain('whoami Bearer alice');

    const stats = await cacheStats(instance);
    expect(stats.notStored).toMatchObject({ 'set-cookie': 2, private: 2, authorization: 3 });
    expect(stats.notStored.vary).toBeUndefined();
    expect(stats.entries).toBe(4); // three languages of /by-language and the stranger's /whoami
    await stopCleanly(instance);
  });

  it('never mixes the pages of two users, under concurrent load from both', async () => {
    instance = await startDaemon(fixture('forum-app'), ['--vary-turbocache-by-cookie', 'user_id', '--max-pool-size', '2', '--min-instances', '2']);
    const users = ['1', '2', '3', undefined];
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) => {
        const user = users[i % users.length];
        return get(instance!, '/', user === undefined ? { cookie: `_ga=${i}` } : { cookie: `_ga=${i}; user_id=${user}` }).then((a) => ({ user, a }));
      }),
    );
    for (const { user, a } of answers) {
      expect(a.status).toBe(200);
      expect(a.body).toContain(`for ${user ?? 'anonymous'} `);
    }
    await stopCleanly(instance);
  });
});

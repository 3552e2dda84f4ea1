// --max-requests with --max-requests-jitter: each process gets its own limit, chosen when it
// joins the group, so processes started together (at start, after a restart) do not all reach
// their limit, and restart, together (gunicorn's max_requests_jitter).

/** max-requests plus a whole number from 0 to jitter, uniform, both ends included (pure, given `random`); 0 stays 0 (never). */
export function maxRequestsFor(maxRequests: number, jitter: number, random: () => number = Math.random): number {
  if (maxRequests <= 0) return 0;
  return maxRequests + Math.floor(random() * (jitter + 1));
}

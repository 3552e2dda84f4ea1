// An app asks for out-of-band work (Passenger's OOB work) with a response header: a note for
// Ferry, taken out of the answer before the client gets it.

/** Removes the app's out-of-band work request headers (ours and Passenger's); true if one was there. */
export function takeOobRequest(headers: string[]): boolean {
  let found = false;
  for (let i = headers.length - 2; i >= 0; i -= 2) {
    const name = (headers[i] as string).toLowerCase();
    if (name === 'x-ferry-request-oob-work' || name === 'x-passenger-request-oob-work') {
      headers.splice(i, 2);
      found = true;
    }
  }
  return found;
}

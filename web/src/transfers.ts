// Money transfers and deposits sent from the client view, each with a fresh uuid, and the outcome
// of each one: pending, completed, failed with the server's reason, or never received by the bank.
//
// When the mutation answers `timed out after 2000 ms`, or the request fails on its way (the server
// may or may not have read it), the state is asked with `transfer(uuid)` until it is final. While
// the server cannot be reached the asking goes on (slower), so the notice changes once it is back.
// A transfer the bank does not know, asked several times over a few seconds with the server
// answering, was never received: the notice says so plainly, nothing was debited, and it may be
// sent again.
import { useEffect, useState } from 'preact/hooks';
import { ApiError, request } from './api';
import { formatCents } from './money';
import { DEPOSIT, type MoneyTransferResult, TRANSFER, TRANSFER_STATUS, type TransferState } from './queries';
import type { Login } from './store';
import { newUuid } from './uuid';

export const TIMED_OUT = 'timed out after 2000 ms';
/** How many notices are kept: all pending ones, then the newest final ones up to this number. */
const KEEP = 3;
/** "Never received" needs this many unknown answers in a row, spanning at least UNKNOWN_SPAN_MS. */
const UNKNOWN_ANSWERS = 3;
const UNKNOWN_SPAN_MS = 4000;
/** After a timeout the bank did receive the command; unknown for this long means it was lost. */
const UNKNOWN_AFTER_TIMEOUT_MS = 120_000;

export type OutcomeState = 'pending' | 'completed' | 'failed' | 'not-received';

export interface Outcome {
  uuid: string;
  kind: 'deposit' | 'transfer';
  cents: number;
  to: string;
  state: OutcomeState;
  reason: string | null;
  /** A note while pending, e.g. that the server is still working on it. */
  note: string | null;
}

let outcomes: Outcome[] = [];
const listeners = new Set<() => void>();
let generation = 0;

function changed(): void {
  for (const l of listeners) l();
}

function set(uuid: string, change: Partial<Outcome>): void {
  outcomes = outcomes.map((o) => (o.uuid === uuid ? { ...o, ...change } : o));
  changed();
}

function add(o: Outcome): void {
  const all = [o, ...outcomes];
  const pending = all.filter((x) => x.state === 'pending').length;
  let finals = Math.max(0, KEEP - pending);
  outcomes = all.filter((x) => x.state === 'pending' || finals-- > 0);
  changed();
}

/** Removes one notice (the dismiss button); a transfer still pending keeps being followed silently. */
export function dismissOutcome(uuid: string): void {
  outcomes = outcomes.filter((o) => o.uuid !== uuid);
  changed();
}

/** Forgets every outcome (on logout); polls still running stop updating. */
export function clearOutcomes(): void {
  generation += 1;
  outcomes = [];
  changed();
}

/** The recent outcomes, newest first (for tests and non-component code). */
export function getOutcomes(): Outcome[] {
  return outcomes;
}

/** A hook returning the recent outcomes, newest first. */
export function useOutcomes(): Outcome[] {
  const [, setTick] = useState(0);
  useEffect(() => {
    const l = (): void => setTick((t) => t + 1);
    listeners.add(l);
    return () => {
      listeners.delete(l);
    };
  }, []);
  return outcomes;
}

/** A one-line description of an outcome for the user, including the reason of a failure. */
export function describe(o: Outcome): string {
  const what = o.kind === 'deposit' ? `Deposit of ${formatCents(o.cents)}` : `Transfer of ${formatCents(o.cents)} to ${o.to}`;
  if (o.state === 'completed') return `${what} completed.`;
  if (o.state === 'failed') return `${what} failed: ${o.reason ?? 'no reason given'}`;
  if (o.state === 'not-received') return `${what} never reached the bank: nothing was done, you can send it again.`;
  return `${what} is pending${o.note ? ` (${o.note})` : ''}…`;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The pause before asking again: every second at first, then every 3 s, then every 10 s. */
function pause(attempt: number): number {
  return attempt < 10 ? 1000 : attempt < 40 ? 3000 : 10_000;
}

/**
 * Asks `transfer(uuid)` until the transfer is final. `received` says whether the bank surely read
 * the command (it answered "timed out"); if not, a run of unknown answers means it never did.
 */
async function follow(uuid: string, gen: number, received: boolean, token: string): Promise<void> {
  const since = Date.now();
  let unknownSince: number | null = null;
  let unknownCount = 0;
  for (let attempt = 0; gen === generation; attempt++) {
    await sleep(pause(attempt));
    if (gen !== generation) return;
    try {
      const d = await request<{ transfer: { state: TransferState; reason: string | null } | null }>(TRANSFER_STATUS, { uuid, token });
      const s = d.transfer?.state;
      if (s === 'COMPLETED') return set(uuid, { state: 'completed', note: null });
      if (s === 'FAILED') return set(uuid, { state: 'failed', reason: d.transfer?.reason ?? null, note: null });
      if (d.transfer) {
        unknownSince = null;
        unknownCount = 0;
        set(uuid, { note: 'the bank is still processing it' });
        continue;
      }
      const now = Date.now();
      unknownSince ??= now;
      unknownCount += 1;
      const never = received
        ? now - since >= UNKNOWN_AFTER_TIMEOUT_MS
        : unknownCount >= UNKNOWN_ANSWERS && now - unknownSince >= UNKNOWN_SPAN_MS;
      if (never) return set(uuid, { state: 'not-received', note: null });
      set(uuid, { note: received ? 'not known to the bank yet' : 'checking whether the bank received it' });
    } catch (e) {
      // The server is away: an unknown answer only counts while it is reachable.
      unknownSince = null;
      unknownCount = 0;
      set(uuid, { note: `cannot reach the bank to check (${(e as Error).message}); checking again` });
    }
  }
}

async function run(o: Outcome, query: string, variables: Record<string, unknown>): Promise<void> {
  const gen = generation;
  add(o);
  try {
    const d = await request<{ money_transfer: MoneyTransferResult | null }>(query, variables);
    if (gen !== generation) return;
    const r = d.money_transfer;
    if (!r) return set(o.uuid, { state: 'failed', reason: 'the server rejected the request' });
    if (r.success) return set(o.uuid, { state: 'completed' });
    if (r.reason === TIMED_OUT) {
      set(o.uuid, { note: TIMED_OUT });
      return follow(o.uuid, gen, true, String(variables.token));
    }
    set(o.uuid, { state: 'failed', reason: r.reason });
  } catch (e) {
    if (gen !== generation) return;
    if (e instanceof ApiError && !e.transport) return set(o.uuid, { state: 'failed', reason: e.message });
    // The request may or may not have reached the bank: ask it by uuid.
    set(o.uuid, { note: `${(e as Error).message}; checking whether the bank received it` });
    return follow(o.uuid, gen, false, String(variables.token));
  }
}

/** Deposits `cents` from cash into the logged-in account (spec 7.5, operation 5), with a new uuid. */
export function deposit(login: Login, cents: number): Promise<void> {
  const uuid = newUuid();
  return run(
    { uuid, kind: 'deposit', cents, to: login.iban, state: 'pending', reason: null, note: null },
    DEPOSIT,
    { amount: cents, uuid, username: login.username, iban: login.iban, token: login.token },
  );
}

/**
 * Transfers `cents` from the logged-in account to `to` (spec 7.7, operation 6), with a new uuid.
 * Returns the uuid at once (to follow the outcome) and the promise of the whole exchange.
 */
export function transfer(login: Login, cents: number, to: string, descr: string): { uuid: string; done: Promise<void> } {
  const uuid = newUuid();
  const done = run(
    { uuid, kind: 'transfer', cents, to, state: 'pending', reason: null, note: null },
    TRANSFER,
    { amount: cents, uuid, username: login.username, to, token: login.token, from: login.iban, descr },
  );
  return { uuid, done };
}

// The outcome logic of transfers and deposits, with the HTTP transport replaced by a script of
// answers (the server itself is covered by tests/e2e/web.test.js).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

const calls: { query: string; variables: Record<string, unknown> }[] = [];
let answers: (() => unknown)[] = [];

vi.mock('./api', () => {
  class ApiError extends Error {
    constructor(
      message: string,
      readonly transport: boolean,
    ) {
      super(message);
    }
  }
  return {
    ApiError,
    request: vi.fn(async (query: string, variables: Record<string, unknown>) => {
      calls.push({ query, variables });
      const next = answers.shift();
      if (!next) throw new Error('no scripted answer left');
      return next();
    }),
  };
});

const { clearOutcomes, deposit, describe: describeOutcome, dismissOutcome, transfer } = await import('./transfers');
const { ApiError } = await import('./api');
const { getOutcomes } = await import('./transfers');

const login = { username: 'alice-123', iban: 'NL66OPEN0000000000', token: '01234567890123456789', accounts: [] };
const result = (success: boolean, reason: string | null) => () => ({ money_transfer: { uuid: 'x', success, reason } });
const status = (state: string, reason: string | null = null) => () => ({ transfer: { state, reason } });

beforeEach(() => {
  vi.stubGlobal('window', { isSecureContext: true });
  vi.useFakeTimers();
  calls.length = 0;
  answers = [];
  clearOutcomes();
});

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe('transfers', () => {
  it('uses a fresh uuid for every submission and sends exact cents', async () => {
    answers = [result(true, null), result(true, null), result(true, null)];
    await deposit(login, 1000);
    await deposit(login, 1000);
    await transfer(login, 1234, 'NL61OPEN0305797828', 'rent').done;
    const uuids = calls.map((c) => c.variables.uuid);
    expect(new Set(uuids).size).toBe(3);
    for (const u of uuids) expect(u).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(calls[0]?.variables).toMatchObject({ amount: 1000, iban: login.iban, username: login.username, token: login.token });
    expect(calls[2]?.variables).toMatchObject({ amount: 1234, from: login.iban, to: 'NL61OPEN0305797828', descr: 'rent', token: login.token });
    expect(getOutcomes().map((o) => o.state)).toEqual(['completed', 'completed', 'completed']);
    expect(describeOutcome(getOutcomes()[0]!)).toBe('Transfer of €12,34 to NL61OPEN0305797828 completed.');
  });

  it('shows the failure reason', async () => {
    answers = [result(false, 'insufficient funds would be below the limit of €-500,00')];
    await transfer(login, 100000, 'NL61OPEN0305797828', 'too much').done;
    const o = getOutcomes()[0]!;
    expect(o.state).toBe('failed');
    expect(describeOutcome(o)).toBe(
      'Transfer of €1.000,00 to NL61OPEN0305797828 failed: insufficient funds would be below the limit of €-500,00',
    );
  });

  it('polls transfer(uuid) after a timeout until the transfer ends', async () => {
    answers = [result(false, 'timed out after 2000 ms'), () => ({ transfer: null }), status('STARTED'), status('COMPLETED')];
    const { done } = transfer(login, 500, 'NL61OPEN0305797828', 'slow');
    await vi.advanceTimersByTimeAsync(0);
    expect(getOutcomes()[0]).toMatchObject({ state: 'pending', note: 'timed out after 2000 ms' });
    await vi.advanceTimersByTimeAsync(1000);
    expect(getOutcomes()[0]?.note).toBe('not known to the bank yet');
    await vi.advanceTimersByTimeAsync(1000);
    expect(getOutcomes()[0]?.note).toBe('the bank is still processing it');
    await vi.advanceTimersByTimeAsync(1000);
    await done;
    expect(getOutcomes()[0]?.state).toBe('completed');
    expect(calls.slice(1).every((c) => c.variables.uuid === calls[0]?.variables.uuid)).toBe(true);
  });

  it('asks the bank after a transport failure, and reports a failed saga', async () => {
    answers = [
      () => {
        throw new ApiError('Could not reach the server', true);
      },
      status('FAILED', 'iban not known'),
    ];
    const done = deposit(login, 2000);
    await vi.advanceTimersByTimeAsync(1000);
    await done;
    expect(getOutcomes()[0]).toMatchObject({ state: 'failed', reason: 'iban not known' });
  });

  it('reports a GraphQL error at once, without polling', async () => {
    answers = [
      () => {
        throw new ApiError('Variable "$amount" got invalid value', false);
      },
    ];
    await deposit(login, 2000);
    expect(getOutcomes()[0]).toMatchObject({ state: 'failed', reason: 'Variable "$amount" got invalid value' });
    expect(calls).toHaveLength(1);
  });

  it('stops polling after logout', async () => {
    answers = [result(false, 'timed out after 2000 ms'), status('STARTED')];
    const { done } = transfer(login, 500, 'NL61OPEN0305797828', 'slow');
    await vi.advanceTimersByTimeAsync(1000);
    clearOutcomes();
    await vi.advanceTimersByTimeAsync(5000);
    await done;
    expect(getOutcomes()).toEqual([]);
    expect(calls).toHaveLength(2);
  });

  it('says plainly that a transfer never reached the bank when the bank does not know it', async () => {
    const unreachable = () => {
      throw new ApiError('Could not reach the server', true);
    };
    const unknown = () => ({ transfer: null });
    // The request fails in transit; the server is away for two checks, then answers "unknown".
    answers = [unreachable, unreachable, unreachable, unknown, unknown, unknown, unknown, unknown, unknown];
    const { uuid, done } = transfer(login, 1234, 'NL61OPEN0305797828', 'rent');
    await vi.advanceTimersByTimeAsync(0);
    expect(getOutcomes()[0]).toMatchObject({ uuid, state: 'pending' });
    await vi.advanceTimersByTimeAsync(2000);
    expect(getOutcomes()[0]?.note).toMatch(/cannot reach the bank/);
    await vi.advanceTimersByTimeAsync(1000);
    expect(getOutcomes()[0]).toMatchObject({ state: 'pending', note: 'checking whether the bank received it' });
    // Three unknown answers spanning 4 s while the server answers: never received.
    await vi.advanceTimersByTimeAsync(5000);
    await done;
    const o = getOutcomes()[0]!;
    expect(o.state).toBe('not-received');
    expect(describeOutcome(o)).toBe('Transfer of €12,34 to NL61OPEN0305797828 never reached the bank: nothing was done, you can send it again.');
    expect(calls.every((c) => c.variables.uuid === uuid)).toBe(true);
  });

  it('keeps asking after a timeout while the bank does not know the transfer yet', async () => {
    answers = [result(false, 'timed out after 2000 ms'), ...Array.from({ length: 12 }, () => () => ({ transfer: null })), status('COMPLETED')];
    const { done } = transfer(login, 500, 'NL61OPEN0305797828', 'slow');
    await vi.advanceTimersByTimeAsync(10 * 1000 + 2 * 3000 + 10);
    expect(getOutcomes()[0]).toMatchObject({ state: 'pending', note: 'not known to the bank yet' });
    await vi.advanceTimersByTimeAsync(3000);
    await done;
    expect(getOutcomes()[0]?.state).toBe('completed');
  });

  it('keeps at most 3 notices (pending ones always), and each can be dismissed', async () => {
    answers = Array.from({ length: 5 }, () => result(true, null));
    for (let i = 0; i < 5; i++) await deposit(login, 1000 + i);
    expect(getOutcomes().map((o) => o.cents)).toEqual([1004, 1003, 1002]);
    dismissOutcome(getOutcomes()[1]!.uuid);
    expect(getOutcomes().map((o) => o.cents)).toEqual([1004, 1002]);
  });
});
